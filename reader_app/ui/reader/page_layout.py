"""Where the PDF view's pages lie: page sizes, zoom and fit, the geometry between
viewport pixels and page points, and which page is being read.

``PageLayout(view)`` is owned by ``PdfView`` (``view.pages``).  It owns the page sizes
(points), the top of each page (pixels, at the current zoom), the zoom, the fit mode
("width", "page" or None) and the page last announced, and uses only the view's public
members: ``viewport()`` (its size; repainted after a scroll or zoom), ``verticalScrollBar()``,
``horizontalScrollBar()`` and ``devicePixelRatioF()``.  Pages are stacked ``GAP`` apart,
centred across the widest one; a fit is redone a moment after the view is resized.

- ``zoomChanged(float)`` when a zoom, fit or new layout changes the zoom of laid-out pages.
- ``pageChanged(int)`` when the current page (a third down the view) changes.
"""

from __future__ import annotations

from bisect import bisect_right

from PySide6.QtCore import QObject, QPointF, QRectF, QTimer, Signal

GAP = 10  # logical pixels between pages and around them
MIN_ZOOM, MAX_ZOOM = 0.25, 6.0


def clamp_zoom(zoom: float) -> float:
    return max(MIN_ZOOM, min(MAX_ZOOM, zoom))


class PageLayout(QObject):
    zoomChanged = Signal(float)
    pageChanged = Signal(int)

    def __init__(self, view):
        super().__init__(view)
        self._view = view
        self._sizes: list[tuple[float, float]] = []
        self._max_w = 0.0
        self._tops: list[float] = []
        self._zoom = 1.0
        self._fit: str | None = "width"
        self._page = 0  # the page last announced by pageChanged
        self._resize_timer = QTimer(self, singleShot=True, interval=60, timeout=self._refit)
        view.verticalScrollBar().valueChanged.connect(self._scrolled)
        view.horizontalScrollBar().valueChanged.connect(lambda _v: view.viewport().update())

    # ---- the pages -----------------------------------------------------------------------
    def set_sizes(self, sizes) -> None:
        """(width, height) in points of each page; call ``lay_out()`` after."""
        self._sizes = list(sizes)
        self._max_w = max((w for w, _h in self._sizes), default=0.0)

    def start(self, sizes, zoom: float | None = None) -> None:
        """A new document: its page sizes and the zoom it was left at (None: keep the fit)."""
        self.set_sizes(sizes)
        if zoom:
            self._fit, self._zoom = None, clamp_zoom(zoom)
        self.lay_out()

    def clear(self) -> None:
        """No document: no pages, no page announced."""
        self.set_sizes([])
        self._tops = []
        self._page = 0

    def page_count(self) -> int:
        return len(self._sizes)

    def page_sizes(self) -> list[tuple[float, float]]:
        return list(self._sizes)

    def is_laid_out(self) -> bool:
        return bool(self._tops)

    def zoom(self) -> float:
        return self._zoom

    def fit_mode(self) -> str | None:
        return self._fit

    def scale_key(self) -> int:
        """Pixels per point × 1000 (an int, to key the page images)."""
        return int(round(self._zoom * self._view.devicePixelRatioF() * 1000))

    # ---- laying out ----------------------------------------------------------------------
    def _fit_zoom(self) -> float:
        if not self._sizes:
            return self._zoom
        vp = self._view.viewport()
        vw = max(50, vp.width() - 2 * GAP)
        vh = max(50, vp.height() - 2 * GAP)
        w = self._max_w
        if self._fit == "width":
            return vw / w
        h = max(s[1] for s in self._sizes[:1] or self._sizes)
        return min(vw / w, vh / h)

    def lay_out(self) -> None:
        """Place the pages at the zoom (the fit's, when fitting) and size the scroll bars."""
        if self._fit:
            self._zoom = clamp_zoom(self._fit_zoom())
        z = self._zoom
        tops, y = [], GAP
        for _w, h in self._sizes:
            tops.append(y)
            y += h * z + GAP
        self._tops = tops
        total_h = int(y)
        total_w = int(self._max_w * z + 2 * GAP)
        vp = self._view.viewport()
        vs, hs = self._view.verticalScrollBar(), self._view.horizontalScrollBar()
        vs.setRange(0, max(0, total_h - vp.height()))
        vs.setPageStep(max(1, int(vp.height() * 0.9)))
        vs.setSingleStep(40)
        hs.setRange(0, max(0, total_w - vp.width()))
        hs.setPageStep(vp.width())
        hs.setSingleStep(40)

    def relayout(self, sizes=None) -> None:
        """Lay the pages out again (with new ``sizes``), keeping the reading position."""
        page, y, _z = self.position()
        if sizes is not None:
            self.set_sizes(sizes)
        self.lay_out()
        self.go_to(page, y)
        self.zoomChanged.emit(self._zoom)

    def resized(self) -> None:
        """The view was resized: lay out a document not laid out yet; redo a fit soon."""
        if self._sizes and not self._tops:
            self.lay_out()
        self._resize_timer.start()

    def _refit(self) -> None:
        if self._fit and self._sizes:
            self.relayout()
        elif self._sizes:
            self.lay_out()
        self._view.viewport().update()

    # ---- geometry ------------------------------------------------------------------------
    def page_rect(self, page: int) -> QRectF:
        """Rectangle of ``page`` (1-based) in viewport coordinates."""
        w, h = self._sizes[page - 1]
        z = self._zoom
        total_w = self._max_w * z + 2 * GAP
        vw = self._view.viewport().width()
        x = (max(vw, total_w) - w * z) / 2 - self._view.horizontalScrollBar().value()
        y = self._tops[page - 1] - self._view.verticalScrollBar().value()
        return QRectF(x, y, w * z, h * z)

    def visible_pages(self) -> list[int]:
        if not self._tops:
            return []
        top = self._view.verticalScrollBar().value()
        bottom = top + self._view.viewport().height()
        out = []
        for i in range(max(0, bisect_right(self._tops, top) - 1), len(self._tops)):
            t = self._tops[i]
            if t > bottom:
                break
            if t + self._sizes[i][1] * self._zoom >= top:
                out.append(i + 1)
        return out

    def _probe(self) -> float:
        """A third down the viewport, in layout pixels."""
        return self._view.verticalScrollBar().value() + self._view.viewport().height() / 3

    def current_page(self) -> int:
        """The page covering the middle of the first third of the viewport."""
        if not self._tops:
            return 0
        return max(1, bisect_right(self._tops, self._probe()))

    def reading_point(self) -> tuple[int, float]:
        """(page, y in points) a third down the viewport: where the reader's eyes are."""
        page = self.current_page()
        if not page:
            return (0, 0.0)
        return (page, max(0.0, (self._probe() - self._tops[page - 1]) / self._zoom))

    def position(self) -> tuple[int, float, float]:
        """(page at the top of the view, y in points within it, zoom)."""
        if not self._tops:
            return (0, 0.0, self._zoom)
        top = self._view.verticalScrollBar().value()
        page = max(1, bisect_right(self._tops, top + GAP))
        y = (top - self._tops[page - 1]) / self._zoom
        return (page, max(0.0, y), self._zoom)

    def hit(self, pos: QPointF) -> tuple[int, float, float] | None:
        """(page, x, y) in points under a viewport position, or None."""
        for page in self.visible_pages():
            r = self.page_rect(page)
            if r.contains(pos):
                return page, (pos.x() - r.x()) / self._zoom, (pos.y() - r.y()) / self._zoom
        return None

    # ---- scrolling -----------------------------------------------------------------------
    def clamp_page(self, page) -> int:
        return max(1, min(len(self._tops), int(page)))

    def go_to(self, page: int, y: float | None = None) -> None:
        """Scroll ``page`` (clamped) to the top, ``y`` points down it (None: its top edge)."""
        if not self._tops:
            return
        page = self.clamp_page(page)
        offset = (y * self._zoom) if y is not None else -GAP / 2
        self._view.verticalScrollBar().setValue(int(self._tops[page - 1] + offset))
        self.announce_page()
        self._view.viewport().update()

    def show_box(self, page: int, bbox) -> None:
        """Scroll so ``bbox`` (points) on ``page`` is a quarter down the viewport, and in view across."""
        y = self._tops[page - 1] + bbox[1] * self._zoom - self._view.viewport().height() / 4
        self._view.verticalScrollBar().setValue(int(y))
        self._scroll_x_into_view(page, bbox)
        self.announce_page()
        self._view.viewport().update()

    def reveal(self, page: int, box) -> None:
        """Scroll so ``box`` (points) on ``page`` is in view, a third down when it was not."""
        r = self.page_rect(page)
        top = r.y() + box[1] * self._zoom
        height = self._view.viewport().height()
        if top < 0 or top > height - 40:
            vs = self._view.verticalScrollBar()
            vs.setValue(int(vs.value() + top - height / 3))
        self._scroll_x_into_view(page, box)

    def _scroll_x_into_view(self, page: int, bbox) -> None:
        r = self.page_rect(page)
        x0, x1 = r.x() + bbox[0] * self._zoom, r.x() + bbox[2] * self._zoom
        hs = self._view.horizontalScrollBar()
        if x0 < 0 or x1 > self._view.viewport().width():
            hs.setValue(int(hs.value() + x0 - GAP))

    # ---- zoom ----------------------------------------------------------------------------
    def set_fit(self, mode: str | None) -> None:
        self._fit = mode
        self._rezoom(self._fit_zoom() if mode else self._zoom)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` (no fit), keeping the point under ``anchor`` (default: a third
        down the middle) where it is."""
        self._fit = None
        self._rezoom(zoom, anchor)

    def _rezoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        zoom = clamp_zoom(zoom)
        if not self._sizes:
            self._zoom = zoom
            return
        view = self._view
        vs, hs = view.verticalScrollBar(), view.horizontalScrollBar()
        if anchor is None:
            anchor = QPointF(view.viewport().width() / 2, view.viewport().height() / 3)
        # keep the document point under the anchor where it is
        old = self._zoom
        doc_y = (vs.value() + anchor.y()) / old
        doc_x = (hs.value() + anchor.x()) / old
        self._zoom = zoom
        self.lay_out()
        self._zoom = zoom if not self._fit else self._zoom
        vs.setValue(int(doc_y * self._zoom - anchor.y()))
        hs.setValue(int(doc_x * self._zoom - anchor.x()))
        self.zoomChanged.emit(self._zoom)
        view.viewport().update()

    # ---- the current page ----------------------------------------------------------------
    def announce_page(self) -> None:
        """Emit ``pageChanged`` when the current page is not the one last announced."""
        page = self.current_page()
        if page != self._page:
            self._page = page
            self.pageChanged.emit(page)

    def _scrolled(self, _value) -> None:
        self.announce_page()
        self._view.viewport().update()
