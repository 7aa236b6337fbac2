"""The one thread that owns the language model.

``LlmWorker`` is a ``QThread`` that holds the ``Engine`` (one ``Llama`` on one thread) and
the ``Assistant``.  The GUI never calls either directly: it queues a request and reacts
to signals, which Qt delivers on the GUI thread (queued connections).

Requests run one after another, in the order they were queued.  Each returns its own
:class:`LlmJob` (a ``ui.background.jobs.Job``, as ``ui.background.ops.run_op`` returns for other work); the
caller connects to the job it started and to nothing else::

    job = worker.ask(paper_id, "What dataset?")   # selection=Selection(text, page)
    job.update.connect(lambda text, evidence, phase: ...)  # AnswerUpdate.to_fields()
    job.summary.connect(lambda section, title, text, phase: ...)  # summaries so far
    job.progress.connect(lambda done, total, label: ...)
    job.finished.connect(lambda result: ...)      # Answer / list[dict] / ...
    job.failed.connect(lambda message: ...)       # one line, never a traceback
    job.cancelled.connect(lambda: ...)
    job.cancel()                                  # Stop button

The model is loaded lazily on the worker thread, by the first request that needs it, and
again after ``configure()`` changed the settings.  ``modelStateChanged(state, detail)``
tells the GUI about it: ``"none"`` (nothing loaded yet), ``"loading"`` (detail: model),
``"ready"`` (detail: model name) or ``"error"`` (detail: a one-line message that says
how to fix it).  Reading and notes never wait for the model.

Papers are read through a ``Library`` the worker opens on its own thread (SQLite
connections are per thread); ``library_opener`` is a callable returning one.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QThread, Signal

from reader_app.assistant.service import Assistant
from reader_app.core.errors import Cancelled, ModelCrashed, ModelError, NotFound, ReaderError
from reader_app.llm.engines import EngineConfig, open_engine
from reader_app.ui.background.jobs import Job

log = logging.getLogger("reader_app.ui")
_still_running: list = []  # workers that outlived shutdown(); never garbage-collected
NO_MODEL_HINT = "choose one in Settings or run `reader-app models add FILE.gguf`"


def no_model_message(detail: str = "") -> str:
    """The one line the Ask panel shows when no model can be used."""
    detail = " ".join(str(detail).split())
    head = f"No model ({detail})" if detail else "No model"
    return f"{head}: {NO_MODEL_HINT}."


class LlmJob(Job):
    """A request to the model: its ``kind`` (``"ask"``, ``"ask_library"``, ``"prepare"``,
    ``"summarize"``, ``"load"``, ``"call"``); ``preempted`` is set when a preparation was
    cancelled to let another request in (it may resume when the worker is idle)."""

    def __init__(self, kind: str, label: str):
        super().__init__(label, kind=kind, cancellable=True)
        self.preempted = False


@dataclass
class LlmRequest:
    job: LlmJob
    params: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.job.kind

    @property
    def cancel(self) -> threading.Event:
        return self.job.cancel_event


class JobContext:
    """What a request's body sees on the worker thread."""

    def __init__(self, worker: LlmWorker, request: LlmRequest):
        self._worker = worker
        self.request = request
        self.job = request.job
        self.cancel = request.cancel

    @property
    def engine(self):
        return self._worker.ensure_engine(self.job)

    @property
    def assistant(self):
        return self._worker.ensure_assistant(self.job)

    @property
    def library(self):
        return self._worker.ensure_library()

    def on_token(self, text: str) -> None:
        if not self.cancel.is_set():
            self.job.post_token(text)

    def on_update(self, update) -> None:
        if not self.cancel.is_set():
            self.job.post_update(*update.to_fields())

    def on_summary(self, update) -> None:
        if not self.cancel.is_set():
            self.job.post_summary(*update.to_fields())

    def progress(self, label: str, done: int = 0, total: int = 0) -> None:
        self.job.post_progress(done, total, label)

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("stopped")


def _default_engine_factory(**kwargs):
    return open_engine(EngineConfig(**kwargs))


def _default_assistant_factory(engine, library, ranker=None):
    return Assistant(engine, library=library, ranker=ranker)


