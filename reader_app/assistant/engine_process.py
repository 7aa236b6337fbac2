"""``ProcessEngine``: the model in its own process, behind the ``Engine`` interface.

llama.cpp can die in ways Python cannot catch: an illegal instruction (a build that
uses CPU instructions this machine lacks), an out-of-memory kill, a ggml assert.  In
the window's process that would take the window, the reader's typing and the session
with it.  So the engine runs in a child process (``engine_child``) and this proxy
talks to it over a socket:

- tokens stream back as they are generated;
- ``cancel`` returns at once; the child stops between tokens (or prompt batches);
- token counts, chat templates and KV caching (RAM, then the disk cache) work as in
  the child's engine - ``complete(prefix, "", max_tokens=0)`` evaluates a prefix and
  saves its state;
- when the child dies, the request fails with ``ModelCrashed`` - one line that names
  the signal in words and says what to do - and the next request starts a new child;
- ``close()`` ends the child, which frees all of the model's memory.
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

from reader_app.assistant.engine_base import Engine
from reader_app.core import errors
from reader_app.core.errors import ModelCrashed, ModelError
from reader_app.core.model import Timings

log = logging.getLogger("reader_app.assistant")

LLAMA_TARGET = "reader_app.assistant.llama_engine:LlamaEngine"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_POLL_S = 0.05  # how often a waiting call looks at its cancel event (none given: it just waits)
_TOKEN_CACHE = 8192  # count_tokens results remembered (texts are counted again and again)

SIGILL_MESSAGE = ("The model stopped unexpectedly (illegal instruction): this llama.cpp build uses CPU "
                  "instructions this machine cannot run. Rebuild llama-cpp-python as README › Rebuild "
                  "llama.cpp says.")
_SIGNAL_WORDS = {
    signal.SIGKILL: "killed — out of memory?",
    signal.SIGABRT: "aborted",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "arithmetic error",
    signal.SIGTERM: "terminated",
}
RESTART_HINT = "Ask again to restart it."


def crash_message(returncode: int | None, detail: str = "") -> str:
    """The one line for a child that ended with ``returncode`` (negative: a signal)."""
    if returncode is not None and returncode < 0:
        sig = -returncode
        if sig == signal.SIGILL:
            return SIGILL_MESSAGE
        words = _SIGNAL_WORDS.get(sig)
        if words is None:
            try:
                words = (signal.strsignal(sig) or f"signal {sig}").lower()
            except ValueError:
                words = f"signal {sig}"
    elif returncode is None:
        words = "lost contact"
    else:
        words = f"exit code {returncode}"
    detail = " ".join(detail.split())
    if detail:
        words += f": {detail[:160]}"
    return f"The model stopped unexpectedly ({words}). {RESTART_HINT}"


class _Child:
    """One child process and its socket; ``dead`` once it is gone."""

    def __init__(self):
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        env.pop("PYTHONFAULTHANDLER", None)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "reader_app.assistant.engine_child", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, env=env, close_fds=True)
        except OSError as exc:
            ours.close()
            raise ModelError(f"cannot start the model process: {exc}") from None
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.stderr: collections.deque[str] = collections.deque(maxlen=20)
        threading.Thread(target=self._drain, name="engine-child-stderr", daemon=True).start()
        self.dead = False
        self.send_lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _drain(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                self.stderr.append(line)

    def send(self, msg) -> None:
        try:
            with self.send_lock:
                self.conn.send(msg)
        except OSError:
            self.crashed()

    def recv(self, timeout: float):
        """The next message, None after ``timeout``; ModelCrashed when the child is gone."""
        try:
            if not self.conn.poll(timeout):
                return None
            return self.conn.recv()
        except (EOFError, OSError):
            self.crashed()

    def crashed(self):
        self.dead = True
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # alive but not talking: stop it
            self.kill()
            code = None
        detail = ""
        if code is not None and code < 0 and -code == signal.SIGABRT:
            detail = next((ln for ln in reversed(self.stderr) if "assert" in ln.lower() or "error" in ln.lower()), "")
        message = crash_message(code, detail)
        log.info("model process %s ended (%s); last stderr: %s", self.proc.pid, code, " | ".join(self.stderr))
        self.conn.close()
        raise ModelCrashed(message)

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the child to close its engine and exit; kill it if it does not."""
        if not self.dead:
            try:
                with self.send_lock:
                    self.conn.send(("close",))
            except OSError:
                pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.dead = True
        self.conn.close()


class _Deadline:
    """Looks like a cancel event that becomes set at a monotonic time."""

    def __init__(self, at: float):
        self.at = at

    def is_set(self) -> bool:
        return time.monotonic() >= self.at


