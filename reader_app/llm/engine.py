"""The engine interface every backend implements (llama.cpp in-process, OpenAI-compatible server).

Prompts are split in two: a ``prefix`` that is identical across questions (system
instruction, numbered paper, demonstrations) and a ``suffix`` (the question and the
assistant header).  Engines cache the KV state of the prefix so a follow-up question
only processes the suffix's tokens.
"""

from __future__ import annotations

import json
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator

from reader_app.core.model import Timings


class Engine(ABC):
    """One model behind one backend.  Not thread-safe: use an engine from one thread
    (the UI keeps it on a worker thread); ``cancel`` may be set from any thread."""

    name: str = ""  # human name of the model, e.g. "SmolLM2-135M-Instruct.Q4_1"
    backend: str = ""  # "llama" (in-process llama.cpp), "openai" (a server), "fake"
    key: str = ""  # stable identity for caches (hash of the model file, or server+model id)
    n_ctx: int = 2048  # usable context length in tokens
    last_timings: Timings = Timings()  # set when a stream() generator is exhausted
    # (text, natural-log probability) of each token the last stream() generated, where the
    # backend gives them (the model's raw distribution); empty where it does not
    last_logprobs: list[tuple[str, float]] = []
    # the likeliest tokens at the first generated position, (text, log-probability), best first
    last_first_top: list[tuple[str, float]] = []
    shares_base: bool = False  # stream() takes base=: a leading part of the prefix other prompts share

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

    @abstractmethod
    def stream(
        self,
        prefix: str,
        suffix: str = "",
        *,
        max_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        stop: list[str] | None = None,
        grammar: str | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield generated text pieces. Cancelling ``cancel`` stops between tokens.

        The prefix's KV state is reused when cached (RAM, then disk).  When the generator
        is exhausted ``self.last_timings`` holds prompt_tokens, cached_tokens, ttft_s,
        total_s and completion_tokens for this call.
        """

    def complete(self, prefix: str, suffix: str = "", **kwargs) -> str:
        return "".join(self.stream(prefix, suffix, **kwargs))

    def close(self) -> None:  # pragma: no cover - optional
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
    from datetime import datetime

    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

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
    from pathlib import Path

    p = Path(spec).expanduser()
    if len(spec) < 1000 and p.is_file():
        if p.suffix.lower() == ".gguf":
            from reader_app.llm.model_files import read_gguf_header

            return read_gguf_header(p).chat_template or None
        return p.read_text(encoding="utf-8")
    return spec
