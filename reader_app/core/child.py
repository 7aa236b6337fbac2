"""Crash-isolated child processes: one protocol for the model, the page renderer and PDF import.

Code that can die in ways Python cannot catch (llama.cpp, MuPDF) runs in a child
process.  ``Child`` starts one with ``multiprocessing``'s *spawn* context - the same on
Linux, macOS and Windows - and talks to it over one ``multiprocessing`` connection.
This module is the parent's side; ``Child(service, *args)`` runs ``service(*args)`` in the
child, which serves its calls as ``core/child_server.py`` says; the messages and errors
on the connection are ``core/child_wire.py``'s.

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
import logging
import multiprocessing
import multiprocessing.connection
import os
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable
from typing import Any

from reader_app.core.child_server import child_main
from reader_app.core.child_wire import error_from_wire, exit_words, one_line, ref
from reader_app.core.errors import HelperProcessError, ReaderError

log = logging.getLogger("reader_app.child")

_TAIL_BYTES = 8192  # of the child's stderr, read when it dies
_TAIL_LINES = 20

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
        self.proc = ctx.Process(target=child_main, args=(theirs, ref(service), args, self._log),
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

