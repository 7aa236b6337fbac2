"""How many tokens of passages an answer from passages reads: a budget that follows the machine.

A quick answer (and a question across the library) evaluates its passages before its first
token, so the passages it can afford depend on how fast this machine reads a prompt with
this model (``llm/speeds.py`` measures it after each generation) and on how long the reader
is willing to wait for the first token (the ``answer_ttft_s`` setting, 6 s by default)::

    budget = speed × target − the other tokens evaluated anew (the question and its instruction)

clamped below by a floor (``QUICK_FLOOR``, ``LIBRARY_FLOOR``: what the passages got before
they followed the machine, so a slow machine answers as it did) and above by what the
model's context holds besides the rest of the prompt and the answer.  Before the first
measurement the budget is the floor.  A 1.5B model on 2 CPU cores reads ~40 tokens/s: the
floor; a GPU reads thousands: a whole paper, up to the context.
"""

from __future__ import annotations

import math

QUICK_FLOOR = 380  # a quick answer's passages, at least (1.5B model on 2 cores: ~40 tokens/s)
LIBRARY_FLOOR = 1800  # a library question's passages, at least (the value measured in docs/evaluation.md)
MARGIN = 64  # what the token estimates leave out: the passages' markup (paper and section titles)


def context_room(n_ctx: int, other_tokens: int, answer_tokens: int) -> int:
    """Tokens of a context of ``n_ctx`` left for passages once the rest of the prompt
    (``other_tokens``) and the answer are counted."""
    return max(0, n_ctx - other_tokens - answer_tokens - MARGIN)


def passage_budget(speed: float | None, target_s: float, fixed_tokens: int, room: int, floor: int) -> int:
    """Passage tokens for a first token in about ``target_s`` seconds at ``speed`` prompt
    tokens per second (None: not measured yet), when ``fixed_tokens`` other tokens are
    evaluated too: at least ``floor``, at most ``room`` (what the context holds)."""
    budget = floor
    if speed and speed > 0 and target_s > 0:
        afford = speed * target_s
        budget = room if not math.isfinite(afford) else max(floor, int(afford) - max(0, fixed_tokens))
    return max(0, min(budget, room))
