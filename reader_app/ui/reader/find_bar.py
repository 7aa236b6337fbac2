"""The find bar under the PDF view (Ctrl+F): query, previous / next, "3 of 12"."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QLineEdit, QToolButton, QWidget


class FindBar(QWidget):
    findRequested = Signal(str)
    nextRequested = Signal()
    prevRequested = Signal()
    closed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.edit = QLineEdit(placeholderText="Find in paper", clearButtonEnabled=True)
        self.edit.setMinimumWidth(220)
        self.count = QLabel("")
        self.count.setMinimumWidth(80)
        prev = QToolButton(text="▲", toolTip="Previous match (Shift+Enter)", autoRaise=True)
        nxt = QToolButton(text="▼", toolTip="Next match (Enter)", autoRaise=True)
        close = QToolButton(text="✕", toolTip="Close (Esc)", autoRaise=True)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        lay.addWidget(QLabel("Find:"))
        lay.addWidget(self.edit)
        lay.addWidget(prev)
        lay.addWidget(nxt)
        lay.addWidget(self.count)
        lay.addStretch(1)
        lay.addWidget(close)
        self._timer = QTimer(self, singleShot=True, interval=300,
                             timeout=lambda: self._search(self.edit.text()))
        self._last = None
        self.edit.textChanged.connect(lambda _t: self._timer.start())
        self.edit.returnPressed.connect(self._enter)
        prev.clicked.connect(self.prevRequested)
        nxt.clicked.connect(self.nextRequested)
        close.clicked.connect(self.close_bar)

    def _search(self, text: str) -> None:
        self._timer.stop()
        self._last = text
        self.count.setText("Searching…" if text.strip() else "")
        self.findRequested.emit(text)

    def _enter(self) -> None:
        if self._timer.isActive() or self._last != self.edit.text():
            self._search(self.edit.text())
        elif QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.prevRequested.emit()
        else:
            self.nextRequested.emit()

    def open_bar(self, text: str = "") -> None:
        self.show()
        if text:
            self.edit.setText(text)
        self.edit.setFocus()
        self.edit.selectAll()

    def close_bar(self) -> None:
        self.hide()
        self._last = None
        self.count.setText("")
        self.closed.emit()

    def show_results(self, current: int, total: int) -> None:
        if not self.edit.text().strip():
            self.count.setText("")
        else:
            self.count.setText(f"{current} of {total}" if total else "No matches")

    def keyPressEvent(self, event):  # noqa: N802
        if event.key() == Qt.Key.Key_Escape:
            self.close_bar()
        else:
            super().keyPressEvent(event)
