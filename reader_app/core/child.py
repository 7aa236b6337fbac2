"""Crash-isolated child processes: one protocol for the model, the page renderer and PDF import.

Code that can die in ways Python cannot catch (llama.cpp, MuPDF) runs in a child
process.  ``Child`` starts one with ``multiprocessing``'s *spawn* context - the same on
Linux, macOS and Windows - and talks to it over one ``multiprocessing`` connection.

The service.  ``Child(service, *args)`` calls ``service(*args)`` once in the child
(``service`` is a module-level class or function, or its ``"module:name"``); what it
returns is the *handler*: ``handler(job)`` serves each call, in order, on the child's
main thread, and its return value is the call's result.  ``job.emit(value)`` sends an
event (streamed tokens, progress) before the result; ``job.cancel`` is set as soon as
the parent cancels the call (a reader thread takes cancels while the handler works),
or when the parent goes away.  When the parent closes the connection (``stop``, or its
own death) the handler's ``close()`` (if any) runs and the child exits.

Messages are tuples ``(kind, rid, body)``::

    parent -> child   ("call", rid, (op, args, kwargs))   ("cancel", rid, None)
    child -> parent   ("event", rid, value)  ("ok", rid, value)  ("err", rid, (error, message))

``rid`` 0 is the child's setup: ``("ok", 0, None)`` once the handler is built.

Errors travel as the name of a class of ``reader_app.core.errors`` and a one-line
message - never a pickled exception or a traceback.  A ``ReaderError`` goes as its
nearest class defined there; any other exception as ``""`` and "Type: message", which
the parent words with its ``internal`` callable; a name it does not know becomes a
``ReaderError``.

A dead child (a signal, an abort, out of memory) is noticed when its connection ends:
every waiting and later call raises what ``on_death(exitcode, stderr_tail)`` returns -
``exit_words`` says the exit code or signal in words.  The child's stdout and stderr
go to a temporary file, so C libraries print nothing on the parent's terminal, and its
last lines are at hand to explain a crash (a failed assert before an abort).

Unlike plain spawn, the child does not import the parent's main script (see ``_start``):
a script that starts children needs no ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import collections
import faulthandler
import importlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import signal
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable
from typing import Any

from reader_app.core import errors
from reader_app.core.errors import HelperProcessError, ReaderError

log = logging.getLogger("reader_app.child")

_TAIL_BYTES = 8192  # of the child's stderr, read when it dies
_TAIL_LINES = 20

# ---- exit codes in words --------------------------------------------------------------------

_SIGNAL_WORDS = {getattr(signal, name): words for name, words in (
    ("SIGKILL", "killed — out of memory?"),
    ("SIGABRT", "aborted"),
    ("SIGSEGV", "segmentation fault"),
    ("SIGBUS", "bus error"),
    ("SIGFPE", "arithmetic error"),
    ("SIGILL", "illegal instruction"),
    ("SIGTERM", "terminated"),
) if hasattr(signal, name)}
# Windows reports a crash as an NTSTATUS exit code, not a signal
_NTSTATUS_SIGNALS = {0xC0000005: signal.SIGSEGV, 0xC00000FD: signal.SIGSEGV, 0xC000001D: signal.SIGILL,
                     0xC0000096: signal.SIGILL, 0xC0000094: signal.SIGFPE, 0xC0000409: signal.SIGABRT}


def exit_signal(code: int | None) -> int | None:
    """The signal that ended a process with exit code ``code`` (None when none did)."""
    if code is None:
        return None
    if code < 0:
        return -code
    if sys.platform == "win32":
        return _NTSTATUS_SIGNALS.get(code & 0xFFFFFFFF)
    return None


def exit_words(code: int | None) -> str:
    """``code`` (a ``Process.exitcode``; None: it ended without one) in a few words."""
    sig = exit_signal(code)
    if sig is not None:
        words = _SIGNAL_WORDS.get(sig)
        if words is None:
            try:
                words = (signal.strsignal(sig) or f"signal {sig}").lower()
            except (ValueError, AttributeError):
                words = f"signal {sig}"
        return words
    if code is None:
        return "lost contact"
    return f"exit code {code}"


# ---- errors on the wire ---------------------------------------------------------------------

def one_line(text: str, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def error_to_wire(exc: BaseException) -> tuple[str, str]:
    """(name of its class in ``reader_app.core.errors``, one-line message); ``""`` for a bug."""
    if isinstance(exc, ReaderError):
        for cls in type(exc).__mro__:
            if getattr(errors, cls.__name__, None) is cls:
                return cls.__name__, one_line(str(exc))
    detail = one_line(str(exc))
    return "", f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def error_from_wire(body: tuple[str, str], internal: Callable[[str], Exception] = ReaderError) -> Exception:
    """The exception to raise here for an error that came from a child."""
    name, message = body
    if not name:
        return internal(message)
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, ReaderError)):
        cls = ReaderError
    return cls(message)


# ---- the child's side -----------------------------------------------------------------------

class Job:
    """One call, as the child's handler sees it."""

    __slots__ = ("rid", "op", "args", "kwargs", "cancel", "_conn")

    def __init__(self, conn, rid: int, op: str, args: tuple, kwargs: dict, cancel: threading.Event):
        self._conn = conn
        self.rid, self.op, self.args, self.kwargs, self.cancel = rid, op, args, kwargs, cancel

    def emit(self, value: Any) -> None:
        """Send an event (tokens, progress) to the caller before the result."""
        self._conn.send(("event", self.rid, value))


