"""Where the reader left off: the page, offset and zoom per paper, and the window's geometry and
splitter sizes, kept in ``services.ui_settings``.

``WindowState(win)`` is owned by ``MainWindow`` (``win.state``); it uses the window's public
members ``services``, ``paper``, ``pdf_view``, ``splitter`` (library | PDF | side panel) and
``left`` (library | contents), and the window calls ``shown()`` from its ``showEvent``.
Side panels restored from a larger window are narrowed so the PDF keeps at least half the
width.  ``remember = False`` (screenshot runs) starts from the default layout and saves
nothing.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QTimer


class WindowState:
    def __init__(self, win):
        self._win = win
        self._settings = win.services.ui_settings
        self.remember = True  # False: start with the default layout and save nothing (screenshots)
        self._clamp_pending = False

    def saved_position(self, paper_id: str) -> tuple[int, float, float | None] | None:
        """(page, y, zoom or None for a fit mode) where ``paper_id`` was left, or None."""
        raw = self._settings.value(f"positions/{paper_id}")
        try:
            page, y, zoom = (float(v) for v in str(raw).split(","))
            return int(page), y, (zoom if zoom > 0 else None)
        except (TypeError, ValueError):
            return None

    def save_position(self) -> None:
        """Remember where the open paper is read (page, offset, zoom; 0 for a fit mode)."""
        win = self._win
        if win.paper is not None and win.pdf_view.page_count():
            page, y, zoom = win.pdf_view.position()
            zoom = 0 if win.pdf_view.fit_mode() else zoom
            self._settings.setValue(f"positions/{win.paper.id}", f"{page},{y:.1f},{zoom:.4f}")

    def restore(self) -> None:
        """The window's geometry and splitter sizes as last saved."""
        if not self.remember:
            return
        win, s = self._win, self._settings
        geom = s.value("window/geometry")
        if isinstance(geom, QByteArray) and not geom.isEmpty():
            win.restoreGeometry(geom)
        for name, widget in (("window/splitter", win.splitter), ("window/left", win.left)):
            state = s.value(name)
            if isinstance(state, QByteArray) and not state.isEmpty():
                widget.restoreState(state)
        if win.isVisible():
            QTimer.singleShot(0, self._clamp_side_panels)
        else:
            self._clamp_pending = True  # sizes are real only once the window is laid out

    def shown(self) -> None:
        """The window was shown (its ``showEvent``): sizes are real now."""
        if self._clamp_pending:
            self._clamp_pending = False
            QTimer.singleShot(0, self._clamp_side_panels)

    def _clamp_side_panels(self) -> None:
        """Side panels restored from a larger window never squeeze the PDF below half the
        width (or what the panels' minimum widths leave)."""
        splitter = self._win.splitter
        sizes = splitter.sizes()
        total = sum(sizes)
        if len(sizes) != 3 or total <= 0 or sizes[1] >= total // 2:
            return
        room = total - total // 2  # what both side panels may share
        lo_left, lo_right = (splitter.widget(i).minimumSizeHint().width() for i in (0, 2))
        if lo_left + lo_right >= room:
            left, right = lo_left, lo_right
        else:
            left = int(room * sizes[0] / max(1, sizes[0] + sizes[2]))
            left = min(max(left, lo_left), room - lo_right)
            right = room - left
        splitter.setSizes([left, total - left - right, right])

    def save(self) -> None:
        """Remember the reading position, the window's geometry and its splitter sizes."""
        if not self.remember:
            return
        self.save_position()
        win, s = self._win, self._settings
        s.setValue("window/geometry", win.saveGeometry())
        s.setValue("window/splitter", win.splitter.saveState())
        s.setValue("window/left", win.left.saveState())
        s.sync()
