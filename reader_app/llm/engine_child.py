"""The model's own process: serves one engine to a ``ProcessEngine``.

``EngineService(target, kwargs)`` runs in a ``reader_app.core.child.Child``: it builds
the engine (``target`` is ``"module:callable"``) and serves these calls:

    ("info")                              the engine's ``EngineInfo``
    ("key")                               the engine's cache identity
    ("chat", system, user_prefix, tail)   (prefix, suffix, template used)
    ("count_tokens", text) / ("tokenize", text, add_bos)
    ("generate", prefix, suffix, options) events are lists of pieces; the result is the
                                          finished ``Generation`` (its results; the pieces
                                          went ahead of it)

A fast model's pieces travel a few at a time (one event per ``BATCH_S`` at most, the
first piece at once): one message per token cost the model ~10% of its speed on 2 cores.
A generation stops between tokens once the parent cancels it, or goes away.
"""

from __future__ import annotations

import time

from reader_app.core.child_wire import resolve
from reader_app.core.errors import BadInput
from reader_app.llm.engine import GenerateOptions, Generation

BATCH_S = 0.025  # pieces generated within this time of the last message wait for the next one


class EngineService:
    """The child's handler: one engine, built from ``target`` with ``kwargs``."""

    def __init__(self, target: str, kwargs: dict):
        self.engine = resolve(target)(**kwargs)

    def __call__(self, job):
        op, args = job.op, job.args
        if op == "generate":
            return self._generate(job, *args)
        if op == "info":
            return self.engine.info()
        if op == "key":
            return self.engine.key
        if op == "chat":
            prefix, suffix = self.engine.chat_prefix_suffix(*args)
            return prefix, suffix, self.engine.template_used
        if op == "count_tokens":
            return self.engine.count_tokens(*args)
        if op == "tokenize":
            text, add_bos = args
            return self.engine.tokenize(text, add_bos=add_bos)
        raise BadInput(f"the model process has no call {op!r}")

    def _generate(self, job, prefix: str, suffix: str, options: GenerateOptions) -> Generation:
        cancel = job.cancel
        held: list[str] = []
        sent = 0.0
        gen = self.engine.generate(prefix, suffix, options, cancel=cancel)
        try:
            if not cancel.is_set():
                for piece in gen:
                    if cancel.is_set():
                        break
                    held.append(piece)
                    now = time.monotonic()
                    if now - sent >= BATCH_S:
                        job.emit(held)
                        held, sent = [], now
        except BaseException:
            if held:
                job.emit(held)
            raise
        finally:
            gen.close()
        if held and not cancel.is_set():
            job.emit(held)
        return gen

    def close(self) -> None:
        self.engine.close()
