"""Where the reader left off: the page, offset and zoom per paper, and the window's geometry and
splitter sizes, kept in ``services.ui_settings``.  A mixin of ``MainWindow``.

Side panels restored from a larger window are narrowed so the PDF keeps at least half the
width.  ``remember_state = False`` (screenshot runs) starts from the default layout and saves
nothing.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QTimer


class WindowStateMixin:
    def _saved_position(self, paper_id: str):
        raw = self.services.ui_settings.value(f"positions/{paper_id}")
        try:
            page, y, zoom = (float(v) for v in str(raw).split(","))
            return int(page), y, (zoom if zoom > 0 else None)
        except (TypeError, ValueError):
            return None

    def save_position(self) -> None:
        if self.paper is not None and self.pdf_view.page_count():
            page, y, zoom = self.pdf_view.position()
            zoom = 0 if self.pdf_view.fit_mode() else zoom
            self.services.ui_settings.setValue(f"positions/{self.paper.id}", f"{page},{y:.1f},{zoom:.4f}")

    remember_state = True  # False: start with the default layout and save nothing (screenshots)

    def restore_state(self) -> None:
        if not self.remember_state:
            return
        s = self.services.ui_settings
        geom = s.value("window/geometry")
        if isinstance(geom, QByteArray) and not geom.isEmpty():
            self.restoreGeometry(geom)
        for name, widget in (("window/splitter", self.splitter), ("window/left", self.left)):
            state = s.value(name)
            if isinstance(state, QByteArray) and not state.isEmpty():
                widget.restoreState(state)
        if self.isVisible():
            QTimer.singleShot(0, self._clamp_side_panels)
        else:
            self._clamp_pending = True  # sizes are real only once the window is laid out

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        if getattr(self, "_clamp_pending", False):
            self._clamp_pending = False
            QTimer.singleShot(0, self._clamp_side_panels)

    def _clamp_side_panels(self) -> None:
        """Side panels restored from a larger window never squeeze the PDF below half the
        width (or what the panels' minimum widths leave)."""
        sizes = self.splitter.sizes()
        total = sum(sizes)
        if len(sizes) != 3 or total <= 0 or sizes[1] >= total // 2:
            return
        room = total - total // 2  # what both side panels may share
        lo_left, lo_right = (self.splitter.widget(i).minimumSizeHint().width() for i in (0, 2))
        if lo_left + lo_right >= room:
            left, right = lo_left, lo_right
        else:
            left = int(room * sizes[0] / max(1, sizes[0] + sizes[2]))
            left = min(max(left, lo_left), room - lo_right)
            right = room - left
        self.splitter.setSizes([left, total - left - right, right])

    def save_state(self) -> None:
        if not self.remember_state:
            return
        self.save_position()
        s = self.services.ui_settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/splitter", self.splitter.saveState())
        s.setValue("window/left", self.left.saveState())
        s.sync()
