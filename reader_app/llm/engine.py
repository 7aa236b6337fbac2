"""The engine interface every backend implements (llama.cpp in this process or its own, an
OpenAI-compatible server): ``Engine.generate(prefix, suffix, options) -> Generation``, and
the chat-template rendering they share."""

from __future__ import annotations

import json
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from reader_app.core.model import Timings
from reader_app.llm.model_files import read_gguf_header


@dataclass(frozen=True)
class GenerateOptions:
    """How one completion is generated."""

    max_tokens: int = 256
    temperature: float = 0.0
    seed: int = 0
    stop: tuple[str, ...] = ()
    grammar: str | None = None  # GBNF the reply must follow (engines that cannot: ignored)
    # a leading part of the prefix other prompts share (the paper before its demonstrations):
    # an engine that keeps KV states caches it apart; the others ignore it
    base: str | None = None

    def but(self, **changes) -> GenerateOptions:
        """These options with some fields changed (``stop`` may be any sequence)."""
        if "stop" in changes:
            changes["stop"] = tuple(changes["stop"] or ())
        return replace(self, **changes) if changes else self


@dataclass
class Generation:
    """One completion, as a value.  Iterate it for the text pieces as the model writes them
    (once); when the iteration ends - run out, or stopped by the caller - ``text``,
    ``timings``, ``logprobs``, ``first_top`` and ``cache`` hold this call's results.
    ``wait()`` reads it to the end.  The model's process sends it whole (its pieces travel
    ahead of it)."""

    pieces: list[str] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)
    # (text, natural-log probability) of each generated token, where the backend gives them
    # (the model's raw distribution); empty where it does not
    logprobs: list[tuple[str, float]] = field(default_factory=list)
    # the likeliest tokens at the first generated position, (text, log-probability), best first
    first_top: list[tuple[str, float]] = field(default_factory=list)
    cache: str = ""  # where the prefix's KV state came from: "kv", "ram", "disk", "eval" ("" unknown)
    done: bool = False  # the engine finished (ran out, hit a stop or its token cap)
    _source: Iterator[str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, body: Callable[[Generation], Iterator[str]]) -> Generation:
        """A generation whose pieces come from ``body(self)``, a generator that records the
        results on the value it is given before it ends (in a ``finally``: also when the
        caller stops early)."""
        out = cls()
        out.attach(body)
        return out

    def attach(self, body: Callable[[Generation], Iterator[str]]) -> None:
        """Take the pieces from ``body(self)`` (see ``of``)."""
        self._source = body(self)

    def __iter__(self) -> Iterator[str]:
        source, self._source = self._source, None
        if source is None:
            return
        try:
            for piece in source:
                self.pieces.append(piece)
                yield piece
            self.done = True
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()  # the engine records its results when its generator closes

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def wait(self) -> Generation:
        for _ in self:
            pass
        return self

    def close(self) -> None:
        """Stop without reading further (the results so far are recorded)."""
        source, self._source = self._source, None
        close = getattr(source, "close", None)
        if close is not None:
            close()

    def take(self, other: Generation) -> None:
        """Take ``other``'s results (not its pieces): a finished generation sent from the
        model's process."""
        self.timings, self.logprobs, self.first_top = other.timings, other.logprobs, other.first_top
        self.cache, self.done = other.cache, other.done

    def __getstate__(self) -> dict:
        # what crosses to the parent process: the results; the pieces went ahead of them
        return {"timings": self.timings, "logprobs": self.logprobs, "first_top": self.first_top,
                "cache": self.cache, "done": self.done}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)


@dataclass(frozen=True)
class EngineInfo:
    """What an engine is: the model's facts, for budgets, the answer style and the UI."""

    name: str = ""
    backend: str = ""
    n_ctx: int = 2048
    model_path: str = ""
    trained_ctx: int = 0
    threads: int = 0
    parameters: int = 0
    chat_template: str | None = None
    bos_token: str = ""
    eos_token: str = ""