def resolve(ref: str) -> Callable:
    """``"module:name"`` -> the object."""
    module, _, name = ref.partition(":")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def ref(service: str | Callable) -> str:
    """A module-level class or function as ``"module:name"`` (what ``resolve`` reads); the
    child imports that module by name, so it cannot be the main script's."""
    if isinstance(service, str):
        return service
    return f"{service.__module__}:{service.__qualname__}"


class _Server:
    def __init__(self, conn, handler):
        self.conn, self.handler = conn, handler
        self.inbox: queue.Queue = queue.Queue()
        self.cancels: dict[int, threading.Event] = {}
        self.lock = threading.Lock()
        self.gone = False  # the parent closed its end

    def event(self, rid: int) -> threading.Event:
        with self.lock:
            event = self.cancels.setdefault(rid, threading.Event())
            if self.gone:
                event.set()
            return event

    def read_loop(self) -> None:
        try:
            while True:
                kind, rid, body = self.conn.recv()
                if kind == "cancel":
                    self.event(rid).set()
                else:
                    self.inbox.put((kind, rid, body))
        except (EOFError, OSError):
            pass
        except Exception as exc:  # noqa: BLE001 - a message that cannot be read: the protocol is broken
            print(f"unreadable message: {type(exc).__name__}: {one_line(str(exc))}", file=sys.stderr, flush=True)
        # the parent is gone: stop the work under way instead of doing it for nobody
        with self.lock:
            self.gone = True
            for event in self.cancels.values():
                event.set()
        self.inbox.put(("close", 0, None))

    def serve(self) -> None:
        threading.Thread(target=self.read_loop, name="child-reader", daemon=True).start()
        while True:
            kind, rid, body = self.inbox.get()
            if kind != "call":
                break
            op, args, kwargs = body
            job = Job(self.conn, rid, op, args, kwargs, self.event(rid))
            try:
                try:
                    reply = ("ok", rid, self.handler(job))
                except BaseException as exc:  # noqa: BLE001 - reported to the parent
                    reply = ("err", rid, error_to_wire(exc))
                self.conn.send(reply)
            except (OSError, EOFError, ValueError):
                break  # the parent is gone
            finally:
                with self.lock:
                    self.cancels.pop(rid, None)


