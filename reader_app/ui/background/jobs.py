"""Background jobs: one handle per request, with its own signals, delivered on the GUI thread.

Modelled on Anki's ``QueryOp`` / ``CollectionOp``.  Every request for background work
returns a :class:`Job`; whoever started it connects to that job, and to nothing else::

    job = worker.ask(paper_id, "What dataset?")   # model work (ui/background/llm_worker.py)
    job = run_op(self, fn, on_success=...)        # other work off the GUI thread (ui/background/ops.py)

    job.started(label)                 # it left the queue and runs now
    job.progress(done, total, text)    # total 0: indeterminate
    job.update(text, evidence, phase)  # an answer while it streams (AnswerUpdate.to_fields())
    job.token(text)                    # a raw streamed piece (summaries)
    job.finished(result)               # exactly one of finished / failed / cancelled, once,
    job.failed(message)                # (a one-line message, never a traceback)
    job.cancelled()
    job.ended()                        # after any of the three
    job.cancel()                       # from the GUI; takes effect between tokens

``job.watch(finished=..., failed=...)`` connects several slots at once and returns a
:class:`Watch` whose ``stop()`` disconnects them again; :class:`LatestJob` keeps the one
job a widget waits for, so that a panel that moves on (another paper) stops listening to
the job it dropped, instead of checking ids in every slot.

Thread-safety: the side that does the work calls ``post_*`` from its own thread.  Each goes
through a private signal into the job's own slot (a queued connection, even from the GUI
thread, so a caller always connects in time), which emits the public signal on the GUI
thread.  What crosses threads is plain values
(strings and ints; PySide6 crashed under load when Python objects crossed token by token),
and the result once at the end.

Every job is announced on :data:`tracker` (``started(job)`` / ``progressed(job)`` /
``finished(job)``), so the status bar shows jobs that have a ``label`` with their progress
and a Cancel button when ``cancellable``; a ``background`` job (paragraph vectors) only when
no other job is running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

FINISHED, FAILED, CANCELLED = "finished", "failed", "cancelled"


class JobTracker(QObject):
    """Announces running jobs so a status bar can show them (lives on the GUI thread)."""

    started = Signal(object)
    finished = Signal(object)
    progressed = Signal(object)

    def __init__(self):
        super().__init__()
        self.running: list[Job] = []


class _TrackerProxy:
    """Creates the tracker lazily (a QObject needs a QCoreApplication's thread)."""

    _obj: JobTracker | None = None

    def __getattr__(self, name):
        if _TrackerProxy._obj is None:
            _TrackerProxy._obj = JobTracker()
        return getattr(_TrackerProxy._obj, name)


tracker: Any = _TrackerProxy()


class Watch:
    """Connections made by :meth:`Job.watch`; ``stop()`` undoes them."""

    def __init__(self, connections: list):
        self._connections = connections

    def stop(self) -> None:
        for connection in self._connections:
            try:
                QObject.disconnect(connection)
            except (RuntimeError, TypeError):  # the job is gone already
                pass
        self._connections = []


class LatestJob:
    """The one job a widget waits for (the answer being written, the paper being loaded):
    starting the next one drops the one before, which is cancelled and no longer heard.
    This replaces request-id checks in every slot::

        self.load = LatestJob()
        self.load.start(run_op(self, fn), finished=self._loaded)   # _loaded hears only this op
        self.load.drop()                                           # another paper: forget it
    """

    def __init__(self):
        self._job: Job | None = None
        self._watch: Watch | None = None

    def start(self, job: Job, **slots: Callable) -> Job:
        """Drop the job before, then listen to ``job`` (``signal_name=slot`` pairs)."""
        self.drop()
        self._job, self._watch = job, job.watch(**slots)
        return job

    def drop(self) -> None:
        """Cancel the job (if it still runs) and stop listening to it."""
        job, watch, self._job, self._watch = self._job, self._watch, None, None
        if job is not None:
            job.cancel()
            watch.stop()

    @property
    def job(self) -> Job | None:
        """The job, while it runs (None once it ended or was dropped)."""
        return self._job if self._job is not None and not self._job.done else None

    @property
    def last(self) -> Job | None:
        """The job last started, also once it ended (None once dropped)."""
        return self._job


class Job(QObject):
    """Handle of one background request (created on the GUI thread)."""

    started = Signal(str)
    progress = Signal(int, int, str)
    update = Signal(str, str, str)  # an answer so far: AnswerUpdate.to_fields()
    summary = Signal(str, str, str, str)  # a summary so far: SummaryUpdate.to_fields()
    token = Signal(str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    ended = Signal()

    # worker side -> GUI side (queued: the job lives on the GUI thread).  Plain values only
    # while it streams: PySide6 6.12 segfaulted under load with a Python object per token
    _x_started = Signal(str)
    _x_progress = Signal(int, int, str)
    _x_update = Signal(str, str, str)
    _x_summary = Signal(str, str, str, str)
    _x_token = Signal(str)
    _x_end = Signal(str, object)  # outcome, then the result (or message) once

    def __init__(self, label: str = "", *, kind: str = "", cancellable: bool = True, background: bool = False):
        super().__init__()  # no Qt parent: kept alive by the tracker until it ended
        self.label = label
        self.kind = kind  # what it does (model jobs: "ask", "prepare", ...)
        self.cancellable = cancellable
        self.background = background  # work nobody waits for (indexing): the status bar shows it last
        self.cancel_event = threading.Event()
        self.done = False
        self.outcome = ""  # FINISHED, FAILED or CANCELLED once done
        self.result = None
        self.message = ""  # the one-line failure message
        self.last_progress: tuple[int, int, str] = (0, 0, "")
        # queued even from the GUI thread: a caller connects to the job after it was returned
        queued = Qt.ConnectionType.QueuedConnection
        self._x_started.connect(self._deliver_started, queued)
        self._x_progress.connect(self._deliver_progress, queued)
        self._x_update.connect(self._deliver_update, queued)
        self._x_summary.connect(self._deliver_summary, queued)
        self._x_token.connect(self._deliver_token, queued)
        self._x_end.connect(self._deliver_end, queued)
        tracker.running.append(self)
        tracker.started.emit(self)

    # ---- GUI side ---------------------------------------------------------------------
    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def is_cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def watch(self, **slots: Callable) -> Watch:
        """Connect ``signal_name=slot`` pairs (``finished=self._done``, ...)."""
        return Watch([getattr(self, name).connect(slot) for name, slot in slots.items()])

    # ---- any thread -------------------------------------------------------------------
    def post_started(self) -> None:
        self._send(self._x_started, self.label)

    def post_progress(self, done: int, total: int, text: str = "") -> None:
        self._send(self._x_progress, int(done), int(total), str(text))

    def post_update(self, text: str, evidence: str, phase: str) -> None:
        self._send(self._x_update, str(text), str(evidence), str(phase))

    def post_summary(self, section: str, title: str, text: str, phase: str) -> None:
        self._send(self._x_summary, str(section), str(title), str(text), str(phase))

    def post_token(self, text: str) -> None:
        self._send(self._x_token, str(text))

    def post_finished(self, result) -> None:
        self._send(self._x_end, FINISHED, result)

    def post_failed(self, message: str) -> None:
        self._send(self._x_end, FAILED, " ".join(str(message).split()))

    def post_cancelled(self) -> None:
        self._send(self._x_end, CANCELLED, None)

    @staticmethod
    def _send(signal, *values) -> None:
        try:
            signal.emit(*values)
        except RuntimeError:  # the app is shutting down and the job's QObject is gone
            pass

    # ---- delivery (GUI thread) --------------------------------------------------------
    @Slot(str)
    def _deliver_started(self, label: str) -> None:
        if not self.done:
            self.started.emit(label)

    @Slot(int, int, str)
    def _deliver_progress(self, done: int, total: int, text: str) -> None:
        if self.done:
            return
        self.last_progress = (done, total, text)
        tracker.progressed.emit(self)
        self.progress.emit(done, total, text)

    @Slot(str, str, str)
    def _deliver_update(self, text: str, evidence: str, phase: str) -> None:
        if not self.done:
            self.update.emit(text, evidence, phase)

    @Slot(str, str, str, str)
    def _deliver_summary(self, section: str, title: str, text: str, phase: str) -> None:
        if not self.done:
            self.summary.emit(section, title, text, phase)

    @Slot(str)
    def _deliver_token(self, text: str) -> None:
        if not self.done:
            self.token.emit(text)

    @Slot(str, object)
    def _deliver_end(self, outcome: str, value) -> None:
        if self.done:
            return
        self.done, self.outcome = True, outcome
        try:
            self._before_end(outcome, value)
            if outcome == FINISHED:
                self.result = value
                self.finished.emit(value)
            elif outcome == FAILED:
                self.message = value
                self.failed.emit(value)
            else:
                self.cancelled.emit()
            self.ended.emit()
        finally:
            if self in tracker.running:
                tracker.running.remove(self)
            tracker.finished.emit(self)

    def _before_end(self, outcome: str, value) -> None:
        """Subclasses' hook, called on the GUI thread before the public signal."""

