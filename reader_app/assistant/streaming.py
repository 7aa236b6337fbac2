"""Streaming: one completion from the engine, and one answer with what its ``Answer`` records.

- ``complete``: runs ``Engine.generate`` and hands each piece on as it comes, stopping
  early once the text so far is enough (``until``); a set ``cancel`` raises Cancelled,
  before and after.  The engine records its results in the ``Generation`` when the stream
  is closed: text, timings, token probabilities.
- ``stream_answer``: one answer's reply (``AnswerPrompt``: prefix, suffix ending with the
  reply's primer, grammar, the shared ``base``), capped at the style's answer tokens and
  stopped once the answer line is done (``reply.answer_done``).  Each piece goes to
  ``on_update`` as the answer so far (``reply.live_view`` → ``AnswerUpdate``) before it
  goes raw to ``on_token`` (which gets the primer first); the first piece's time is the
  answer's ``ttft_s``.  Then the confidence's signals: from the reply's token
  probabilities (``confidence.signals``) and, when the request asks for them, two optional
  checks on the answer's own context: the model's check of its answer (``Request.probe``:
  P(Yes) of one token after ``confidence.PROBE``) and ``Request.samples`` answers sampled
  at ``SAMPLE_TEMPERATURE`` compared with the shown one (``confidence.agreement``).  A Stop
  during the checks keeps the answer, without them.  The result, ``Streamed``, holds the
  raw reply, whether the token cap cut it, ``Timings`` and the ``AnswerTrace``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from reader_app.assistant import confidence
from reader_app.assistant.reply import ANSWER_STOP, answer_done, live_view, parse_answer, through_answer_line
from reader_app.assistant.request import Request
from reader_app.assistant.style import AnswerStyle
from reader_app.core.errors import Cancelled
from reader_app.core.model import AnswerTrace, AnswerUpdate, Timings
from reader_app.llm.engine import Engine, GenerateOptions, Generation

SAMPLE_TEMPERATURE = 0.7  # answers sampled for the confidence's agreement (confidence_samples setting)


class Generator(Protocol):
    """What streaming an answer needs of the assistant (``service.Assistant``)."""

    seed: int
    use_grammar: bool

    def answer_tokens(self, style: AnswerStyle) -> int: ...

    def generate(self, prefix: str, suffix: str, *, max_tokens: int, stop: list[str],
                 cancel: threading.Event | None, on_piece: Callable[[str], None] | None = None,
                 grammar: str | None = None, until: Callable[[str], bool] | None = None,
                 base: str | None = None, temperature: float | None = None,
                 seed: int | None = None) -> Generation: ...


@dataclass(frozen=True)
class AnswerPrompt:
    """What the model reads for one answer."""

    prefix: str
    suffix: str  # the question, ending with ``primer``
    primer: str  # the start of the reply (``reply.primer``)
    grammar: str | None = None  # GBNF the reply must follow (None: free)
    base: str | None = None  # the part of ``prefix`` other prompts share (the paper)


@dataclass(frozen=True)
class Hooks:
    """Who follows one request: a Stop (``cancel``), the raw stream (``on_token``), the answer
    so far (``on_update``) and one-line notes on what runs now (``progress``)."""

    cancel: threading.Event | None = None
    on_token: Callable[[str], None] | None = None
    on_update: Callable[[AnswerUpdate], None] | None = None
    progress: Callable[[str], None] | None = None


@dataclass
class Streamed:
    """One streamed answer."""

    raw: str  # the model's reply after the primer
    cut: bool  # the reply hit the token cap
    timings: Timings
    trace: AnswerTrace
    signals: confidence.Signals | None  # for ``confidence.confidence``


def complete(engine: Engine, prefix: str, suffix: str, options: GenerateOptions, cancel: threading.Event | None,
             on_piece: Callable[[str], None] | None = None,
             until: Callable[[str], bool] | None = None) -> Generation:
    """One completion, streamed to ``on_piece``; stops early once ``until(text so far)`` holds.
    Returns the finished Generation."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")
    gen = engine.generate(prefix, suffix, options, cancel=cancel)
    pieces = iter(gen)
    try:
        for piece in pieces:
            if on_piece:
                on_piece(piece)
            if until is not None and until(gen.text):
                break
    finally:
        pieces.close()  # the engine records its results when it is closed
    if cancel is not None and cancel.is_set():
        raise Cancelled("cancelled")
    return gen