def _child_main(conn, ref: str, args: tuple, log_path: str | None) -> None:
    """The child process: set up, serve, exit without the interpreter's teardown."""
    faulthandler.disable()  # the parent reports a crash in one line
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for the parent; it stops us
    if log_path:  # stdout and stderr belong to nobody: into the file the parent reads on a crash
        try:
            fd = os.open(log_path, os.O_WRONLY | os.O_APPEND)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(fd, 2)
            os.dup2(fd, 1)
            os.close(fd)
        except OSError:
            pass
    handler = None
    try:
        try:
            handler = resolve(ref)(*args)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            conn.send(("err", 0, error_to_wire(exc)))
        else:
            conn.send(("ok", 0, None))
            _Server(conn, handler).serve()
    except (OSError, EOFError, ValueError):
        pass
    close = getattr(handler, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass
    try:
        conn.close()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(0)


# ---- the parent's side ----------------------------------------------------------------------

_start_lock = threading.Lock()


def _start(proc) -> None:
    """Start ``proc`` without the child importing this program's main script.

    Spawn normally runs the parent's ``__main__`` again in the child (as ``__mp_main__``),
    which is why scripts need ``if __name__ == "__main__":``.  A service is named by its
    module and its arguments are plain data, so the child needs nothing of it: the main
    module is hidden while the child's start-up data is taken, and scripts that start
    children need no guard.
    """
    with _start_lock:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")  # no __spec__, no __file__
        try:
            proc.start()
        finally:
            if main is not None:
                sys.modules["__main__"] = main


def _default_death(code: int | None, tail: list[str]) -> Exception:
    return HelperProcessError(f"a helper process stopped unexpectedly ({exit_words(code)})")


class Child:
    """A service running in a child process; thread-safe.

    ``on_death(exitcode, stderr_tail) -> exception`` words a dead child; ``internal(message)``
    an unexpected exception in it.  Raises ``HelperProcessError`` when no process can be
    started (inside a daemonic process, out of resources).
    """

    def __init__(self, service: str | Callable, *args, name: str = "reader-child",
                 on_death: Callable[[int | None, list[str]], Exception] = _default_death,
                 internal: Callable[[str], Exception] = ReaderError):
        self.name = name
        self._on_death, self._internal = on_death, internal
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._boxes: dict[int, collections.deque] = {0: collections.deque()}
        self._reading = False
        self._rid = 0
        self._failure: Exception | None = None
        self._owner = os.getpid()
        self._up = False  # set up (rid 0 answered)
        fd, self._log = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
        os.close(fd)
        ctx = multiprocessing.get_context("spawn")  # never fork: threads, Qt, llama.cpp
        self._conn, theirs = ctx.Pipe()
        self.proc = ctx.Process(target=_child_main, args=(theirs, ref(service), args, self._log),
                                name=name, daemon=True)
        try:
            _start(self.proc)
        except Exception as exc:  # noqa: BLE001 - a daemonic process may have none; out of resources
            self._conn.close()
            self._remove_log()
            raise HelperProcessError(f"cannot start the {name} process "
                                     f"({one_line(str(exc)) or type(exc).__name__})") from None
        finally:
            theirs.close()

    # -- state

    @property
    def pid(self) -> int | None:
        return self.proc.pid

    @property
    def dead(self) -> bool:
        """Stopped, crashed or failed to set up (or another process's, copied by a fork):
        every call raises."""
        return self._failure is not None or os.getpid() != self._owner

    @property
    def alive(self) -> bool:
        """Not dead, and its process runs."""
        return not self.dead and self.proc.is_alive()

    def ready(self, timeout: float | None = None) -> bool:
        """Wait for the setup; False after ``timeout``; its error, or the death, raised."""
        if self._up and not self.dead:
            return True
        return self.next(0, timeout) is not None

    # -- calls

    def request(self, op: str, /, *args, **kwargs) -> int:
        """Start call ``op``; its messages are read with ``next``."""
        if os.getpid() != self._owner:
            raise HelperProcessError(f"the {self.name} process belongs to the process this one was forked from")
        with self._cond:
            if self._failure is not None:
                raise self._failure
            self._rid += 1
            rid = self._rid
            self._boxes[rid] = collections.deque()
        self._send(("call", rid, (op, args, kwargs)))
        return rid

    def call(self, op: str, /, *args, **kwargs):
        """Call ``op`` and wait for its result (events are dropped)."""
        rid = self.request(op, *args, **kwargs)
        while True:
            kind, value = self.next(rid)
            if kind == "ok":
                return value

    def next(self, rid: int, timeout: float | None = None) -> tuple[str, Any] | None:
        """The next message of call ``rid``: ``("event", value)`` or ``("ok", result)``;
        None after ``timeout`` seconds.  Raises the call's error, or the child's death."""
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._cond:
                while True:
                    box = self._boxes.get(rid)
                    if box:
                        kind, body = box.popleft()
                        if kind == "event":
                            return kind, body
                        self._boxes.pop(rid, None)
                        if kind == "ok":
                            return kind, body
                        raise error_from_wire(body, self._internal)
                    if self._failure is not None:
                        raise self._failure
                    left = None if end is None else end - time.monotonic()
                    if left is not None and left <= 0:
                        return None
                    if not self._reading:
                        self._reading = True  # this thread reads, and routes others' messages
                        break
                    self._cond.wait(left)  # another thread reads: it routes ours here
            msg = None
            try:
                msg = self._recv(left)
            finally:
                with self._cond:
                    self._reading = False
                    if msg is not None:
                        self._route(msg)
                    self._cond.notify_all()

    def cancel(self, rid: int) -> None:
        """Ask the child to stop call ``rid`` (its handler sees ``job.cancel`` set)."""
        if self._failure is None:
            try:
                self._send(("cancel", rid, None))
            except ReaderError:
                pass

    def forget(self, rid: int) -> None:
        """Drop call ``rid``'s messages, now and when they arrive."""
        with self._cond:
            self._boxes.pop(rid, None)

    # -- the end

    def _mark_stopped(self) -> bool:
        """From now on calls fail with "stopped"; False in a forked copy, which owns nothing."""
        if os.getpid() != self._owner:
            return False
        with self._cond:
            if self._failure is None:
                self._failure = HelperProcessError(f"the {self.name} process was stopped")
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Close the connection (the child closes its handler and exits); kill it if it does not."""
        if not self._mark_stopped():
            return
        try:
            self._conn.close()
        except OSError:
            pass
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.kill()
        self._remove_log()

    def kill(self) -> None:
        """End the child at once."""
        if not self._mark_stopped():
            return
        try:
            self.proc.kill()
            self.proc.join(10)
        except (OSError, ValueError, AttributeError):
            pass
        try:
            self._conn.close()
        except OSError:
            pass
        self._remove_log()

    # -- inside

    def _send(self, msg) -> None:
        try:
            with self._send_lock:
                self._conn.send(msg)
        except (OSError, ValueError):
            self._died()

    def _recv(self, timeout: float | None):
        """A message, None after ``timeout``; the child's death raised."""
        try:
            if timeout is not None and not self._conn.poll(timeout):
                return None
            return self._conn.recv()
        except (EOFError, OSError, ValueError):
            self._died()

    def _route(self, msg) -> None:
        kind, rid, body = msg
        box = self._boxes.get(rid)
        if box is not None:  # else: a late message of a call given up on: dropped
            box.append((kind, body))
        if rid == 0 and kind == "ok":
            self._up = True
        if rid == 0 and kind == "err":  # the setup failed: the child exits
            self._failure = error_from_wire(body, self._internal)
            self._boxes.pop(0, None)
            threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self) -> None:
        """After a failed setup: kill the child if it does not exit by itself.

        Waits on the sentinel and never joins: two threads joining one process race in
        ``waitpid`` and the loser sees a dead child as alive.  The caller's ``join``/``stop``
        (or multiprocessing's next start) collects it.
        """
        if not multiprocessing.connection.wait([self.proc.sentinel], 10):
            try:
                self.proc.kill()
            except (OSError, ValueError, AttributeError):
                pass
        self._remove_log()

    def _died(self):
        with self._cond:
            failure = self._failure
        if failure is None:
            self.proc.join(5)
            if self.proc.is_alive():  # alive but not talking: stop it
                self.proc.kill()
                self.proc.join(5)
                code = None
            else:
                code = self.proc.exitcode
            tail = self._tail()
            log.info("%s process %s ended (%s); last output: %s", self.name, self.proc.pid, code, " | ".join(tail))
            with self._cond:
                if self._failure is None:
                    self._failure = self._on_death(code, tail)
                failure = self._failure
                self._cond.notify_all()
            try:
                self._conn.close()
            except OSError:
                pass
            self._remove_log()
        raise failure

    def _tail(self) -> list[str]:
        try:
            with open(self._log, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - _TAIL_BYTES))
                text = fh.read().decode("utf-8", "replace")
        except OSError:
            return []
        return [ln.strip() for ln in text.splitlines() if ln.strip()][-_TAIL_LINES:]

    def _remove_log(self) -> None:
        try:
            os.remove(self._log)
        except OSError:
            pass