class LlmWorker(QThread):
    modelStateChanged = Signal(str, str)  # state, detail
    idle = Signal()  # the queue ran empty

    def __init__(self, library_opener: Callable[[], Any] | None = None, *,
                 config: EngineConfig | None = None,
                 engine_factory: Callable[..., Any] | None = None,
                 assistant_factory: Callable[[Any, Any], Any] | None = None,
                 ranker=None, parent=None):
        super().__init__(parent)
        self.setObjectName("llm-worker")
        self._library_opener = library_opener
        self._engine_factory = engine_factory or _default_engine_factory
        self._assistant_factory = assistant_factory or (
            lambda engine, library: _default_assistant_factory(engine, library, ranker))
        self._queue: queue.Queue[LlmRequest | None] = queue.Queue()
        self._lock = threading.Lock()
        self._pending: list[LlmRequest] = []  # queued or running
        self._config = config or EngineConfig()
        self._loaded_config: EngineConfig | None = None
        self._engine = None
        self._assistant = None
        self._assistant_engine = None  # the engine self._assistant was made with
        self._library = None
        self._stopping = False
        # Read from the GUI thread; written by _set_state (worker thread) only.
        self.model_state = "none"
        self.model_detail = ""

    # ---- GUI-thread API -------------------------------------------------------------
    def configure(self, config: EngineConfig) -> None:
        """Use these settings from the next request on (the model reloads lazily)."""
        with self._lock:
            changed, self._config = config != self._config, config
        if changed and self.model_state == "error":  # the "No model" advice is stale now
            self._set_state("none", "")

    @property
    def config(self) -> EngineConfig:
        with self._lock:
            return self._config

    def load(self) -> LlmJob:
        """Load (or reload) the model now, e.g. at start-up or after Settings."""
        return self._submit("load", "Loading model")

    def ask(self, paper_id: str, question: str, *, mode: str = "doubledipper", k: int = 3,
            selection=None, quick: bool = False) -> LlmJob:
        """``selection``: a ``core.model.Selection`` the question is about; ``quick``: a quick
        answer from the paper's best passages (``Assistant.ask_quick``), for a paper still
        being prepared (``mode`` and ``k`` are then unused)."""
        return self._submit("ask", "Quick answer" if quick else "Answering", paper_id=paper_id, question=question,
                            mode=mode, k=k, selection=selection, quick=bool(quick))

    def ask_library(self, question: str, scope=None, *, selection=None) -> LlmJob:
        """A question across the papers of ``scope`` (a ``core.model.Scope``; None: the whole
        library), answered by ``Assistant.ask_library``; its citations name their papers."""
        return self._submit("ask_library", "Answering across papers", question=question, scope=scope,
                            selection=selection)

    def prepare(self, paper_id: str, *, mode: str = "doubledipper", k: int = 3) -> LlmJob:
        """Prepare a paper for questions (windows, demonstrations, saved prefix states);
        progress reports percent done (done of 100).  Any other request preempts it: the
        job is cancelled with ``preempted`` set."""
        return self._submit("prepare", "Preparing for questions", paper_id=paper_id, mode=mode, k=k)

    def summarize(self, paper_id: str, section_index: int | str | None = None, *,
                  force: bool = False, label: str | None = None) -> LlmJob:
        """``section_index``: an int, ``"tldr"`` or ``"all"``; ``label`` for the status bar.
        The summary streams as ``summary`` updates (``SummaryUpdate.to_fields()``)."""
        label = label or ("Summarising" if section_index != "tldr" else "Writing the TL;DR")
        return self._submit("summarize", label, paper_id=paper_id, section_index=section_index, force=force)

    def call(self, fn: Callable[[JobContext], Any], label: str = "Working") -> LlmJob:
        """Run ``fn(ctx)`` on the worker thread; its return value is the result."""
        return self._submit("call", label, fn=fn)

    def cancel_all(self) -> None:
        with self._lock:
            jobs = [req.job for req in self._pending]
        for job in jobs:
            job.cancel()

    def shutdown(self, timeout_ms: int = 60000) -> None:
        """Cancel everything, stop the thread and close the engine.

        Cancelling takes effect between tokens or prompt batches (a few seconds at most);
        model loading cannot be interrupted.  A thread still busy after ``timeout_ms`` is
        kept referenced so that Qt never destroys a running thread."""
        self._stopping = True
        self.cancel_all()
        self._queue.put(None)
        if self.isRunning() and not self.wait(timeout_ms):
            _still_running.append(self)

    def _submit(self, kind: str, label: str, **params) -> LlmJob:
        req = LlmRequest(LlmJob(kind, label), params)
        if self._stopping:  # after shutdown(): nothing runs any more
            req.job.post_cancelled()
            return req.job
        with self._lock:
            if kind != "prepare":  # background preparation gives way to what the reader asked for
                for other in self._pending:
                    if other.kind == "prepare" and not other.job.is_cancelled:
                        other.job.preempted = True
                        other.job.cancel()
            self._pending.append(req)
        if not self.isRunning() and not self._stopping:
            self.start()
        self._queue.put(req)
        return req.job

    # ---- worker thread -----------------------------------------------------------------
    def run(self) -> None:  # noqa: D401 - QThread entry point
        while True:
            req = self._queue.get()
            if req is None:
                break
            try:
                self._run_one(req)
            finally:
                with self._lock:
                    self._pending.remove(req)
                    empty = not self._pending
                if empty:
                    self.idle.emit()
        self._close()

    def _run_one(self, req: LlmRequest) -> None:
        job = req.job
        if job.is_cancelled:
            job.post_cancelled()
            return
        job.post_started()
        try:
            result = self._dispatch(JobContext(self, req))
        except Cancelled:
            job.post_cancelled()
            return
        except ModelCrashed as exc:  # the model's process died; the window lives on
            log.warning("model process crashed: %s", exc)
            if self.model_state != "error":  # (it did load once: the next request loads it again)
                self._close_engine()
                self._set_state("none", "")
            job.post_failed(_one_line(exc))
            return
        except ModelError as exc:
            job.post_failed(no_model_message(str(exc)) if self.model_state == "error" else _one_line(exc))
            return
        except ReaderError as exc:
            job.post_failed(_one_line(exc))
            return
        except Exception as exc:  # never a traceback in the GUI; it goes to the log
            log.error("LLM request %r failed", job.label, exc_info=True)
            job.post_failed(f"Internal error: {_one_line(exc) or type(exc).__name__}")
            return
        if job.is_cancelled:
            job.post_cancelled()
        else:
            job.post_finished(result)

    def _dispatch(self, ctx: JobContext):
        req = ctx.request
        p = req.params
        if req.kind == "load":
            self.ensure_engine(req.job, force=True)
            return self._engine.name
        if req.kind == "call":
            return p["fn"](ctx)
        assistant = ctx.assistant
        if req.kind == "ask_library":
            ctx.check()
            return assistant.ask_library(p["question"], p.get("scope"), on_token=ctx.on_token,
                                         on_update=ctx.on_update, cancel=req.cancel, progress=ctx.progress,
                                         selection=p.get("selection"))
        paper = self._paper(p["paper_id"])
        ctx.check()
        if req.kind == "ask" and p.get("quick"):
            return assistant.ask_quick(paper, p["question"], on_token=ctx.on_token, on_update=ctx.on_update,
                                       cancel=req.cancel, progress=ctx.progress, selection=p.get("selection"))
        if req.kind == "ask":
            ctx.progress("Reading the paper")
            # progress: "Writing example question i of k from the paper ...", then "Answering"
            return assistant.ask(paper, p["question"], mode=p["mode"], k=p["k"], on_token=ctx.on_token,
                                 on_update=ctx.on_update, cancel=req.cancel, progress=ctx.progress,
                                 selection=p.get("selection"))
        if req.kind == "prepare":
            return assistant.prepare(paper, mode=p["mode"], k=p["k"], cancel=req.cancel,
                                     progress=lambda f, label: ctx.progress(label, int(f * 100), 100))
        if req.kind == "summarize":
            ctx.progress(req.job.label)
            return assistant.summarize(paper, p["section_index"], on_update=ctx.on_summary, cancel=req.cancel,
                                       force=bool(p.get("force")), progress=ctx.progress)
        raise ReaderError(f"unknown request {req.kind!r}")

    def _paper(self, paper_id: str):
        lib = self.ensure_library()
        if lib is None:
            raise ReaderError("no library is open")
        try:
            return lib.get_paper(paper_id)
        except NotFound:  # removed while the request waited
            raise NotFound("this paper is no longer in the library") from None

    def ensure_library(self):
        if self._library is None and self._library_opener is not None:
            self._library = self._library_opener()
        return self._library

    def ensure_engine(self, job: LlmJob, force: bool = False):
        cfg = self.config
        if self._engine is not None and not force and cfg == self._loaded_config:
            return self._engine
        self._close_engine()
        label = cfg.model or (cfg.base_url if cfg.backend != "llama" else "") or "default model"
        self._set_state("loading", label)
        job.post_progress(0, 0, f"Loading {label}")
        try:
            self._engine = self._engine_factory(**cfg.kwargs())
        except ModelCrashed as exc:  # e.g. an illegal instruction while loading: say what to do
            self._set_state("error", _one_line(exc))
            raise
        except ModelError as exc:
            self._set_state("error", no_model_message(str(exc)))
            raise
        except ReaderError as exc:  # e.g. a server backend without its URL
            self._set_state("error", f"{_one_line(exc)}. Fix it in Settings.")
            raise
        except Exception as exc:  # a corrupt file can raise anything from llama.cpp
            self._set_state("error", no_model_message(_one_line(exc)))
            raise ModelError(_one_line(exc)) from exc
        self._loaded_config = cfg
        self._set_state("ready", getattr(self._engine, "name", "") or label)
        return self._engine

    def ensure_assistant(self, job: LlmJob):
        engine = self.ensure_engine(job)
        if self._assistant is None or self._assistant_engine is not engine:
            self._assistant = self._assistant_factory(engine, self.ensure_library())
            self._assistant_engine = engine
        return self._assistant

    def _set_state(self, state: str, detail: str) -> None:
        self.model_state, self.model_detail = state, detail
        self.modelStateChanged.emit(state, detail)

    def _close_engine(self) -> None:
        self._assistant = None
        self._assistant_engine = None
        if self._engine is not None:
            try:
                self._engine.close()
            except Exception:
                pass
            self._engine = None
            self._loaded_config = None

    def _close(self) -> None:
        self._close_engine()
        lib, self._library = self._library, None
        close = getattr(lib, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                pass


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
