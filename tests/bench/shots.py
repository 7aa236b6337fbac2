"""What the screenshot scripts share (not a test): the window on a scripted engine, and waiting."""

from __future__ import annotations


def open_window(services, size=(1560, 960)):
    """The main window on ``services``, sized for docs/ screenshots and shown."""
    from reader_app.ui.window.main_window import MainWindow

    win = MainWindow(services)
    win.resize(*size)
    win.show()
    return win


def wait(signal=None, ms=30000, until=None) -> None:
    """Run the event loop until ``signal`` fires, ``until()`` holds, or ``ms`` pass."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    if signal is not None:
        signal.connect(lambda *_a: loop.quit())
    if until is not None:
        timer = QTimer(interval=50, timeout=lambda: until() and loop.quit())
        timer.start()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()