class ProcessEngine(Engine):
    """Any engine (by default ``LlamaEngine``) run in a child process.

    ``target`` is the engine class or factory as ``"module:name"``; ``kwargs`` are
    passed to it in the child.  Construction waits until the model is loaded (a
    ModelError, or ModelCrashed, when it cannot be).
    """

    def __init__(self, target: str = LLAMA_TARGET, **kwargs):
        self.target = target
        self.kwargs = kwargs
        self._child: _Child | None = None
        self._closed = False
        self._rid = 0
        self._inbox: dict[int, collections.deque] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.RLock()
        self.last_timings = Timings()
        self.last_cache = ""
        self.template_used = ""
        self.restarts = -1  # how many times a child was started after the first
        self._key: str | None = None
        self._start()

    # -- the child

    def _start(self) -> None:
        child = _Child()
        self._child, self._inbox = child, {}
        self.restarts += 1
        try:
            child.send(("open", self.target, self.kwargs))
            info = self._wait(0, None)
        except ModelCrashed:
            raise
        except BaseException:
            child.stop()
            raise
        for k, v in info.items():
            if v is not None:
                setattr(self, k, v)

    def _live(self) -> _Child:
        if self._closed:
            raise ModelError(f"the model {self.name} was closed")
        if self._child is None or self._child.dead:
            self._start()
        return self._child  # type: ignore[return-value]

    @property
    def pid(self) -> int | None:
        """The child's process id (None when none runs)."""
        return None if self._child is None or self._child.dead else self._child.pid

    def _next_id(self) -> int:
        self._rid += 1
        self._inbox[self._rid] = collections.deque()
        return self._rid

    def _wait(self, rid: int, cancel: threading.Event | None):
        """Messages addressed to ``rid`` until its reply; routes others to their inboxes."""
        child = self._child
        box = self._inbox.setdefault(rid, collections.deque())
        while True:
            if box:
                return self._reply(box.popleft(), rid)
            if cancel is not None and cancel.is_set():
                return None
            msg = child.recv(_POLL_S if cancel is not None else None)
            if msg is None:
                continue
            if msg[1] == rid:
                return self._reply(msg, rid)
            if msg[1] in self._inbox:
                self._inbox[msg[1]].append(msg)
            # else: a late message for a request given up on (cancelled): dropped

    def _reply(self, msg, rid: int):
        kind = msg[0]
        if kind in ("ok", "tok", "end"):
            if kind == "ok":
                self._inbox.pop(rid, None)
                return msg[2]
            return msg
        self._inbox.pop(rid, None)
        cls = getattr(errors, msg[2], None)
        if not (isinstance(cls, type) and issubclass(cls, errors.ReaderError)):
            cls = ModelError
        raise cls(msg[3])

    def _call(self, method: str, *args, **kwargs):
        with self._lock:
            child = self._live()
            rid = self._next_id()
            child.send(("call", rid, method, args, kwargs))
            return self._wait(rid, None)

    # -- Engine

    @property
    def key(self) -> str:  # type: ignore[override]
        if self._key is None:
            with self._lock:
                child = self._live()
                rid = self._next_id()
                child.send(("get", rid, "key"))
                self._key = self._wait(rid, None)
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
        return self._call("tokenize", text, add_bos=add_bos)

    def chat_prefix_suffix(self, system: str, user_prefix: str, user_tail: str) -> tuple[str, str]:
        prefix, suffix = self._call("chat_prefix_suffix", system, user_prefix, user_tail)
        with self._lock:
            child = self._live()
            rid = self._next_id()
            child.send(("get", rid, "template_used"))
            self.template_used = self._wait(rid, None) or ""
        return prefix, suffix

    def stream(self, prefix: str, suffix: str = "", *, max_tokens: int = 256, temperature: float = 0.0,
               seed: int = 0, stop: list[str] | None = None, grammar: str | None = None,
               cancel: threading.Event | None = None, base: str | None = None) -> Iterator[str]:
        start = time.perf_counter()
        with self._lock:
            child = self._live()
            rid = self._next_id()
            kw = dict(max_tokens=max_tokens, temperature=temperature, seed=seed, stop=stop, grammar=grammar)
            if base and self.shares_base:
                kw["base"] = base
            child.send(("stream", rid, prefix, suffix, kw))
        self.last_timings = Timings(prompt_tokens=0, total_s=0.0)
        done = False
        ttft = None
        n = 0
        try:
            while True:
                with self._lock:
                    msg = self._wait(rid, cancel)
                if msg is None:  # cancelled: return now; the child stops on its own
                    break
                if msg[0] == "end":
                    done = True
                    self.last_timings = Timings(**msg[2])
                    for k, v in msg[3].items():
                        setattr(self, k, v)
                    break
                if ttft is None:
                    ttft = time.perf_counter() - start
                for piece in msg[2]:  # a few at a time from a fast model; given one by one
                    if cancel is not None and cancel.is_set():
                        break  # nothing more once cancelled, not even the rest of this batch
                    n += 1
                    yield piece
        finally:
            if not done:
                total = time.perf_counter() - start
                self.last_timings = Timings(ttft_s=ttft if ttft is not None else total, total_s=total,
                                            completion_tokens=n)
                if self._child is child and not child.dead:
                    child.send(("cancel", rid))
                    if ttft is not None and not (cancel is not None and cancel.is_set()):
                        self._finish(rid, ttft)  # the caller stopped reading: keep the timings
                self._inbox.pop(rid, None)

    def _finish(self, rid: int, ttft: float, timeout: float = 2.0) -> None:
        """Wait (briefly) for a stopped stream's end, for its timings; drop its pieces."""
        end = time.monotonic() + timeout
        msg = None
        try:
            with self._lock:
                while time.monotonic() < end:
                    msg = self._wait(rid, _Deadline(end))
                    if msg is None or msg[0] == "end":
                        break
        except ModelError:  # (it failed or died: the next request reports or restarts)
            return
        if msg is not None and msg[0] == "end":
            t = Timings(**msg[2])
            t.ttft_s = ttft  # the caller's first piece; the rest was discarded
            self.last_timings = t
            for k, v in msg[3].items():
                setattr(self, k, v)

    def close(self) -> None:
        self._closed = True
        child, self._child = self._child, None
        if child is not None:
            child.stop()
