"""The model's own process: serves one engine to a ``ProcessEngine`` over a socket.

Started by ``reader_app.assistant.engine_process`` as
``python -m reader_app.assistant.engine_child FD``, where FD is one end of a socket
pair.  Messages are pickled tuples (``multiprocessing.connection.Connection``):

parent -> child::

    ("open", target, kwargs)              build the engine: target is "module:callable"
    ("call", rid, method, args, kwargs)   count_tokens, tokenize, chat_prefix_suffix, ...
    ("get", rid, name)                    an attribute (key, template_used, last_cache)
    ("stream", rid, prefix, suffix, kw)   generate; pieces come back one by one
    ("cancel", rid)                       stop that stream between tokens (read at once)
    ("close",)                            close the engine and exit

child -> parent::

    ("ok", rid, value)  ("tok", rid, [text, ...])  ("end", rid, timings, extras)
    ("err", rid, error class name, one-line message)

A fast model's pieces travel a few at a time (one message per ``BATCH_S`` at most, the
first piece at once): one message per token cost the model ~10% of its speed on 2 cores.

A reader thread takes messages off the socket so that ``cancel`` is seen while the
main thread is busy generating; everything else runs on the main thread, in order.
When the parent goes away (end of file) the child exits.
"""

from __future__ import annotations

import importlib
import os
import queue
import sys
import threading
import time
from dataclasses import asdict
from multiprocessing.connection import Connection

BATCH_S = 0.025  # pieces generated within this time of the last message wait for the next one
EXTRAS = ("last_cache", "template_used")  # sent with every "end", when the engine has them


def _error(rid, exc: BaseException) -> tuple:
    from reader_app.core.errors import ReaderError

    if isinstance(exc, ReaderError):
        return ("err", rid, type(exc).__name__, str(exc))
    return ("err", rid, "ModelError", f"internal error in the model process: {type(exc).__name__}: {exc}")


class _Server:
    def __init__(self, conn: Connection):
        self.conn = conn
        self.engine = None
        self.inbox: queue.Queue = queue.Queue()
        self.cancels: dict[int, threading.Event] = {}
        self.lock = threading.Lock()
        self.gone = False  # the parent closed its end

    def _event(self, rid: int) -> threading.Event:
        with self.lock:
            event = self.cancels.setdefault(rid, threading.Event())
            if self.gone:
                event.set()
            return event

    def read_loop(self) -> None:
        try:
            while True:
                msg = self.conn.recv()
                if msg[0] == "cancel":
                    self._event(msg[1]).set()
                else:
                    self.inbox.put(msg)
        except (EOFError, OSError):
            pass
        # the parent is gone: stop the answer or the reading under way (between tokens or
        # batches) instead of computing it for nobody, then exit
        with self.lock:
            self.gone = True
            for event in self.cancels.values():
                event.set()
        self.inbox.put(("close",))

    def serve(self) -> None:
        threading.Thread(target=self.read_loop, name="engine-child-reader", daemon=True).start()
        while True:
            msg = self.inbox.get()
            kind = msg[0]
            if kind == "close":
                break
            try:
                if kind == "open":
                    self._open(*msg[1:])
                elif kind == "call":
                    self._call(*msg[1:])
                elif kind == "get":
                    self.conn.send(("ok", msg[1], getattr(self.engine, msg[2], None)))
                elif kind == "stream":
                    self._stream(*msg[1:])
            except (BrokenPipeError, EOFError):
                break
        if self.engine is not None:
            try:
                self.engine.close()
            except Exception:  # noqa: BLE001 - exiting anyway
                pass

    def _open(self, target: str, kwargs: dict) -> None:
        try:
            module, _, name = target.partition(":")
            factory = getattr(importlib.import_module(module), name)
            self.engine = factory(**kwargs)
            info = {k: getattr(self.engine, k, None) for k in
                    ("name", "backend", "n_ctx", "model_path", "trained_ctx", "threads", "parameters",
                     "chat_template", "bos_token", "eos_token", "shares_base")}
            self.conn.send(("ok", 0, info))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            self.conn.send(_error(0, exc))

    def _call(self, rid: int, method: str, args: tuple, kwargs: dict) -> None:
        try:
            value = getattr(self.engine, method)(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001
            self.conn.send(_error(rid, exc))
        else:
            self.conn.send(("ok", rid, value))

    def _stream(self, rid: int, prefix: str, suffix: str, kwargs: dict) -> None:
        cancel = self._event(rid)
        held: list[str] = []
        sent = 0.0
        try:
            if not cancel.is_set():
                for piece in self.engine.stream(prefix, suffix, cancel=cancel, **kwargs):
                    if cancel.is_set():
                        break
                    held.append(piece)
                    now = time.monotonic()
                    if now - sent >= BATCH_S:
                        self.conn.send(("tok", rid, held))
                        held, sent = [], now
        except BaseException as exc:  # noqa: BLE001
            if held:
                self.conn.send(("tok", rid, held))
            self.conn.send(_error(rid, exc))
        else:
            if held and not cancel.is_set():
                self.conn.send(("tok", rid, held))
            extras = {k: getattr(self.engine, k) for k in EXTRAS if hasattr(self.engine, k)}
            self.conn.send(("end", rid, asdict(self.engine.last_timings), extras))
        finally:
            with self.lock:
                self.cancels.pop(rid, None)


def main(argv: list[str]) -> None:
    import faulthandler

    faulthandler.disable()  # the parent reports a crash in one line
    # stdout belongs to nobody: C code printing there must not reach the parent's terminal
    os.dup2(2, 1)
    conn = Connection(int(argv[1]))
    _Server(conn).serve()
    conn.close()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":  # pragma: no cover - run as a child process
    main(sys.argv)