def stream_answer(gen: Generator, prompt: AnswerPrompt, req: Request, start: float, hooks: Hooks) -> Streamed:
    """Stream an answer (``start``: when the request began, for its timings)."""
    style, primer = req.style, prompt.primer
    if hooks.progress:
        hooks.progress("Answering")
    first: list[float] = []
    so_far: list[str] = []

    def emit(piece: str) -> None:
        if not first:
            first.append(time.perf_counter() - start)
            if hooks.on_token:
                hooks.on_token(primer)
        so_far.append(piece)
        if hooks.on_update:  # before the raw piece: a listener of both sees the update first
            hooks.on_update(live_view(primer + "".join(so_far)))
        if hooks.on_token:
            hooks.on_token(piece)

    max_tokens = gen.answer_tokens(style)
    out = gen.generate(prompt.prefix, prompt.suffix, max_tokens=max_tokens, stop=ANSWER_STOP, cancel=hooks.cancel,
                       on_piece=emit, grammar=prompt.grammar, base=prompt.base,
                       until=lambda text: answer_done(primer + text, style.max_sentences))
    raw, engine_t = out.text, out.timings
    sig, check_s = optional_checks(gen, prompt, raw, req, hooks.cancel, max_tokens,
                                   confidence.signals(raw, out.logprobs, primer))
    total = time.perf_counter() - start
    timings = Timings(prompt_tokens=engine_t.prompt_tokens, cached_tokens=engine_t.cached_tokens,
                      ttft_s=round(first[0] if first else total, 4), total_s=round(total, 4),
                      completion_tokens=engine_t.completion_tokens)
    trace = AnswerTrace(signals=sig.to_dict() if sig else None, check_s=check_s, logprobs=list(out.logprobs))
    return Streamed(raw, (engine_t.completion_tokens or 0) >= max_tokens, timings, trace, sig)


def optional_checks(gen: Generator, prompt: AnswerPrompt, raw: str, req: Request, cancel: threading.Event | None,
                    max_tokens: int, sig: confidence.Signals | None) -> tuple[confidence.Signals | None, float]:
    """The confidence's optional signals, on the answer's own context: the model's check of
    its answer (``req.probe``) and ``req.samples`` sampled answers' agreement with it.  A
    Stop now keeps the answer, without them.  Returns the signals and the seconds it took."""
    if sig is None or not (req.probe or req.samples):
        return sig, 0.0
    primer = prompt.primer
    t0 = time.perf_counter()
    try:
        if req.probe:
            sig = replace(sig, probe=self_check(gen, prompt, raw, cancel))
        if req.samples:
            until = (lambda text: answer_done(primer + text, req.style.max_sentences))
            # a sample much longer than the answer disagrees with it already: no need to finish it
            cap = min(max_tokens, 16 + 2 * sig.tokens)  # (16: the evidence line and label)
            samples = [gen.generate(prompt.prefix, prompt.suffix, max_tokens=cap, stop=ANSWER_STOP, cancel=cancel,
                                    grammar=prompt.grammar, base=prompt.base, temperature=SAMPLE_TEMPERATURE,
                                    seed=gen.seed + 1 + i, until=until).text
                       for i in range(req.samples)]
            sig = replace(sig, agreement=confidence.agreement(
                parse_answer(raw, primer=primer).answer, [parse_answer(x, primer=primer).answer for x in samples]))
    except Cancelled:
        pass
    return sig, time.perf_counter() - t0


def self_check(gen: Generator, prompt: AnswerPrompt, raw: str, cancel: threading.Event | None) -> float | None:
    """The model's P(Yes) that its reply is right (``confidence.PROBE``), one token on the
    same context; None where the engine gives no probabilities."""
    line = through_answer_line(raw, prompt.suffix)
    out = gen.generate(prompt.prefix, prompt.suffix + line + confidence.PROBE, max_tokens=1, stop=[], cancel=cancel,
                       grammar=confidence.PROBE_GRAMMAR if gen.use_grammar else None, base=prompt.base)
    return confidence.probe_yes(out.first_top)
