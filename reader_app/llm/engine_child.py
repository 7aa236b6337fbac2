"""The model's own process: serves one engine to a ``ProcessEngine``.

``EngineService(target, kwargs)`` runs in a ``reader_app.core.child.Child``: it builds
the engine (``target`` is ``"module:callable"``) and serves these calls:

    ("info")                              the engine's name, context size, template, ...
    ("get", name)                         an attribute (key, template_used, last_cache)
    ("call", method, args, kwargs)        count_tokens, tokenize, chat_prefix_suffix, ...
    ("stream", prefix, suffix, kwargs)    generate: events are lists of pieces; the result is
                                          (timings as a dict, extras)

A fast model's pieces travel a few at a time (one event per ``BATCH_S`` at most, the
first piece at once): one message per token cost the model ~10% of its speed on 2 cores.
A stream stops between tokens once the parent cancels it, or goes away.
"""

from __future__ import annotations

import time
from dataclasses import asdict

from reader_app.core.child import resolve
from reader_app.core.errors import BadInput

BATCH_S = 0.025  # pieces generated within this time of the last message wait for the next one
EXTRAS = ("last_cache", "template_used", "last_logprobs", "last_first_top")  # sent with every stream's result, when the engine has them
INFO = ("name", "backend", "n_ctx", "model_path", "trained_ctx", "threads", "parameters",
        "chat_template", "bos_token", "eos_token", "shares_base")


class EngineService:
    """The child's handler: one engine, built from ``target`` with ``kwargs``."""

    def __init__(self, target: str, kwargs: dict):
        self.engine = resolve(target)(**kwargs)

    def __call__(self, job):
        if job.op == "stream":
            return self._stream(job, *job.args)
        if job.op == "info":
            return {k: getattr(self.engine, k, None) for k in INFO}
        if job.op == "get":
            return getattr(self.engine, job.args[0], None)
        if job.op == "call" and not job.args[0].startswith("_"):
            method, args, kwargs = job.args
            return getattr(self.engine, method)(*args, **kwargs)
        raise BadInput(f"the model process has no call {job.op!r}")

    def _stream(self, job, prefix: str, suffix: str, kwargs: dict):
        cancel = job.cancel
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
                        job.emit(held)
                        held, sent = [], now
        except BaseException:
            if held:
                job.emit(held)
            raise
        if held and not cancel.is_set():
            job.emit(held)
        extras = {k: getattr(self.engine, k) for k in EXTRAS if hasattr(self.engine, k)}
        return asdict(self.engine.last_timings), extras

    def close(self) -> None:
        self.engine.close()
