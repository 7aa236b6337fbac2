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

The view is composed of helpers that own their state (and use only the public members
above): ``renders`` (``render_cache.RenderCache``: page images and render requests),
``selection`` (``pdf_text.TextSelection``) and ``finder`` (``pdf_text.TextFind``).
"""

from __future__ import annotations

import gc
import os
from bisect import bisect_right

from PySide6.QtCore import QPointF, QRectF, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QAbstractScrollArea

from reader_app.ui.reader.highlight_paint import paint_highlights, highlight_at
from reader_app.ui.background.ops import run_op
from reader_app.ui.reader.pdf_text import TextFind, TextSelection
from reader_app.ui.reader.render_cache import RenderCache

GAP = 10  # logical pixels between pages and around them
MIN_ZOOM, MAX_ZOOM = 0.25, 6.0


def _render_pool() -> QThreadPool:
    pool = QThreadPool()
    pool.setMaxThreadCount(1)  # PyMuPDF holds the GIL: one renderer is plenty
    pool.setExpiryTimeout(-1)
    return pool


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
        self._pool = _render_pool()
        self.doc = None
        self.path = ""
        self._sizes: list[tuple[float, float]] = []
        self._max_w = 0.0
        self._tops: list[float] = []
        self._zoom = 1.0
        self._fit: str | None = "width"
        self.renders = RenderCache(self, self._pool)  # page images
        self.selection = TextSelection(self)  # the selected words
        self.selection.changed.connect(self.selectionChanged)
        self.finder = TextFind(self, self._pool)  # find in the document
        self.finder.results.connect(self.findResults)
        self._generation = 0
        self._first_shown = False
        self._page = 0
        self._pending_target: tuple | None = None
        self.highlight: tuple[int, tuple] | None = None  # (page, bbox) of show_paragraph
        self.saved_highlights: list = []  # the paper's kept highlights (core.model.Highlight)
        self._resize_timer = QTimer(self, singleShot=True, interval=60, timeout=self._refit)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.horizontalScrollBar().valueChanged.connect(lambda _v: self.viewport().update())

    # ---- document --------------------------------------------------------------------
    def open(self, path: str, password: str | None = None, page: int | None = None,
             y: float | None = None, zoom: float | None = None) -> None:
        self.close_document()
        self.path = path
        gen = self._generation

        def done(doc):
            if gen != self._generation:
                doc.close()
                return
            self._set_doc(doc, page, y, zoom)

        def failed(exc):
            if gen == self._generation:
                self.loadFailed.emit(exc)

        def work():
            from reader_app.pdf import render  # deferred: imports pymupdf, kept off the GUI thread

            if os.environ.get("READER_APP_RENDER_INPROCESS"):
                return render.open_document(path, password)
            return render.open_document_isolated(path, password)

        run_op(self, work, on_success=done, on_failure=failed, pool=self._pool)

    def warm_up(self) -> None:
        """Start the render helper process (it imports PyMuPDF, ~2 s) before it is needed."""

        def work():
            from reader_app.pdf import render  # deferred: imports pymupdf, kept off the GUI thread

            if not os.environ.get("READER_APP_RENDER_INPROCESS"):
                render.start_helper()

        def done(_result):
            gc.freeze()  # the big import is over: keep its objects out of later (GIL-holding) GC passes

        run_op(None, work, on_success=done, pool=self._pool)

    def _set_sizes(self, sizes) -> None:
        self._sizes = list(sizes)
        self._max_w = max((w for w, _h in self._sizes), default=0.0)

    def _set_doc(self, doc, page, y, zoom) -> None:
        self.doc = doc
        self._set_sizes(doc.page_sizes())  # of a long document, partly estimated: see _fetch_sizes
        if zoom:
            self._fit, self._zoom = None, max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        self._layout()
        self.documentLoaded.emit(len(self._sizes))
        target, self._pending_target = self._pending_target, None
        if target is not None:
            self.show_paragraph(*target)
        else:
            self.go_to(page or 1, y)
        self._emit_page()
        self.viewport().update()
        query = self.finder.take_pending()
        if query:
            self.find(query)

    def close_document(self) -> None:
        self._generation += 1
        self.renders.clear()
        self.finder.clear()
        doc, self.doc = self.doc, None
        if doc is not None:
            run_op(None, doc.close, pool=self._pool)
        self._set_sizes([])
        self._tops = []
        self._first_shown = False
        self._page = 0
        self._pending_target = None
        self.highlight = None
        self.selection.clear(notify=False)
        self.saved_highlights = []
        self.viewport().update()

    def page_count(self) -> int:
        return len(self._sizes)

    def page_sizes(self) -> list[tuple[float, float]]:
        """(width, height) in points of each page (of a long document, partly estimated at first)."""
        return list(self._sizes)

    # ---- geometry --------------------------------------------------------------------
    def zoom(self) -> float:
        return self._zoom

    def fit_mode(self) -> str | None:
        return self._fit

    def _fit_zoom(self) -> float:
        if not self._sizes:
            return self._zoom
        vw = max(50, self.viewport().width() - 2 * GAP)
        vh = max(50, self.viewport().height() - 2 * GAP)
        w = self._max_w
        if self._fit == "width":
            return vw / w
        h = max(s[1] for s in self._sizes[:1] or self._sizes)
        return min(vw / w, vh / h)

    def _layout(self) -> None:
        if self._fit:
            self._zoom = max(MIN_ZOOM, min(MAX_ZOOM, self._fit_zoom()))
        z = self._zoom
        tops, y = [], GAP
        for _w, h in self._sizes:
            tops.append(y)
            y += h * z + GAP
        self._tops = tops
        total_h = int(y)
        total_w = int(self._max_w * z + 2 * GAP)
        vs, hs = self.verticalScrollBar(), self.horizontalScrollBar()
        vs.setRange(0, max(0, total_h - self.viewport().height()))
        vs.setPageStep(max(1, int(self.viewport().height() * 0.9)))
        vs.setSingleStep(40)
        hs.setRange(0, max(0, total_w - self.viewport().width()))
        hs.setPageStep(self.viewport().width())
        hs.setSingleStep(40)

    def page_rect(self, page: int) -> QRectF:
        """Rectangle of ``page`` (1-based) in viewport coordinates."""
        w, h = self._sizes[page - 1]
        z = self._zoom
        total_w = self._max_w * z + 2 * GAP
        vw = self.viewport().width()
        x = (max(vw, total_w) - w * z) / 2 - self.horizontalScrollBar().value()
        y = self._tops[page - 1] - self.verticalScrollBar().value()
        return QRectF(x, y, w * z, h * z)

    def visible_pages(self) -> list[int]:
        if not self._tops:
            return []
        top = self.verticalScrollBar().value()
        bottom = top + self.viewport().height()
        out = []
        for i in range(max(0, bisect_right(self._tops, top) - 1), len(self._tops)):
            t = self._tops[i]
            if t > bottom:
                break
            if t + self._sizes[i][1] * self._zoom >= top:
                out.append(i + 1)
        return out

    def current_page(self) -> int:
        """The page covering the middle of the first third of the viewport."""
        if not self._tops:
            return 0
        probe = self.verticalScrollBar().value() + self.viewport().height() / 3
        return max(1, bisect_right(self._tops, probe))

    def reading_point(self) -> tuple[int, float]:
        """(page, y in points) a third down the viewport: where the reader's eyes are."""
        page = self.current_page()
        if not page:
            return (0, 0.0)
        probe = self.verticalScrollBar().value() + self.viewport().height() / 3
        return (page, max(0.0, (probe - self._tops[page - 1]) / self._zoom))

    def position(self) -> tuple[int, float, float]:
        """(page at the top of the view, y in points within it, zoom)."""
        if not self._tops:
            return (0, 0.0, self._zoom)
        top = self.verticalScrollBar().value()
        page = max(1, bisect_right(self._tops, top + GAP))
        y = (top - self._tops[page - 1]) / self._zoom
        return (page, max(0.0, y), self._zoom)

    def go_to(self, page: int, y: float | None = None) -> None:
        if not self._tops:
            return
        page = max(1, min(len(self._tops), int(page)))
        offset = (y * self._zoom) if y is not None else -GAP / 2
        self.verticalScrollBar().setValue(int(self._tops[page - 1] + offset))
        self._emit_page()
        self.viewport().update()

    def next_page(self) -> None:
        self.go_to(self.current_page() + 1)

    def prev_page(self) -> None:
        self.go_to(self.current_page() - 1)

    def show_paragraph(self, page: int, bbox) -> None:
        """Scroll so ``bbox`` on ``page`` is in view (a quarter down) and highlight it."""
        if not self._tops:
            self._pending_target = (page, bbox)
            return
        page = max(1, min(len(self._tops), int(page)))
        bbox = tuple(float(v) for v in bbox) if bbox else (0.0, 0.0, 0.0, 0.0)
        self.highlight = (page, bbox) if bbox[2] > bbox[0] and bbox[3] > bbox[1] else None
        if self.highlight:
            y = self._tops[page - 1] + bbox[1] * self._zoom - self.viewport().height() / 4
            self.verticalScrollBar().setValue(int(y))
            self._scroll_x_into_view(page, bbox)
        else:
            self.go_to(page)
        self._emit_page()
        self.viewport().update()

    def reveal(self, page: int, box) -> None:
        """Scroll so ``box`` (points) on ``page`` is in view, a third down when it was not."""
        r = self.page_rect(page)
        top = r.y() + box[1] * self._zoom
        if top < 0 or top > self.viewport().height() - 40:
            vs = self.verticalScrollBar()
            vs.setValue(int(vs.value() + top - self.viewport().height() / 3))
        self._scroll_x_into_view(page, box)

    def scale_key(self) -> int:
        """Pixels per point × 1000 (an int, to key the page images)."""
        return int(round(self._zoom * self.devicePixelRatioF() * 1000))

    def hit(self, pos: QPointF) -> tuple[int, float, float] | None:
        """(page, x, y) in points under a viewport position, or None."""
        for page in self.visible_pages():
            r = self.page_rect(page)
            if r.contains(pos):
                return page, (pos.x() - r.x()) / self._zoom, (pos.y() - r.y()) / self._zoom
        return None

    def _scroll_x_into_view(self, page: int, bbox) -> None:
        r = self.page_rect(page)
        x0, x1 = r.x() + bbox[0] * self._zoom, r.x() + bbox[2] * self._zoom
        hs = self.horizontalScrollBar()
        if x0 < 0 or x1 > self.viewport().width():
            hs.setValue(int(hs.value() + x0 - GAP))

    # ---- zoom ------------------------------------------------------------------------
    def set_fit(self, mode: str | None) -> None:
        self._fit = mode
        self._rezoom(self._fit_zoom() if mode else self._zoom)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        self._fit = None
        self._rezoom(zoom, anchor)

    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * 1.2)

    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / 1.2)

    def _rezoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        if not self._sizes:
            self._zoom = zoom
            return
        if anchor is None:
            anchor = QPointF(self.viewport().width() / 2, self.viewport().height() / 3)
        # keep the document point under the anchor where it is
        old = self._zoom
        doc_y = (self.verticalScrollBar().value() + anchor.y()) / old
        doc_x = (self.horizontalScrollBar().value() + anchor.x()) / old
        self._zoom = zoom
        self._layout()
        self._zoom = zoom if not self._fit else self._zoom
        self.verticalScrollBar().setValue(int(doc_y * self._zoom - anchor.y()))
        self.horizontalScrollBar().setValue(int(doc_x * self._zoom - anchor.x()))
        self.zoomChanged.emit(self._zoom)
        self.viewport().update()

    def _refit(self) -> None:
        if self._fit and self._sizes:
            page, y, _z = self.position()
            self._layout()
            self.go_to(page, y)
            self.zoomChanged.emit(self._zoom)
        elif self._sizes:
            self._layout()
        self.viewport().update()

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        if self._sizes and not self._tops:
            self._layout()
        self._resize_timer.start()

    def wheelEvent(self, event):  # noqa: N802
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            if steps:
                self.set_zoom(self._zoom * (1.1 ** steps), event.position())
            event.accept()
            return
        super().wheelEvent(event)

    def keyPressEvent(self, event):  # noqa: N802
        key = event.key()
        vs = self.verticalScrollBar()
        if key in (Qt.Key.Key_PageDown, Qt.Key.Key_Space) and not event.modifiers():
            vs.setValue(vs.value() + vs.pageStep())
        elif key == Qt.Key.Key_PageUp:
            vs.setValue(vs.value() - vs.pageStep())
        elif key == Qt.Key.Key_Home:
            vs.setValue(0)
        elif key == Qt.Key.Key_End:
            vs.setValue(vs.maximum())
        else:
            super().keyPressEvent(event)

    # ---- the mouse: selection (TextSelection) ----------------------------------------------
    def mousePressEvent(self, event):  # noqa: N802
        self.setFocus()
        if event.button() == Qt.MouseButton.LeftButton and self.doc is not None:
            had = not self.selection.is_empty() or self.highlight is not None
            self.highlight = None
            self.selection.start_drag(event.position())
            if had:
                self.viewport().update()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.selection.drag_to(event.position())
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):  # noqa: N802
        self.selection.end_drag()
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event):  # noqa: N802
        self.selection.select_word_at(event.position())

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

    # ---- find (TextFind) -------------------------------------------------------------------
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

    # ---- rendering (requests and cache: RenderCache) -------------------------------------
    def paintEvent(self, event):  # noqa: N802
        painter = QPainter(self.viewport())
        pal = self.palette()
        painter.fillRect(self.viewport().rect(), pal.color(QPalette.ColorRole.Mid).darker(110)
                         if pal.color(QPalette.ColorRole.Window).lightness() > 128
                         else pal.color(QPalette.ColorRole.Window).darker(130))
        if not self._sizes:
            painter.setPen(pal.color(QPalette.ColorRole.WindowText))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                             "Loading…" if self.path else "Open a PDF (Ctrl+O) or pick a paper from the library")
            painter.end()
            return
        key = self.scale_key()
        visible = self.visible_pages()
        wanted = set()
        sharp = False
        for page in visible:
            rect = self.page_rect(page)
            painter.fillRect(rect.adjusted(1, 2, 2, 3), QColor(0, 0, 0, 60))  # shadow
            img = self.renders.image(page, key)
            if img is not None:
                painter.drawImage(rect, img)
                sharp = True
            else:
                painter.fillRect(rect, Qt.GlobalColor.white)
                stand_in = self.renders.any_image(page)
                if stand_in is not None:
                    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                    painter.drawImage(rect, stand_in)
                self.renders.request(page, key)
            wanted.add((page, key))
            self._paint_overlays(painter, page, rect)
        if visible:  # one page ahead
            nxt = visible[-1] + 1
            if nxt <= len(self._sizes):
                self.renders.request(nxt, key)
                wanted.add((nxt, key))
        self.renders.cancel_except(wanted)
        painter.end()
        if sharp and not self._first_shown:
            self._first_shown = True
            QTimer.singleShot(0, self.firstPageShown.emit)
            QTimer.singleShot(0, self, self._fetch_sizes)

    def _fetch_sizes(self) -> None:
        """Measure every page (a long document opens with most sizes estimated); re-lay
        out, keeping the reading position, when they differ from the estimate."""
        doc, gen = self.doc, self._generation
        if doc is None:
            return

        def done(sizes):
            if gen != self._generation or self.doc is not doc or list(sizes) == self._sizes:
                return
            page, y, _z = self.position()
            self._set_sizes(sizes)
            self._layout()
            self.go_to(page, y)
            self.zoomChanged.emit(self._zoom)

        run_op(self, lambda: doc.page_sizes(exact=True), on_success=done, on_failure=lambda _exc: None,
               pool=self._pool)  # a dead helper: the estimate stays; the next page render reports it

    def _paint_overlays(self, painter: QPainter, page: int, rect: QRectF) -> None:
        z = self._zoom
        if self.saved_highlights:
            paint_highlights(painter, self.saved_highlights, page, rect, z)

        def box(b) -> QRectF:
            return QRectF(rect.x() + b[0] * z, rect.y() + b[1] * z, (b[2] - b[0]) * z, (b[3] - b[1]) * z)

        for i, (p, b) in enumerate(self.finder.hits):
            if p == page:
                color = QColor(255, 140, 0, 130) if i == self.finder.index else QColor(255, 230, 0, 110)
                painter.fillRect(box(b), color)
        selected = self.selection.words_on(page)
        if selected:
            color = QColor(self.palette().color(QPalette.ColorRole.Highlight))
            color.setAlpha(90)
            for w in selected:
                painter.fillRect(box((w.x0, w.y0, w.x1, w.y1)), color)
        if self.highlight and self.highlight[0] == page:
            r = box(self.highlight[1]).adjusted(-4, -3, 4, 3)
            painter.fillRect(r, QColor(255, 214, 0, 60))
            painter.setPen(QColor(230, 150, 0, 230))
            painter.drawRoundedRect(r, 3, 3)

    def set_highlights(self, highlights) -> None:
        """Draw these kept highlights (``core.model.Highlight``) on their pages."""
        self.saved_highlights = list(highlights or [])
        self.viewport().update()

    def highlight_under(self, pos: QPointF):
        """The kept highlight under a viewport position, or None."""
        hit = self.hit(pos)
        return highlight_at(self.saved_highlights, *hit) if hit else None

    def _scrolled(self, _value) -> None:
        self._emit_page()
        self.viewport().update()

    def _emit_page(self) -> None:
        page = self.current_page()
        if page != self._page:
            self._page = page
            self.pageChanged.emit(page)
