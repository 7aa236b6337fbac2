"""A push button that may narrow below its label's width, eliding the label ("Ask about sel…")
so that a row of buttons never forces a side panel wider; the full label is its tooltip."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QPushButton, QSizePolicy


class ElidingButton(QPushButton):
    def __init__(self, text: str, parent=None, min_width: int = 64):
        super().__init__(text, parent)
        self._full = text
        self._min = min_width
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)  # may shrink

    def full_text(self) -> str:
        return self._full

    def sizeHint(self):  # noqa: N802 - Qt API
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 24, super().sizeHint().height())

    def minimumSizeHint(self):  # noqa: N802 - Qt API
        return QSize(self._min, super().minimumSizeHint().height())

    def resizeEvent(self, event):  # noqa: N802 - Qt API
        room = max(8, event.size().width() - 16)
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, room))
        super().resizeEvent(event)
