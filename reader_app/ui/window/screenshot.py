"""``--screenshot``: import/open a PDF, wait for the first page (and an answer), save a PNG."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QTimer, Signal

SCREENSHOT_TIMEOUT_MS = 300_000  # opening only
ASK_TIMEOUT_MS = 3_600_000  # a small CPU can take many minutes for the first answer


class ScreenshotDriver(QObject):
    finished = Signal(int)  # exit code

    def __init__(self, win, out: str, ask: str | None = None):
        super().__init__(win)
        self.win, self.out, self.ask = win, out, ask
        self._done = False
        self._job = None
        win.password_prompt = lambda _name: None  # no dialogs in a scripted run: --password instead
        win.importFinished.connect(self._imported)
        win.pdf_view.firstPageShown.connect(self._first_page)
        limit = ASK_TIMEOUT_MS if ask else SCREENSHOT_TIMEOUT_MS
        QTimer.singleShot(limit, lambda: self._fail(f"timed out after {limit // 60000} minutes"))

    def start(self, path: str | None, password: str | None = None) -> None:
        if path is None:
            QTimer.singleShot(500, self._save)
            return
        self.win.import_files([path], password=password, open_last=True)

    def _imported(self, result) -> None:
        if not (result.get("added") or result.get("duplicates")):
            msg = result["errors"][0][1] if result.get("errors") else "the file could not be imported"
            if "encrypted" in msg:
                msg += " (give it with --password)"
            self._fail(msg)

    def _first_page(self) -> None:
        side = self.win.side_panel
        if self.ask and side is not None:
            side.show_tab("ask")
            self._job = side.ask_panel.ask(self.ask)
            if self._job is None:
                self._later()
            else:
                self._job.ended.connect(self._later)
        else:
            self._later()

    def _later(self) -> None:
        QTimer.singleShot(300, self._save)  # let the last paint settle

    def _save(self) -> None:
        if self._done:
            return
        self._done = True
        ok = self.win.grab().save(self.out, "PNG")
        if not ok:
            print(f"reader-app: error: cannot write {self.out}", file=sys.stderr)
        self.finished.emit(0 if ok else 2)

    def _fail(self, msg: str) -> None:
        if self._done:
            return
        self._done = True
        print(f"reader-app: error: {msg}", file=sys.stderr)
        self.finished.emit(2)
