"""The Ask panel's preparation line: "Preparing for questions… 40%" with a bar, then "Ready".

Preparation (``LlmWorker.prepare``, ``assistant.prepare``) writes the paper's
demonstrations and saves the KV state of its prompt prefixes, so that the first
question answers at once.  It runs on the model's worker at low priority:

- ``start(paper_id, mode)`` when a paper is opened (``auto`` says whether to); ``job`` is
  the running preparation's job;
- any other request (a question, a summary) takes over: the worker cancels the
  preparation (the job ends ``cancelled`` with ``preempted`` set), the request reuses
  whatever was prepared, and when the worker is idle again preparation goes on where it
  stopped (``pause()`` does the same at once);
- ``stop()`` when the paper is switched; Cancel in the status bar stops it too.

``ready(paper_id, mode)`` fires when a preparation completes (the Ask panel then asks the
full answer to a question it answered quickly meanwhile); ``under_way`` says whether a
preparation is running or paused.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QWidget

from reader_app import settings
from reader_app.ui.background.jobs import Job, LatestJob

PREPARING = "Preparing for questions…"
READY = "Ready"


class PrepareStatus(QWidget):
    ready = Signal(str, str)  # paper id, mode: its preparation just completed

    def __init__(self, worker, parent=None):
        super().__init__(parent)
        self.setObjectName("prepareStatus")
        self.worker = worker
        self._preparing = LatestJob()
        self.paper_id: str | None = None
        self.mode = "doubledipper"
        self.prepared: set[tuple[str, str]] = set()  # (paper, mode) prepared in this session
        self.result: dict | None = None
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel(self)
        self.label.setStyleSheet("color: palette(placeholder-text);")
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(False)
        self.bar.setMaximumHeight(8)
        lay.addWidget(self.label)
        lay.addWidget(self.bar, 1)
        self.state = "idle"  # idle, preparing, paused, ready
        self._show_idle()
        worker.idle.connect(self.resume)

    @staticmethod
    def auto(services) -> bool:
        """Prepare papers when opened: the ``prepare_on_open`` setting; by default on for the
        app's own model, off for a custom engine factory (tests, embedding)."""
        value = settings.current().prepare_on_open
        if value is None:
            return getattr(services, "engine_factory", None) is None
        return bool(value)

    @property
    def under_way(self) -> bool:
        """A preparation is running, or paused while another request runs."""
        return self.state in ("preparing", "paused")

    # ---- control ------------------------------------------------------------------------
    def start(self, paper_id: str, mode: str = "doubledipper") -> Job | None:
        if self.job is not None and (paper_id, mode) == (self.paper_id, self.mode):
            return self.job
        same = (paper_id, mode) == (self.paper_id, self.mode) and self.state == "paused"
        percent = self.bar.value() if same else 0
        self.stop()
        self.paper_id, self.mode = paper_id, mode
        if (paper_id, mode) in self.prepared:
            self._show_ready()
            return None
        job = self._preparing.start(self.worker.prepare(paper_id, mode=mode), progress=self._on_progress,
                                    finished=self._on_finished, failed=self._on_failed,
                                    cancelled=self._on_cancelled)
        self._show_progress(percent)
        return job

    @property
    def job(self) -> Job | None:
        """The running preparation's job."""
        return self._preparing.job

    def pause(self) -> None:
        if self.job is not None:
            self._preparing.drop()
            self.state = "paused"

    def resume(self) -> None:
        if self.state == "paused" and self.paper_id:
            self.start(self.paper_id, self.mode)

    def stop(self) -> None:
        self._preparing.drop()
        self._show_idle()

    # ---- the job's signals ----------------------------------------------------------------
    def _on_progress(self, done: int, _total: int, label: str) -> None:
        self._show_progress(done, label)

    def _on_finished(self, result) -> None:
        self.result = result
        self.prepared.add((self.paper_id, self.mode))
        self._show_ready()
        self.ready.emit(self.paper_id or "", self.mode)

    def _on_failed(self, _message: str) -> None:  # no model, no text, ...: the Ask panel says so when asked
        self._show_idle()

    def _on_cancelled(self) -> None:
        if self._preparing.last.preempted:  # gave way to another request: resume when idle
            self.state = "paused"
        else:  # the status bar's Cancel
            self._show_idle()

    # ---- display ------------------------------------------------------------------------
    def _show_progress(self, percent: int, detail: str = "") -> None:
        self.state = "preparing"
        percent = max(0, min(100, int(percent)))
        self.label.setText(f"{PREPARING} {percent}%")
        self.label.setToolTip(detail)
        self.bar.setValue(percent)
        self.bar.show()
        self.show()

    def _show_ready(self) -> None:
        self.state = "ready"
        self.label.setText(READY)
        self.label.setToolTip("This paper is prepared: questions start answering at once")
        self.bar.hide()
        self.show()

    def _show_idle(self) -> None:
        self.state = "idle"
        self.label.clear()
        self.bar.setValue(0)
        self.bar.hide()
        self.hide()
