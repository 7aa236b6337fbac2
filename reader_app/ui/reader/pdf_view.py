"""The PDF view: continuous scrolling, zoom, lazy background rendering, selection, find.

``PdfView`` paints pages itself (a ``QAbstractScrollArea``).  Pages are rendered by
``reader_app.pdf.render`` in a helper process (PyMuPDF holds the GIL while it decodes
images; a MuPDF crash cannot take the window down), requested from one background
thread, only those visible (plus one ahead), at zoom × devicePixelRatio so text stays
sharp on HiDPI screens; results are cached as ``QImage`` (``render_cache.RenderCache``).
While a page renders, a scaled older rendering or a white sheet stands in.
``READER_APP_RENDER_INPROCESS=1`` renders in-process instead (banded, so the GIL is
released between bands).  A long document opens with only its first pages measured (the
rest assumed alike); every page's size is fetched once the first page shows, so a
2,000-page book shows its first page as soon as a short paper does.

Public API (used by the main window and the side panel wiring):

- ``open(path, password=None, page=None, y=None, zoom=None)`` - asynchronous; emits
  ``documentLoaded(int pages)`` then ``firstPageShown()`` the first time a page is drawn
  sharp; ``loadFailed(object exc)`` on error (PasswordError for encrypted files).
- ``go_to(page, y=None)``, ``show_paragraph(page, bbox)`` (scrolls there and draws a
  highlight; bbox = (x0, y0, x1, y1) PDF points, page 1-based), ``current_page()``,
  ``position() -> (page, y, zoom)``.
- ``set_fit("width" | "page" | None)``, ``set_zoom(z)``, ``zoom_in()``, ``zoom_out()``.
- ``find(query)``, ``find_next()``, ``find_prev()``, ``clear_find()``;
  ``findResults(int current, int total)`` (current is 1-based, 0 = none).
- ``selected_text()``, ``selected_lines()`` (page, text, line boxes), ``clear_selection()``,
  ``copy()``; ``selectionChanged(str text, int page)``.
- ``set_highlights(list[Highlight])`` draws kept highlights; ``highlight_under(pos)``.
- ``pageChanged(int)``, ``zoomChanged(float)``.
- Geometry for its helpers and tests: ``page_sizes()``, ``page_rect(page)``,
  ``visible_pages()``, ``hit(pos)``, ``scale_key()``, ``reveal(page, box)``.

The view is composed of helpers that own their state and use only its public members:
``loader`` (``document_loader.DocumentLoader``: open, measure, close), ``pages``
(``page_layout.PageLayout``: sizes, zoom, geometry, the current page), ``renders``
(``render_cache.RenderCache``), ``painter`` (``page_painter.PagePainter``), ``input``
(``view_input.ViewInput``: keys, wheel, mouse), ``selection`` (``pdf_text.TextSelection``)
and ``finder`` (``pdf_text.TextFind``).  The view keeps the document, the paragraph
``highlight`` and the kept ``saved_highlights``.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import QAbstractScrollArea

from reader_app.ui.reader.document_loader import DocumentLoader
from reader_app.ui.reader.highlight_paint import highlight_at
from reader_app.ui.reader.page_layout import PageLayout
from reader_app.ui.reader.page_painter import PagePainter
from reader_app.ui.reader.pdf_text import TextFind, TextSelection
from reader_app.ui.reader.render_cache import RenderCache, render_pool
from reader_app.ui.reader.view_input import ViewInput


class PdfView(QAbstractScrollArea):
    documentLoaded = Signal(int)
    loadFailed = Signal(object)
    firstPageShown = Signal()
    pageChanged = Signal(int)
    zoomChanged = Signal(float)
    selectionChanged = Signal(str, int)
    findResults = Signal(int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setCursor(Qt.CursorShape.IBeamCursor)
        pool = render_pool()  # one thread: opening, rendering, finding
        self.doc = None
        self.path = ""
        self.loader = DocumentLoader(self, pool)  # opens, measures and closes documents
        self.loader.opened.connect(self._set_doc)
        self.loader.failed.connect(self.loadFailed)
        self.loader.measured.connect(self._measured)
        self.pages = PageLayout(self)  # page sizes, zoom, geometry, the current page
        self.pages.zoomChanged.connect(self.zoomChanged)
        self.pages.pageChanged.connect(self.pageChanged)
        self.renders = RenderCache(self, pool)  # page images
        self.painter = PagePainter(self)  # pages and overlays
        self.input = ViewInput(self)  # keys, wheel, mouse
        self.selection = TextSelection(self)  # the selected words
        self.selection.changed.connect(self.selectionChanged)
        self.finder = TextFind(self, pool)  # find in the document
        self.finder.results.connect(self.findResults)
        self._open_at: tuple = (None, None, None)  # page, y, zoom for the document opening
        self._first_shown = False
        self._pending_target: tuple | None = None
        self.highlight: tuple[int, tuple] | None = None  # (page, bbox) of show_paragraph
        self.saved_highlights: list = []  # the paper's kept highlights (core.model.Highlight)

    # ---- document (DocumentLoader) -----------------------------------------------------
    def open(self, path: str, password: str | None = None, page: int | None = None,
             y: float | None = None, zoom: float | None = None) -> None:
        self.close_document()
        self.path = path
        self._open_at = (page, y, zoom)
        self.loader.open(path, password)

    def warm_up(self) -> None:
        """Start the render helper process (it imports PyMuPDF, ~2 s) before it is needed."""
        self.loader.warm_up()

    def _set_doc(self, doc) -> None:
        page, y, zoom = self._open_at
        self.doc = doc
        self.pages.start(doc.page_sizes(), zoom)  # of a long document, partly estimated: see _measured
        self.documentLoaded.emit(self.page_count())
        target, self._pending_target = self._pending_target, None
        if target is not None:
            self.show_paragraph(*target)
        else:
            self.go_to(page or 1, y)
        self.pages.announce_page()
        self.viewport().update()
        query = self.finder.take_pending()
        if query:
            self.find(query)

    def _measured(self, doc, sizes) -> None:
        """Every page measured: re-lay out, keeping the reading position, when they differ."""
        if self.doc is doc and list(sizes) != self.page_sizes():
            self.pages.relayout(sizes)

    def close_document(self) -> None:
        self.renders.clear()
        self.finder.clear()
        doc, self.doc = self.doc, None
        self.loader.close(doc)
        self.pages.clear()
        self._first_shown = False
        self._pending_target = None
        self.highlight = None
        self.selection.clear(notify=False)
        self.saved_highlights = []
        self.viewport().update()

    def page_count(self) -> int:
        return self.pages.page_count()

    def page_sizes(self) -> list[tuple[float, float]]:
        """(width, height) in points of each page (of a long document, partly estimated at first)."""
        return self.pages.page_sizes()

    # ---- geometry and zoom (PageLayout) ------------------------------------------------
    def zoom(self) -> float:
        return self.pages.zoom()

    def fit_mode(self) -> str | None:
        return self.pages.fit_mode()

    def page_rect(self, page: int) -> QRectF:
        return self.pages.page_rect(page)

    def visible_pages(self) -> list[int]:
        return self.pages.visible_pages()

    def current_page(self) -> int:
        return self.pages.current_page()

    def reading_point(self) -> tuple[int, float]:
        return self.pages.reading_point()

    def position(self) -> tuple[int, float, float]:
        return self.pages.position()

    def scale_key(self) -> int:
        return self.pages.scale_key()

    def hit(self, pos: QPointF) -> tuple[int, float, float] | None:
        return self.pages.hit(pos)

    def reveal(self, page: int, box) -> None:
        self.pages.reveal(page, box)

    def set_fit(self, mode: str | None) -> None:
        self.pages.set_fit(mode)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        self.pages.set_zoom(zoom, anchor)

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * 1.2)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / 1.2)

    # ---- moving around -----------------------------------------------------------------
    def go_to(self, page: int, y: float | None = None) -> None:
        self.pages.go_to(page, y)

    def next_page(self) -> None:
        self.go_to(self.current_page() + 1)

    def prev_page(self) -> None:
        self.go_to(self.current_page() - 1)

    def show_paragraph(self, page: int, bbox) -> None:
        """Scroll so ``bbox`` on ``page`` is in view (a quarter down) and highlight it."""
        if not self.pages.is_laid_out():
            self._pending_target = (page, bbox)
            return
        page = self.pages.clamp_page(page)
        bbox = tuple(float(v) for v in bbox) if bbox else (0.0, 0.0, 0.0, 0.0)
        self.highlight = (page, bbox) if bbox[2] > bbox[0] and bbox[3] > bbox[1] else None
        if self.highlight:
            self.pages.show_box(page, bbox)
        else:
            self.go_to(page)

    # ---- events (ViewInput, PagePainter) -----------------------------------------------
    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self.pages.resized()

    def wheelEvent(self, event):  # noqa: N802
        if not self.input.wheel(event):
            super().wheelEvent(event)

    def keyPressEvent(self, event):  # noqa: N802
        if not self.input.key(event):
            super().keyPressEvent(event)

    def mousePressEvent(self, event):  # noqa: N802
        self.input.press(event)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):  # noqa: N802
        self.input.move(event)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):  # noqa: N802
        self.input.release(event)
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event):  # noqa: N802
        self.input.double_click(event)

    def paintEvent(self, event):  # noqa: N802
        if self.painter.paint() and not self._first_shown:  # a page drawn sharp
            self._first_shown = True
            QTimer.singleShot(0, self.firstPageShown.emit)
            QTimer.singleShot(0, self, lambda: self.loader.measure(self.doc))

    # ---- selection (TextSelection) ---------------------------------------------------
    def select_words(self, page: int, first: int, last: int, last_page: int | None = None) -> None:
        """Select from word ``first`` of ``page`` to word ``last`` of ``last_page`` (default: same page)."""
        self.selection.select_words(page, first, last, last_page)

    def selected_lines(self) -> list[tuple[int, str, list[tuple[float, float, float, float]]]]:
        """The selection per page: (page, its text, one box per line), for highlighting."""
        return self.selection.lines()

    def selected_text(self) -> str:
        return self.selection.text()

    def clear_selection(self) -> None:
        self.selection.clear()

    def copy(self) -> bool:
        """Put the selected text on the clipboard; False when nothing is selected."""
        return self.selection.copy()

    # ---- find (TextFind) ---------------------------------------------------------------
    def find(self, query: str) -> None:
        self.finder.find(query)

    def find_next(self) -> None:
        self.finder.next()

    def find_prev(self) -> None:
        self.finder.prev()

    def clear_find(self) -> None:
        self.finder.clear()

    @property
    def find_hits(self) -> list[tuple[int, tuple]]:
        """The matches of the last find: (page, box in points)."""
        return self.finder.hits

    @property
    def find_index(self) -> int:
        """The current match in ``find_hits`` (-1: none)."""
        return self.finder.index

    # ---- kept highlights (drawn by PagePainter) ------------------------------------------
    def set_highlights(self, highlights) -> None:
        """Draw these kept highlights (``core.model.Highlight``) on their pages."""
        self.saved_highlights = list(highlights or [])
        self.viewport().update()

    def highlight_under(self, pos: QPointF):
        """The kept highlight under a viewport position, or None."""
        hit = self.hit(pos)
        return highlight_at(self.saved_highlights, *hit) if hit else None
