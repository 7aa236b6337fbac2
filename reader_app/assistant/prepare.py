"""Preparing a paper for questions before they are asked.

The slow part of a first question does not depend on the question: the paper's
windows, the demonstrations written for each window, and the evaluation of each
window's prompt prefix (instructions, numbered paper, demonstrations).  ``prepare``
does all three ahead of time: demonstrations are stored in the library (as asking
does), and each prefix's KV state goes to the engine's caches (RAM and the disk
cache), so the first question only evaluates its own few tokens.

Everything it does is what asking would do, in the same order and with the same
keys, so a question asked during (or after) preparation reuses whatever is done and
never redoes it.  Cancelling stops between steps (and between tokens inside one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from reader_app.assistant import prompts
from reader_app.core.errors import BadInput, Cancelled
from reader_app.core.model import Paper

Progress = Callable[[float, str], None]  # (fraction done 0..1, what runs now)


def prepare_paper(assistant, paper: Paper, *, mode: str = "doubledipper", k: int | None = None,
                  cancel: threading.Event | None = None, progress: Progress | None = None) -> dict:
    """Prepare ``paper`` for questions with ``assistant``'s engine (``Assistant.prepare``
    calls this holding its lock; only the assistant's public methods are used).

    Returns ``{"paper_id", "windows", "demonstrations", "prefix_tokens",
    "passage_prefix_tokens" (the recycled demonstrations' prefix, ``Assistant.warm_passages``),
    "seconds", "cached"}``: ``cached`` is True when every prefix state was already in a cache
    (nothing had to be evaluated).
    """
    if mode not in prompts.MODES:
        raise BadInput(f"unknown mode {mode!r}; choose one of {', '.join(prompts.MODES)}")
    if not paper.paragraphs:
        raise BadInput("this paper has no text to ask about")
    start = time.perf_counter()
    engine = assistant.engine
    k = assistant.k if k is None else k
    report = progress or (lambda _f, _l: None)

    def check() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled("preparation stopped")

    req = assistant.request(mode, k)
    windows = assistant.windows(paper, mode, k, req.style)
    n = len(windows)
    steps = (k + 1) if mode == "doubledipper" and k > 0 else 1
    n_demos = 0
    prefix_tokens = 0
    all_cached = True
    for w, window in enumerate(windows):
        check()
        base = w * steps
        user_prefix = window.text
        if mode == "doubledipper" and k > 0:
            tries = [0]

            def on_demo(_label: str, base=base, tries=tries) -> None:
                tries[0] += 1
                report(min(base + tries[0] - 1, base + k) / (n * steps),
                       f"Writing example questions for part {w + 1} of {n}")

            demos = assistant.demonstrations(paper, window, k, cancel, on_demo, req.style)
            n_demos += len(demos)
            user_prefix += prompts.render_demos(demos)
        check()
        report((base + steps - 1) / (n * steps), f"Reading part {w + 1} of {n}")
        prefix, _suffix = engine.chat_prefix_suffix(prompts.system_for(mode), user_prefix,
                                                    prompts.question_tail("?", mode, req.style.name))
        # evaluate and save the state; the paper's part is saved apart too (engines that can),
        # so zero-shot questions and new demonstrations reuse it
        shared = engine.chat_prefix_suffix(prompts.system_for(mode), window.text, "")[0]
        gen = engine.complete(prefix, "", max_tokens=0, base=shared, cancel=cancel)
        check()
        assistant.record_speed(gen.timings)  # a prefix read anew is a good measure of prompt speed
        prefix_tokens += gen.timings.prompt_tokens
        if gen.cache not in ("kv", "ram", "disk"):
            all_cached = False
    # the prefix of quick answers and library questions holds recycled demonstrations (this
    # paper's may now be among them): read it now rather than at the next such question
    passage_tokens = assistant.warm_passages(cancel)
    report(1.0, "Ready")
    return {"paper_id": paper.id, "windows": n, "demonstrations": n_demos, "prefix_tokens": prefix_tokens,
            "passage_prefix_tokens": passage_tokens,
            "seconds": round(time.perf_counter() - start, 3), "cached": all_cached}
