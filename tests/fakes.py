"""A scripted fake engine for testing prompt building, parsing and the UI.

Not for testing the engine itself: those tests use the real embedded model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from reader_app.llm.engine import Engine, GenerateOptions, Generation, options_from
from reader_app.core.model import Timings


class FakeEngine(Engine):
    """Answers with ``respond(prefix, suffix) -> str``, streamed word by word.

    Records every call in ``self.calls`` as (prefix, suffix, kwargs).
    """

    def __init__(self, respond: Callable[[str, str], str] | str = "Evidence: [1]\nAnswer: yes",
                 *, n_ctx: int = 8192, delay: float = 0.0, name: str = "fake-model",
                 logprob: Callable[[str], float] | float | None = None,
                 top: Callable[[str], list[tuple[str, float]]] | None = None):
        self.respond = respond if callable(respond) else (lambda _p, _s, r=respond: r)
        self.n_ctx = n_ctx
        self.delay = delay
        self.name = name
        self.key = "fake:" + name
        self.calls: list[tuple[str, str, dict]] = []
        self._seen_prefixes: set[str] = set()
        # each streamed piece's log-probability (``Generation.logprobs``); None: none given
        self.logprob = logprob if callable(logprob) or logprob is None else (lambda _t, lp=logprob: lp)
        # the likeliest first tokens (``Generation.first_top``): ``top(first piece)``, else the piece itself
        self.top = top

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def chat_prefix_suffix(self, system, user_prefix, user_tail):
        return (f"<system>{system}</system><user>{user_prefix}", f"{user_tail}</user><assistant>")

    def generate(self, prefix, suffix="", options: GenerateOptions | None = None, *,
                 cancel: threading.Event | None = None, **changes) -> Generation:
        opts = options_from(options, changes)
        self.calls.append((prefix, suffix, dict(max_tokens=opts.max_tokens, stop=list(opts.stop) or None,
                                                grammar=opts.grammar, temperature=opts.temperature,
                                                seed=opts.seed, base=opts.base)))
        return super().generate(prefix, suffix, opts, cancel=cancel)

    def _run(self, out: Generation, prefix: str, suffix: str, opts: GenerateOptions,
             cancel: threading.Event | None) -> Iterator[str]:
        start = time.perf_counter()
        cached = self.count_tokens(prefix) if prefix in self._seen_prefixes else 0
        out.cache = "ram" if cached else "eval"
        self._seen_prefixes.add(prefix)
        text = self.respond(prefix, suffix)
        pieces = text.split(" ")
        n = 0
        ttft = 0.0
        try:
            for i, piece in enumerate(pieces[:opts.max_tokens]):
                if cancel is not None and cancel.is_set():
                    break
                if self.delay:
                    time.sleep(self.delay)
                if i == 0:
                    ttft = time.perf_counter() - start
                n += 1
                piece = piece if i == 0 else " " + piece
                if self.logprob is not None:
                    out.logprobs.append((piece, float(self.logprob(piece))))
                    if i == 0:
                        out.first_top = self.top(piece) if self.top else [out.logprobs[0]]
                yield piece
        finally:
            out.timings = Timings(
                prompt_tokens=self.count_tokens(prefix + suffix), cached_tokens=cached,
                ttft_s=ttft, total_s=time.perf_counter() - start, completion_tokens=n)


def passages_of(prefix: str, suffix: str) -> str:
    """The part of a prompt that holds the paper or its passages: a passage prompt's suffix
    (its prefix holds the recycled examples, assistant/recycled.py), else the prefix."""
    return suffix if "<papers>" in suffix else prefix