class Engine(ABC):
    """One model behind one backend.  Not thread-safe: use an engine from one thread
    (the UI keeps it on a worker thread); ``cancel`` may be set from any thread.

    Prompts are split in two: a ``prefix`` that is identical across questions (system
    instruction, numbered paper, demonstrations) and a ``suffix`` (the question and the
    assistant header).  Engines cache the KV state of the prefix so a follow-up question
    only processes the suffix's tokens."""

    name: str = ""  # human name of the model, e.g. "SmolLM2-135M-Instruct.Q4_1"
    backend: str = ""  # "llama" (in-process llama.cpp), "openai" (a server), "fake"
    n_ctx: int = 2048  # usable context length in tokens
    parameters: int = 0  # the model's parameter count (0: unknown)
    template_used: str = ""  # which chat template rendered the last prompt: gguf, gguf-no-system, chatml
    key: str = ""  # stable identity for caches (hash of the model file, or server+model id)

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` takes in this model's vocabulary."""

    @abstractmethod
    def chat_prefix_suffix(self, system: str, user_prefix: str, user_tail: str) -> tuple[str, str]:
        """Render one chat turn with the model's own chat template.

        Returns ``(prefix, suffix)`` whose concatenation is the full rendered prompt:
        the system message plus the start of the user message (``user_prefix``) go to the
        prefix; ``user_tail``, the end of the user turn and the assistant header go to the
        suffix.
        """

    def generate(self, prefix: str, suffix: str = "", options: GenerateOptions | None = None, *,
                 cancel: threading.Event | None = None, **changes) -> Generation:
        """One completion of ``prefix + suffix`` with ``options`` (``changes``: fields of
        GenerateOptions to set instead).  Iterate the value for its pieces; setting
        ``cancel`` stops it between tokens.  The prefix's KV state is reused when cached
        (RAM, then disk)."""
        opts = options_from(options, changes)
        return Generation.of(lambda out: self._run(out, prefix, suffix, opts, cancel))

    @abstractmethod
    def _run(self, out: Generation, prefix: str, suffix: str, options: GenerateOptions,
             cancel: threading.Event | None) -> Iterator[str]:
        """The backend's generation: yield the pieces and record this call's results on ``out``
        (timings; logprobs, first_top and cache where the backend knows them), in a
        ``finally`` so that a caller who stops early still gets them."""

    def info(self) -> EngineInfo:
        """The engine's facts (backends with more to say give more)."""
        return EngineInfo(name=self.name, backend=self.backend, n_ctx=self.n_ctx, parameters=self.parameters)

    def complete(self, prefix: str, suffix: str = "", options: GenerateOptions | None = None, *,
                 cancel: threading.Event | None = None, **changes) -> Generation:
        """``generate``, read to the end."""
        return self.generate(prefix, suffix, options, cancel=cancel, **changes).wait()

    def close(self) -> None:  # pragma: no cover - optional
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def options_from(options: GenerateOptions | None, changes: dict) -> GenerateOptions:
    """``options`` (default ones when None) with ``changes`` applied."""
    return (options or GenerateOptions()).but(**changes)


# ---------------------------------------------------------------- chat templates

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_SENTINEL = "\ue000READER-APP-USER-TAIL\ue000"

# control-token spellings common across chat templates (ChatML, Llama 3, Gemma, Mistral, ...)
_GENERIC_SPECIALS = re.compile(
    r"<\|[^<>|\s]{1,40}\|>|</?s>|<(?:start|end)_of_turn>|\[/?INST\]|<\uff5c[^<>\s]{1,40}\uff5c>")


def neutralize_specials(text: str, specials: re.Pattern | None = None) -> str:
    """Break up control-token strings in untrusted text (a paper saying ``<|im_end|>``)
    with a zero-width space, so it cannot end its turn or forge a new one."""
    if not text:
        return text
    for pattern in (specials, _GENERIC_SPECIALS):
        if pattern is not None:
            text = pattern.sub(lambda m: m.group(0)[0] + "\u200b" + m.group(0)[1:], text)
    return text


def specials_pattern(tokens) -> re.Pattern | None:
    """A regex matching a model's control-token texts (those worth neutralizing)."""
    texts = sorted({t for t in tokens if len(t) >= 3 and not t.isalnum() and t.strip() == t}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, texts))) if texts else None


def render_chat(template: str, messages: list[dict], *, bos_token: str = "", eos_token: str = "",
                add_generation_prompt: bool = True) -> str:
    """Render ``messages`` with a Hugging Face style Jinja chat template (sandboxed)."""
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = lambda x, indent=None, **_: json.dumps(x, ensure_ascii=False, indent=indent)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env.from_string(template).render(
        messages=messages, bos_token=bos_token, eos_token=eos_token,
        add_generation_prompt=add_generation_prompt)


def split_chat(template: str | None, system: str, user_prefix: str, user_tail: str, *,
               bos_token: str = "", eos_token: str = "",
               specials: re.Pattern | None = None) -> tuple[str, str, str]:
    """``(prefix, suffix, used)`` for one system+user turn and the assistant header.

    The user message is rendered with a sentinel between ``user_prefix`` and
    ``user_tail`` and the text is split there.  A template that fails, rejects the
    system role (it is then folded into the user message) or mangles the sentinel falls
    back to ChatML.  ``used`` is "gguf", "gguf-no-system" or "chatml".
    Control-token texts inside the three parts are neutralized (``neutralize_specials``).
    """
    system, user_prefix, user_tail = (neutralize_specials(x, specials) for x in (system, user_prefix, user_tail))
    attempts = []
    if template:
        attempts.append(("gguf", template, True))
        attempts.append(("gguf-no-system", template, False))
    attempts.append(("chatml", CHATML_TEMPLATE, True))
    for used, tmpl, with_system in attempts:
        content = user_prefix + _SENTINEL + user_tail
        if with_system:
            messages = [{"role": "system", "content": system}, {"role": "user", "content": content}]
        else:
            messages = [{"role": "user", "content": (system + "\n\n" if system else "") + content}]
        try:
            text = render_chat(tmpl, messages, bos_token=bos_token, eos_token=eos_token)
        except Exception:  # noqa: BLE001 - any template error means "try the next one"
            continue
        if text.count(_SENTINEL) != 1 or (with_system and system and system.strip() not in text):
            continue
        prefix, suffix = text.split(_SENTINEL)
        return prefix, suffix, used
    raise AssertionError("unreachable: the ChatML fallback always renders")  # pragma: no cover


def load_template(spec: str | None) -> str | None:
    """Jinja chat-template text from ``spec``: the text itself, a file, or a GGUF's template."""
    if not spec:
        return None
    p = Path(spec).expanduser()
    if len(spec) < 1000 and p.is_file():
        if p.suffix.lower() == ".gguf":
            return read_gguf_header(p).chat_template or None
        return p.read_text(encoding="utf-8")
    return spec
