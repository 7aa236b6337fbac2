"""The engine interface every backend implements (llama.cpp in-process, OpenAI-compatible server).

Prompts are split in two: a ``prefix`` that is identical across questions (system
instruction, numbered paper, demonstrations) and a ``suffix`` (the question and the
assistant header).  Engines cache the KV state of the prefix so a follow-up question
only processes the suffix's tokens.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator

from reader_app.core.model import Timings


class Engine(ABC):
    name: str = ""  # human name of the model, e.g. "SmolLM2-135M-Instruct.Q4_1"
    key: str = ""  # stable identity for caches (hash of the model file, or server+model id)
    n_ctx: int = 2048  # usable context length in tokens
    last_timings: Timings = Timings()  # set when a stream() generator is exhausted

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
