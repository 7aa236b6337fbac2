"""Paragraph vectors in the background: the thread that owns the embedding model.

``EmbedWorker`` is a ``QThread`` of its own, never the language model's: the embedder is a
separate small llama.cpp model (``llm/embedder.py``) run with one thread at the lowest CPU
priority.  Its first request opens the model (``hybrid.open_retrieval``) twice: one copy
for its own batches, one for questions, so that a question never waits for a batch (the
model is 25 MB).  Then ``opened(name)``, or ``unavailable(line)`` with the one line to
show (ranking stays by words; every later ``index`` returns None).  ``on_open(embedder)``
(app.py) is called on this thread with the questions' copy: there the app's shared ranker
becomes the hybrid one, whose ``on_missing`` is ``wanted`` here.  Both copies are closed
when the worker stops (app.py turns the ranker back to words first)::

    job = worker.index()          # every paper of the library without fresh vectors
    job = worker.index([ids])     # these (just imported, or asked about), first
    job.progress(done, total, "3 of 12 papers")
    job.finished(papers_done)     # nothing left to compute
    worker.indexed(paper_id)      # one paper's vectors are in (app.py: the ranker forgets its rankings)

``index`` returns the one running indexing job (a later call adds to it and its total
grows; the job's ``kind`` is "index").  The status bar shows it as "Indexing by meaning… 3
of 12 papers" after the reader's own jobs (``background``); its Cancel ends this run (papers
imported or asked about later start another).  A paper is computed one batch of
paragraphs (``hybrid.BATCH``) at a time, and the worker gives way to questions: while the
language model answers (a job of kind ask, ask_library or summarize on the tracker) it waits
between batches.  A paper removed meanwhile is skipped; one that fails is logged and
skipped for this session.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QThread, Qt, Signal, Slot

from reader_app.assistant import hybrid
from reader_app.core.errors import Cancelled, NotFound, ReaderError
from reader_app.ui.background.jobs import Job, tracker

log = logging.getLogger("reader_app.ui")
LABEL = "Indexing by meaning"
PAUSED = " (waiting for the answer)"
YIELD_TO = ("ask", "ask_library", "summarize")  # model jobs the reader waits for
_still_running: list = []  # workers that outlived shutdown(); never garbage-collected


def papers_text(done: int, total: int) -> str:
    return f"{done} of {total} paper{'s' if total != 1 else ''}"


class EmbedWorker(QThread):
    opened = Signal(str)  # the embedding model's name: ranking by words and meaning
    unavailable = Signal(str)  # the one line saying why ranking is by words only
    indexed = Signal(str)  # a paper's vectors were just computed (its id)
    _x_wanted = Signal(str)  # a paper asked about without vectors (any thread) -> index([id])
    _x_opened = Signal(str)  # worker thread -> GUI thread (queued), then the public signals
    _x_unavailable = Signal(str)
    _x_indexed = Signal(str)

    def __init__(self, library_opener: Callable[[], Any], *, on_open: Callable[[Any], None] | None = None,
                 embedder_path=None, parent=None):
        super().__init__(parent)
        self.setObjectName("embed-worker")
        self._library_opener = library_opener
        self._on_open = on_open
        self._path = embedder_path
        self._cond = threading.Condition()
        self._todo: list[str] = []  # paper ids, next first
        self._scan = False  # look for papers without fresh vectors
        self._seen: set[str] = set()  # computed (or failed) this session: a scan does not bring them back
        self._job: Job | None = None
        self._done = 0  # papers done in the current job
        self._current = 0  # 1 while a paper is being computed
        self._stopping = False
        self._go = threading.Event()  # clear while the reader waits for the language model
        self._go.set()
        self.state = "none"  # none, opening, on, off (read on the GUI thread)
        self.model_name = ""  # the embedding model's, once open
        queued = Qt.ConnectionType.QueuedConnection
        self._x_wanted.connect(self._index_one, queued)
        self._x_opened.connect(self.opened, queued)  # delivered on the GUI thread, whatever listens
        self._x_unavailable.connect(self.unavailable, queued)
        self._x_indexed.connect(self.indexed, queued)
        tracker.started.connect(self._jobs_changed)
        tracker.finished.connect(self._jobs_changed)

    # ---- GUI thread -----------------------------------------------------------------------
    def index(self, paper_ids: list[str] | None = None) -> Job | None:
        """Compute the vectors of ``paper_ids`` first (None: of every paper without fresh
        ones); the running indexing job, or None when there is nothing to do or no model."""
        if self._stopping or self.state == "off" or (paper_ids is not None and not paper_ids):
            return self._job
        with self._cond:
            if self._job is None:
                self._job = Job(LABEL, kind="index", cancellable=True, background=True)
                self._done = 0
            if paper_ids is None:
                self._scan = True
            for pid in reversed(paper_ids or []):
                if pid in self._todo:
                    self._todo.remove(pid)
                self._todo.insert(0, pid)
                self._seen.discard(pid)  # asked for by name: computed again if stale
            job = self._job
            self._cond.notify_all()
        if not self.isRunning():
            self.state = "opening" if self.state == "none" else self.state
            self.start(QThread.Priority.LowestPriority)
        return job

    @property
    def job(self) -> Job | None:
        """The running indexing job."""
        with self._cond:
            return self._job

    def wanted(self, paper_id: str) -> None:
        """Any thread: a paper was ranked by words because its vectors are not there yet
        (``hybrid_ranker``'s ``on_missing``); it is computed next."""
        self._send(self._x_wanted, paper_id)

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Stop after the batch under way (a fraction of a second) and close the model."""
        with self._cond:
            self._stopping = True
            job = self._job
            self._cond.notify_all()
        self._go.set()
        if job is not None:
            job.cancel()
        if self.isRunning() and not self.wait(timeout_ms):
            _still_running.append(self)

    @Slot(str)
    def _index_one(self, paper_id: str) -> None:
        self.index([paper_id])

    def _jobs_changed(self, _job=None) -> None:
        busy = any(j.kind in YIELD_TO and not j.done for j in tracker.running)
        self._go.clear() if busy else self._go.set()

    @property
    def giving_way(self) -> bool:
        """The reader waits for the language model: batches wait until it is done."""
        return not self._go.is_set()

    @staticmethod
    def _send(signal, *values) -> None:
        try:
            signal.emit(*values)
        except RuntimeError:  # shutting down: the worker's QObject is gone
            pass

    # ---- worker thread --------------------------------------------------------------------
    def run(self) -> None:  # noqa: D401 - QThread entry point
        embedder, note = hybrid.open_retrieval(self._path, threads=1)
        if embedder is None:
            self._give_up(note)
            return
        asker, _note = hybrid.open_retrieval(self._path, threads=1)  # the questions' own copy
        _lower_priority()
        lib = None
        try:
            if self._on_open is not None:
                self._on_open(asker if asker is not None else embedder)
            self.state, self.model_name = "on", embedder.name
            self._send(self._x_opened, embedder.name)
            lib = self._library_opener()
            while self._work_on(lib, embedder):
                pass
        except Exception:  # noqa: BLE001 - a bug here must not take the window down; ranking goes on by words
            log.error("the embedding worker stopped", exc_info=True)
            self._end_job(failed="retrieval by meaning stopped (details are in the log)")
        finally:
            embedder.close()
            if asker is not None:
                asker.close()
            if lib is not None:
                lib.close()

    def _give_up(self, note: str) -> None:
        self.state = "off"
        log.info("%s", note)
        self._send(self._x_unavailable, note)
        self._end_job(failed=note)

    def _work_on(self, lib, embedder) -> bool:
        """One step: a scan, one paper, or a wait for work.  False once stopping."""
        with self._cond:
            while not (self._stopping or self._todo or self._scan):
                self._end_job_locked()
                self._cond.wait()
            if self._stopping:
                self._end_job_locked(cancelled=True)
                return False
            job = self._job
            if job is not None and job.is_cancelled:
                self._todo.clear()
                self._scan = False
                self._end_job_locked(cancelled=True)
                return True
            scan, self._scan = self._scan, False
            pid = self._todo.pop(0) if self._todo and not scan else None
        if scan:
            try:
                found = lib.papers_without_vectors(embedder.name)
            except ReaderError as exc:  # e.g. the library busy: the papers asked for by name still come
                log.warning("could not look for papers without vectors: %s", exc)
                found = []
            with self._cond:
                self._todo += [p for p in found if p not in self._todo and p not in self._seen]
            self._report()
            return True
        with self._cond:
            self._current = 1
        self._report()
        finished = self._embed(lib, embedder, pid, job)
        with self._cond:
            self._current = 0
            if finished:
                self._seen.add(pid)
                self._done += 1
        if finished:
            self._send(self._x_indexed, pid)
        self._report()
        return True

    def _embed(self, lib, embedder, pid: str, job: Job) -> bool:
        """Compute one paper's vectors: False when stopped before the end."""
        def between(_done: int, _todo: int) -> None:
            said = False
            while True:
                if self._stopping or job.is_cancelled:
                    raise Cancelled("stopped")
                if self._go.wait(0 if not said else 0.2):
                    if said:
                        self._report()
                    return
                if not said:
                    said = True
                    self._report(PAUSED)

        try:
            hybrid.embed_paper(lib, pid, embedder, between=between)
        except Cancelled:
            return False
        except NotFound:  # removed while it waited
            pass
        except ReaderError as exc:  # the library busy, the model failing on this text: the next paper
            log.warning("no paragraph vectors for paper %s: %s", pid[:12], exc)
        return True

    def _report(self, note: str = "") -> None:
        with self._cond:
            job, done, total = self._job, self._done, self._done + self._current + len(self._todo)
        if job is not None and total:
            job.post_progress(done, total, papers_text(done, total) + note)

    def _end_job(self, failed: str = "") -> None:
        with self._cond:
            self._end_job_locked(failed=failed)

    def _end_job_locked(self, cancelled: bool = False, failed: str = "") -> None:
        job, self._job = self._job, None
        if job is None:
            return
        if failed:
            job.post_failed(failed)
        elif cancelled or job.is_cancelled:
            job.post_cancelled()
        else:
            job.post_finished(self._done)


def _lower_priority() -> None:
    """This thread at the lowest CPU priority (Linux: a thread's own nice value), so the
    language model and the window always come first."""
    if not sys.platform.startswith("linux"):
        return  # elsewhere QThread's LowestPriority is what there is
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass
