"""The child's side of ``core/child.py``: what runs inside the child process.

``Child(service, *args)`` calls ``service(*args)`` once in the child (``service`` is a
module-level class or function, or its ``"module:name"``); what it returns is the
*handler*: ``handler(job)`` serves each call, in order, on the child's main thread, and
its return value is the call's result.  ``job.emit(value)`` sends an event (streamed
tokens, progress) before the result; ``job.cancel`` is set as soon as the parent cancels
the call (a reader thread takes cancels while the handler works), or when the parent goes
away.  When the parent closes the connection (``stop``, or its own death) the handler's
``close()`` (if any) runs and the child exits.

The messages and the errors on the connection: ``core/child_wire.py``.
"""

from __future__ import annotations

import faulthandler
import os
import queue
import signal
import sys
import threading
from typing import Any

from reader_app.core.child_wire import error_to_wire, one_line, resolve


class Job:
    """One call, as the child's handler sees it."""

    __slots__ = ("rid", "op", "args", "kwargs", "cancel", "_conn")

    def __init__(self, conn, rid: int, op: str, args: tuple, kwargs: dict, cancel: threading.Event):
        self._conn = conn
        self.rid, self.op, self.args, self.kwargs, self.cancel = rid, op, args, kwargs, cancel

    def emit(self, value: Any) -> None:
        """Send an event (tokens, progress) to the caller before the result."""
        self._conn.send(("event", self.rid, value))


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


def child_main(conn, ref: str, args: tuple, log_path: str | None) -> None:
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
