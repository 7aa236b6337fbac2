"""Painting the PDF view: the page images and what is drawn over them.

``PagePainter(view)`` is owned by ``PdfView`` (``view.painter``); the view's ``paintEvent``
calls ``paint()``.  It keeps no state of its own and uses only the view's public members:
``viewport()``, ``palette()``, ``path``, ``page_count()``, ``visible_pages()``,
``page_rect(page)``, ``scale_key()``, ``zoom()``, ``renders`` (images, and requests for the
visible pages plus one ahead; the rest are cancelled), and, over each page, its kept
highlights (``saved_highlights``, drawn by ``highlight_paint``), the find matches
(``finder``), the selected words (``selection``) and the paragraph of ``highlight``.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette

from reader_app.ui.reader.highlight_paint import paint_highlights

EMPTY_TEXT = "Open a PDF (Ctrl+O) or pick a paper from the library"


class PagePainter:
    def __init__(self, view):
        self._view = view

    def paint(self) -> bool:
        """Paint the viewport; True when some page was drawn sharp (not a stand-in)."""
        painter = QPainter(self._view.viewport())
        try:
            return self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> bool:
        view = self._view
        pal = view.palette()
        window = pal.color(QPalette.ColorRole.Window)
        painter.fillRect(view.viewport().rect(), pal.color(QPalette.ColorRole.Mid).darker(110)
                         if window.lightness() > 128 else window.darker(130))
        if not view.page_count():
            painter.setPen(pal.color(QPalette.ColorRole.WindowText))
            painter.drawText(view.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                             "Loading…" if view.path else EMPTY_TEXT)
            return False
        renders = view.renders
        key = view.scale_key()
        visible = view.visible_pages()
        wanted = set()
        sharp = False
        for page in visible:
            rect = view.page_rect(page)
            painter.fillRect(rect.adjusted(1, 2, 2, 3), QColor(0, 0, 0, 60))  # shadow
            img = renders.image(page, key)
            if img is not None:
                painter.drawImage(rect, img)
                sharp = True
            else:
                painter.fillRect(rect, Qt.GlobalColor.white)
                stand_in = renders.any_image(page)
                if stand_in is not None:
                    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
                    painter.drawImage(rect, stand_in)
                renders.request(page, key)
            wanted.add((page, key))
            self._paint_overlays(painter, page, rect)
        if visible:  # one page ahead
            nxt = visible[-1] + 1
            if nxt <= view.page_count():
                renders.request(nxt, key)
                wanted.add((nxt, key))
        renders.cancel_except(wanted)
        return sharp

    def _paint_overlays(self, painter: QPainter, page: int, rect: QRectF) -> None:
        view = self._view
        z = view.zoom()
        if view.saved_highlights:
            paint_highlights(painter, view.saved_highlights, page, rect, z)

        def box(b) -> QRectF:
            return QRectF(rect.x() + b[0] * z, rect.y() + b[1] * z, (b[2] - b[0]) * z, (b[3] - b[1]) * z)

        finder = view.finder
        for i, (p, b) in enumerate(finder.hits):
            if p == page:
                color = QColor(255, 140, 0, 130) if i == finder.index else QColor(255, 230, 0, 110)
                painter.fillRect(box(b), color)
        selected = view.selection.words_on(page)
        if selected:
            color = QColor(view.palette().color(QPalette.ColorRole.Highlight))
            color.setAlpha(90)
            for w in selected:
                painter.fillRect(box((w.x0, w.y0, w.x1, w.y1)), color)
        if view.highlight and view.highlight[0] == page:
            r = box(view.highlight[1]).adjusted(-4, -3, 4, 3)
            painter.fillRect(r, QColor(255, 214, 0, 60))
            painter.setPen(QColor(230, 150, 0, 230))
            painter.drawRoundedRect(r, 3, 3)
