"""Settings ▸ Get models…: the model catalog, whether each model fits this machine, and a
download with progress and cancel.  A finished download emits ``modelReady(name, path)``;
the settings dialog then selects the new model.

The download runs as a background op (``run_op``): the GUI never waits on the network.
A model that does not fit in the RAM available now is downloaded only after the reader
says so; one that does not fit on the disk is refused with the reason.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from reader_app.llm import catalog
from reader_app.core.errors import Cancelled
from reader_app.ui.background.ops import error_message, run_op

COLUMNS = ("Model", "Size", "RAM needed", "On this machine", "QASPER F1", "Good for")


def _gb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e9:.1f} GB"


class ModelCatalogDialog(QDialog):
    modelReady = Signal(str, str)  # catalog name, file path

    def __init__(self, parent=None, *, models=None, folder: Path | None = None, free_ram: int | None = None):
        super().__init__(parent)
        self.setWindowTitle("Get models")
        self.models = list(models if models is not None else catalog.load_catalog())
        self.folder = folder
        self.free_ram = free_ram  # tests: pretend this much RAM is available
        self.op = None
        lay = QVBoxLayout(self)
        intro = QLabel("Models a laptop can run. Each download is checked against its published "
                       "checksum and can be cancelled and resumed.", self)
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.table = QTableWidget(len(self.models), len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(True)  # rows follow the "Good for" column's width
        self.table.horizontalHeader().sectionResized.connect(lambda *_a: self.table.resizeRowsToContents())
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda _index: self.download_selected())
        lay.addWidget(self.table, 1)
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        lay.addWidget(self.progress)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close, self)
        self.download_button = QPushButton("Download", self)
        self.cancel_button = QPushButton("Cancel download", self)
        self.buttons.addButton(self.download_button, QDialogButtonBox.ActionRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ActionRole)
        self.download_button.clicked.connect(self.download_selected)
        self.cancel_button.clicked.connect(self.cancel_download)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.resize(860, 420)
        self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        self.table.resizeRowsToContents()

    # ---- table -----------------------------------------------------------------------
    def fit(self, model) -> catalog.Fit:
        return catalog.check_fit(model, self.folder, free_ram=self.free_ram)

    def refresh(self) -> None:
        for row, m in enumerate(self.models):
            fit = self.fit(m)
            if fit.installed:
                state = "Downloaded"
            elif fit.fits:
                state = "Fits" if fit.ram_ok else "Fits on disk (free RAM unknown)"
            else:
                state = f"Too big: {fit.reason(m)}"
            f1 = f"{m.qasper['answer_f1']:.2f}" if m.qasper else "not measured"
            cells = (m.title, _gb(m.size), _gb(m.ram), state, f1, m.good_for)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{m.title}\n{m.license}, context {m.context}\n{m.url}" if col == 0 else text)
                self.table.setItem(row, col, item)
        self.table.resizeRowsToContents()
        self._update_buttons()

    def selected(self):
        rows = {i.row() for i in self.table.selectedIndexes()}
        return self.models[rows.pop()] if len(rows) == 1 else None

    def _update_buttons(self) -> None:
        busy = self.op is not None
        m = self.selected()
        self.download_button.setEnabled(not busy and m is not None and not self.fit(m).installed)
        self.cancel_button.setEnabled(busy)
        self.cancel_button.setVisible(busy)

    def _say(self, text: str) -> None:
        self.status.setText(text)

    # ---- download --------------------------------------------------------------------
    def download_selected(self) -> None:
        m = self.selected()
        if m is None or self.op is not None:
            return
        fit = self.fit(m)
        if fit.installed:
            self.modelReady.emit(m.name, str((self.folder or catalog.settings.models_dir()) / m.filename))
            return
        if not fit.disk_ok:
            self._say(f"Cannot download: {fit.problem(m)}.")
            return
        if fit.ram_ok is False:
            answer = QMessageBox.question(self, "Model may not fit",
                                          f"{fit.problem(m)}. It may not load, or make the computer slow. "
                                          "Download it anyway?", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                self._say("Download not started.")
                return
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self._say(f"Downloading {m.title}…")
        folder = self.folder

        def work(op):
            report: dict = {}
            path = catalog.get_model(m, folder=folder, cancel=op.cancel_event, report=report,
                                     progress=lambda done, total: op.report(done, total or 0))
            return path, report

        self.op = run_op(self, work, on_success=lambda r: self._done(m, *r), on_failure=self._failed,
                         progress=self._progress, label=f"Downloading {m.name}", cancellable=True)
        self._update_buttons()

    def cancel_download(self) -> None:
        if self.op is not None:
            self.op.cancel()
            self._say("Cancelling…")

    def _progress(self, done: int, total: int, _text: str = "") -> None:
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{done / 1e6:.0f} / {total / 1e6:.0f} MB  (%p%)")
        else:
            self.progress.setFormat(f"{done / 1e6:.0f} MB")

    def _finish(self) -> None:
        self.op = None
        self.progress.setVisible(False)
        self.refresh()

    def _done(self, m, path, report: dict) -> None:
        self._finish()
        check = "checksum verified" if report.get("verified") else "no checksum was published to verify"
        self._say(f"Downloaded {m.title} ({check}).")
        self.modelReady.emit(m.name, str(path))

    def _failed(self, exc: BaseException) -> None:
        self._finish()
        if isinstance(exc, Cancelled):
            self._say("Download cancelled; it resumes where it stopped next time.")
        else:
            self._say(f"Download failed: {error_message(exc)}")

    def reject(self) -> None:
        self.cancel_download()
        super().reject()


__all__ = ["ModelCatalogDialog"]
