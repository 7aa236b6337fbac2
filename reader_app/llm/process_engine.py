"""``ProcessEngine``: the model in its own process, behind the ``Engine`` interface.

llama.cpp can die in ways Python cannot catch: an illegal instruction (a build that
uses CPU instructions this machine lacks), an out-of-memory kill, a ggml assert.  In
the window's process that would take the window, the reader's typing and the session
with it.  So the engine runs in a child process (``engine_child.EngineService`` in a
``reader_app.core.child.Child``) and this proxy talks to it:

- tokens stream back as they are generated;
- ``cancel`` returns at once; the child stops between tokens (or prompt batches);
- token counts, chat templates and KV caching (RAM, then the disk cache) work as in
  the child's engine - ``complete(prefix, "", max_tokens=0)`` evaluates a prefix and
  saves its state; each generation's results come back whole, as a ``Generation``;
- when the child dies, the request fails with ``ModelCrashed`` - one line that names
  the signal in words and says what to do - and the next request starts a new child;
- ``close()`` ends the child, which frees all of the model's memory.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

from reader_app.llm.engine import Engine, EngineInfo, GenerateOptions, Generation
from reader_app.core.child import Child
from reader_app.core.child_wire import exit_signal, exit_words
from reader_app.core.errors import HelperProcessError, ModelCrashed, ModelError, ReaderError
from reader_app.core.model import Timings

LLAMA_TARGET = "reader_app.llm.llama_engine:LlamaEngine"
SERVICE = "reader_app.llm.engine_child:EngineService"
_POLL_S = 0.05  # how often a waiting stream looks at its cancel event (none given: it just waits)
_TOKEN_CACHE = 8192  # count_tokens results remembered (texts are counted again and again)

SIGILL_MESSAGE = ("The model stopped unexpectedly (illegal instruction): this llama.cpp build uses CPU "
                  "instructions this machine cannot run. Rebuild llama-cpp-python as README › Rebuild "
                  "llama.cpp says.")
RESTART_HINT = "Ask again to restart it."


def crash_message(returncode: int | None, detail: str = "") -> str:
    """The one line for a child that ended with ``returncode`` (negative: a signal)."""
    if exit_signal(returncode) == signal.SIGILL:
        return SIGILL_MESSAGE
    words = exit_words(returncode)
    detail = " ".join(detail.split())
    if detail:
        words += f": {detail[:160]}"
    return f"The model stopped unexpectedly ({words}). {RESTART_HINT}"


def _crashed(code: int | None, stderr_tail: list[str]) -> ModelCrashed:
    detail = ""
    if exit_signal(code) == signal.SIGABRT:  # a failed ggml assert says why
        detail = next((ln for ln in reversed(stderr_tail) if "assert" in ln.lower() or "error" in ln.lower()), "")
    return ModelCrashed(crash_message(code, detail))


def _internal(message: str) -> ModelError:
    return ModelError(f"internal error in the model process: {message}")


class ProcessEngine(Engine):
    """Any engine (by default ``LlamaEngine``) run in a child process.

    ``target`` is the engine class or factory as ``"module:name"``; ``kwargs`` are
    passed to it in the child.  Construction waits until the model is loaded (a
    ModelError, or ModelCrashed, when it cannot be).
    """

    def __init__(self, target: str = LLAMA_TARGET, **kwargs):
        self.target = target
        self.kwargs = kwargs
        self._child: Child | None = None
        self._closed = False
        self._counts: dict[str, int] = {}
        self._lock = threading.RLock()
        self.info = EngineInfo()
        self.restarts = -1  # how many times a child was started after the first
        self._key: str | None = None
        self._start()

    # -- the child

    def _start(self) -> None:
        try:
            child = Child(SERVICE, self.target, self.kwargs, name="reader-model", on_death=_crashed,
                          internal=_internal)
        except HelperProcessError as exc:
            raise ModelError(str(exc)) from None
        self._child = child
        self.restarts += 1
        try:
            child.ready()
            self.info = child.call("info")
        except ModelCrashed:
            raise
        except BaseException:
            child.stop()
            raise
        info = self.info
        self.name, self.backend, self.n_ctx = info.name, info.backend, info.n_ctx
        self.parameters, self.threads, self.model_path = info.parameters, info.threads, info.model_path
        self.trained_ctx, self.chat_template = info.trained_ctx, info.chat_template

    def _live(self) -> Child:
        with self._lock:
            if self._closed:
                raise ModelError(f"the model {self.name} was closed")
            if self._child is None or self._child.dead:
                self._start()
            return self._child  # type: ignore[return-value]

    @property
    def pid(self) -> int | None:
        """The child's process id (None when none runs)."""
        child = self._child
        return None if child is None or child.dead else child.pid

    def _call(self, op: str, *args):
        return self._live().call(op, *args)

    # -- Engine

    @property
    def key(self) -> str:  # type: ignore[override]
        if self._key is None:
            self._key = self._call("key")
        return self._key

    def count_tokens(self, text: str) -> int:
        n = self._counts.get(text)
        if n is None:
            n = self._call("count_tokens", text)
            if len(self._counts) >= _TOKEN_CACHE:
                self._counts.clear()
            self._counts[text] = n
        return n

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        return self._call("tokenize", text, add_bos)

    def chat_prefix_suffix(self, system: str, user_prefix: str, user_tail: str) -> tuple[str, str]:
        prefix, suffix, self.template_used = self._call("chat", system, user_prefix, user_tail)
        return prefix, suffix

    def _run(self, out: Generation, prefix: str, suffix: str, opts: GenerateOptions,
             cancel: threading.Event | None) -> Iterator[str]:
        start = time.perf_counter()
        child = self._live()
        rid = child.request("generate", prefix, suffix, opts)
        done = False
        ttft = None
        n = 0
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    break  # return now; the child stops on its own
                msg = child.next(rid, _POLL_S if cancel is not None else None)
                if msg is None:
                    continue
                kind, value = msg
                if kind == "ok":
                    done = True
                    out.take(value)
                    break
                if ttft is None:
                    ttft = time.perf_counter() - start
                for piece in value:  # a few at a time from a fast model; given one by one
                    if cancel is not None and cancel.is_set():
                        break  # nothing more once cancelled, not even the rest of this batch
                    n += 1
                    yield piece
        finally:
            if not done:
                total = time.perf_counter() - start
                out.timings = Timings(ttft_s=ttft if ttft is not None else total, total_s=total,
                                      completion_tokens=n)
                if not child.dead:
                    child.cancel(rid)
                    if ttft is not None and not (cancel is not None and cancel.is_set()):
                        self._finish(out, child, rid, ttft)  # the caller stopped reading: keep the results
                child.forget(rid)

    def _finish(self, out: Generation, child: Child, rid: int, ttft: float, timeout: float = 2.0) -> None:
        """Wait (briefly) for a stopped generation's end, for its results; drop its pieces."""
        end = time.monotonic() + timeout
        try:
            while (left := end - time.monotonic()) > 0:
                msg = child.next(rid, left)
                if msg is None:
                    return
                if msg[0] == "ok":
                    out.take(msg[1])
                    out.timings.ttft_s = ttft  # the caller's first piece; the rest was discarded
                    return
        except ReaderError:  # (it failed, died or was closed: the next request reports or restarts)
            return

    def close(self) -> None:
        with self._lock:
            self._closed = True
            child, self._child = self._child, None
        if child is not None:
            child.stop()
