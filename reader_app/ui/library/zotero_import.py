"""File ▸ Import from Zotero… and File ▸ Import BibTeX…: pick the source, import it off
the GUI thread (``ui.background.ops``: the status bar shows the progress bar and a Cancel button),
then show what was imported and what was skipped, with reasons.

``install(win, menu)`` adds the two actions to ``menu``; ``start_import(win, kind, path,
collection=None) -> Op`` runs one import (``kind``: "zotero" or "bib") without a dialog.
A cancelled import keeps what it imported; importing again brings in the rest.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFileDialog, QLabel, QPlainTextEdit, QVBoxLayout

from reader_app.core.errors import ReaderError
from reader_app.importers.summary import summary_text
from reader_app.importers.zotero import find_profile, import_zotero
from reader_app.ui.background.ops import run_op

LABELS = {"zotero": "Importing from Zotero", "bib": "Importing BibTeX"}


def install(win, menu) -> tuple[QAction, QAction]:
    """The File menu's import actions: (Import from Zotero…, Import BibTeX…)."""
    a = menu.addAction("Import from &Zotero…")
    a.triggered.connect(lambda: zotero_dialog(win))
    b = menu.addAction("Import &BibTeX…")
    b.triggered.connect(lambda: bib_dialog(win))
    return a, b


def _default_zotero_dir() -> str:
    try:
        return str(find_profile().data_dir)
    except ReaderError:
        return str(Path.home() / "Zotero")


def zotero_dialog(win) -> None:
    folder = QFileDialog.getExistingDirectory(win, "Zotero data directory (it holds zotero.sqlite)",
                                              _default_zotero_dir())
    if folder:
        start_import(win, "zotero", folder)


def bib_dialog(win) -> None:
    path, _ = QFileDialog.getOpenFileName(win, "Import a BibTeX file", str(Path.home()),
                                          "BibTeX files (*.bib);;All files (*)")
    if path:
        start_import(win, "bib", path)


def start_import(win, kind: str, path: str, collection: str | None = None):
    services = win.services

    def work(op):
        def progress(done: int, total: int, label: str) -> None:
            op.check_cancelled()  # Cancelled: the importer stops after the item it is on
            op.report(done, total, label)

        lib = services.library()  # this worker thread's own connection
        if kind == "zotero":
            return import_zotero(lib, path, collection=collection, on_progress=progress)
        from reader_app.importers.bib import import_bib  # deferred: bibtexparser loads only when used

        return import_bib(lib, path, on_progress=progress)

    def done(result: dict) -> None:
        refresh = getattr(getattr(win, "library_pane", None), "refresh", None)
        if refresh is not None:
            refresh()
        if result.get("imported"):
            win.papersAdded.emit(None)  # their ids are not in the summary: look for papers without vectors
        show_summary(win, kind, result)

    return run_op(win, work, on_success=done, label=LABELS[kind], cancellable=True)


class SummaryDialog(QDialog):
    """What an import did: counts, skipped items with reasons, warnings (non-modal)."""

    def __init__(self, parent, kind: str, result: dict):
        super().__init__(parent)
        self.result = result
        self.setWindowTitle("Zotero import" if kind == "zotero" else "BibTeX import")
        layout = QVBoxLayout(self)
        n = result["imported"] + result["updated"] + result["already_in_library"] + result.get("matched", 0)
        head = QLabel(f"<b>{n} paper{'s' if n != 1 else ''} imported or updated</b>, "
                      f"{sum(result['skipped'].values())} skipped.")
        head.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(head)
        self.text = QPlainTextEdit(summary_text(result, max_items=500).replace("(--json lists all)", ""))
        self.text.setReadOnly(True)
        self.text.setMinimumSize(560, 260)
        layout.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)


def show_summary(win, kind: str, result: dict) -> SummaryDialog:
    dlg = SummaryDialog(win, kind, result)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    win.import_summary = dlg  # the latest one (tests read it)
    dlg.show()
    return dlg
