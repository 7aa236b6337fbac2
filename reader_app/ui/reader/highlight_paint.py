"""Drawing kept highlights on a page, and finding the one under the mouse.

A highlight is multiplied onto the page (text under it stays black, as in a paper
reader); underline, strike-out and squiggly are lines; a text note is a small coloured
sticky-note sign at its point.  One read from the PDF, still in its PDF colour, is not drawn
again: the rendered page shows the PDF's own annotation already.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen


def _box(rect: QRectF, z: float, b) -> QRectF:
    return QRectF(rect.x() + b[0] * z, rect.y() + b[1] * z, (b[2] - b[0]) * z, (b[3] - b[1]) * z)


def paint_highlights(painter: QPainter, highlights, page: int, rect: QRectF, z: float) -> None:
    for h in highlights:
        if h.page != page or (h.source == "pdf" and (h.color == h.pdf_color or h.kind in ("text", "freetext"))):
            continue
        color = QColor(h.color)
        if not color.isValid():
            color = QColor("#ffd400")
        painter.save()
        if h.kind == "highlight":
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Multiply)
            soft = QColor(color)
            soft = QColor.fromHsv(soft.hsvHue(), int(soft.hsvSaturation() * 0.75), soft.value())
            for q in h.quads:
                painter.fillRect(_box(rect, z, q), soft)
        elif h.kind in ("underline", "strikeout", "squiggly"):
            pen = QPen(color, max(1.0, 1.2 * z))
            painter.setPen(pen)
            for q in h.quads:
                r = _box(rect, z, q)
                y = r.center().y() if h.kind == "strikeout" else r.bottom() - pen.widthF() / 2
                if h.kind == "squiggly":
                    path, x, up, step = QPainterPath(QPointF(r.left(), y)), r.left(), True, max(2.0, 2 * z)
                    while x < r.right():
                        x = min(r.right(), x + step)
                        path.lineTo(x, y - step / 2 if up else y)
                        up = not up
                    painter.drawPath(path)
                else:
                    painter.drawLine(QPointF(r.left(), y), QPointF(r.right(), y))
        else:  # a text note: a sticky-note sign at its point
            q = h.quads[0] if h.quads else (0, 0, 16, 16)
            r = QRectF(rect.x() + q[0] * z, rect.y() + q[1] * z, 14 * max(z, 0.8), 14 * max(z, 0.8))
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setBrush(color)
            painter.setPen(QPen(color.darker(160), 1))
            painter.drawRoundedRect(r, 2, 2)
            painter.setPen(QPen(color.darker(220), 1))
            for i in (0.35, 0.55, 0.75):
                painter.drawLine(QPointF(r.left() + r.width() * 0.2, r.top() + r.height() * i),
                                 QPointF(r.right() - r.width() * 0.2, r.top() + r.height() * i))
        painter.restore()


def highlight_at(highlights, page: int, x: float, y: float):
    """The highlight covering point (x, y) in points on ``page`` (the last drawn wins), or None."""
    for h in reversed(highlights):
        if h.page != page:
            continue
        for q in h.quads:
            pad = 8 if h.kind in ("text", "freetext") else 1
            if q[0] - pad <= x <= q[2] + pad and q[1] - pad <= y <= q[3] + pad:
                return h
    return None
