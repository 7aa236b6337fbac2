"""Keys, the wheel and the mouse in the PDF view: scrolling, zoom and selecting words.

``ViewInput(view)`` is owned by ``PdfView`` (``view.input``); the view's event handlers hand
it their events.  It keeps no state of its own and uses only the view's public members:
``verticalScrollBar()``, ``zoom()``, ``set_zoom(z, anchor)``, ``setFocus()``, ``doc``,
``highlight`` (a press drops the paragraph mark), ``selection`` and ``viewport()``.

- Page Down / Space, Page Up, Home, End scroll; Ctrl+wheel zooms about the mouse.
- A left press starts a selection, a drag extends it, a double click selects a word.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent, QWheelEvent

WHEEL_ZOOM = 1.1  # zoom factor per wheel notch with Ctrl


class ViewInput:
    def __init__(self, view):
        self._view = view

    def key(self, event: QKeyEvent) -> bool:
        """Scroll for the paging keys; False for other keys (the view's default handles them)."""
        key = event.key()
        vs = self._view.verticalScrollBar()
        if key in (Qt.Key.Key_PageDown, Qt.Key.Key_Space) and not event.modifiers():
            vs.setValue(vs.value() + vs.pageStep())
        elif key == Qt.Key.Key_PageUp:
            vs.setValue(vs.value() - vs.pageStep())
        elif key == Qt.Key.Key_Home:
            vs.setValue(0)
        elif key == Qt.Key.Key_End:
            vs.setValue(vs.maximum())
        else:
            return False
        return True

    def wheel(self, event: QWheelEvent) -> bool:
        """Zoom on Ctrl+wheel (the event is accepted); False for a plain wheel (it scrolls)."""
        if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            return False
        steps = event.angleDelta().y() / 120
        if steps:
            self._view.set_zoom(self._view.zoom() * (WHEEL_ZOOM ** steps), event.position())
        event.accept()
        return True

    def press(self, event: QMouseEvent) -> None:
        """Focus the view; a left press drops the selection and the paragraph mark and
        starts a drag."""
        view = self._view
        view.setFocus()
        if event.button() == Qt.MouseButton.LeftButton and view.doc is not None:
            had = not view.selection.is_empty() or view.highlight is not None
            view.highlight = None
            view.selection.start_drag(event.position())
            if had:
                view.viewport().update()

    def move(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._view.selection.drag_to(event.position())

    def release(self, _event: QMouseEvent) -> None:
        self._view.selection.end_drag()

    def double_click(self, event: QMouseEvent) -> None:
        self._view.selection.select_word_at(event.position())
