"""DoubleDipper's demonstrations: question/evidence/answer pairs the model writes from
paragraphs of the paper it is asked about (arXiv 2406.13632).

Paragraphs with at least two sentences are drawn in an order seeded by the paper id and
the window; the model writes a question and a short answer for each from a short prompt
holding that paragraph alone (``prompts.demo_tail``; a grammar keeps the answer to the
paragraph's words).  Pairs whose answer lacks lexical support, whose question is not
about the paragraph, or that look like instructions are skipped (``checks.demo_problem``),
up to 3k tries (5k for a capable model, whose checks are stricter).  They are cached per
paper + model + window + style, in RAM and (for a paper in the library) in the library; a stored set holding a pair that today's checks
reject is written again.  ``Assistant.demonstrations`` calls ``demonstrations``.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable

from reader_app.assistant import prompts
from reader_app.assistant.answers import _answer_line_done
from reader_app.assistant.checks import INJECTED, demo_problem, sentences
from reader_app.assistant.parsing import parse_demo, strip_restatement
from reader_app.assistant.prompts import Demo
from reader_app.assistant.windows import Window
from reader_app.core.model import Paper

DEMO_STOP = ["\nQuestion", "\nEvidence", "</", "<|"]


def demo_seed(paper: Paper, window: Window, seed: int = 0) -> int:
    h = hashlib.sha256(f"{paper.id}:{window.key}:{seed}".encode()).hexdigest()
    return int(h[:8], 16)


def demo_candidates(count: Callable[[str], int], paper: Paper, window: Window, seed: int = 0) -> list[int]:
    """Numbers of the window's paragraphs a demonstration may come from, in seeded order:
    body text of two or more sentences, 12-340 tokens, nothing that reads as an instruction."""
    out = []
    for n, p in window.paragraphs.items():
        text = " ".join(p.text.split())
        if p.kind != "body" or sentences(text) < 2 or INJECTED.search(text):
            continue
        if not 12 <= count(text) <= 340:
            continue
        out.append(n)
    random.Random(demo_seed(paper, window, seed)).shuffle(out)
    return out


def demonstrations(assistant, paper: Paper, window: Window, k: int,
                   cancel: threading.Event | None = None,
                   progress: Callable[[str], None] | None = None) -> list[Demo]:
    """``k`` demonstrations for ``window``: cached (RAM, then library), else written."""
    if k <= 0:
        return []
    mkey = getattr(assistant.engine, "key", "")
    style = assistant.style.name
    ckey = (paper.id, mkey, window.key, k, style)
    if ckey in assistant._demos:
        return assistant._demos[ckey]
    use_lib = assistant._in_library(paper)
    wkey = f"{window.key}:k{k}" + ("" if style == "small" else f":{style}")
    stored = assistant._library_call("get_demonstrations", paper.id, mkey, wkey) if use_lib else None
    if isinstance(stored, list):  # [] too: no paragraph gave a usable pair, do not try again
        try:
            demos = [Demo.from_dict(d) for d in stored]
        except (KeyError, TypeError, ValueError):
            demos = None  # an unreadable cache entry is rebuilt
        if demos is not None and all(_still_good(d, window, style) for d in demos):
            assistant._demos[ckey] = demos
            return demos
        # written by an older version whose checks let a pair through that today's reject
    demos = write_demos(assistant, paper, window, k, cancel, progress)
    assistant._demos[ckey] = demos
    if use_lib:
        assistant._library_call("put_demonstrations", paper.id, mkey, wkey, [d.to_dict() for d in demos])
    return demos


def _still_good(demo: Demo, window: Window, style: str) -> bool:
    para = window.paragraphs.get(demo.evidence)
    return para is not None and demo_problem(demo.question, demo.answer, para.text, strict=style == "capable") is None


def write_demos(assistant, paper: Paper, window: Window, k: int,
                cancel: threading.Event | None,
                progress: Callable[[str], None] | None = None) -> list[Demo]:
    """Ask the model for demonstrations until ``k`` pass the checks or ``style.demo_tries`` x k
    paragraphs were tried.

    Resumable: a cancelled generation (preparation giving way to a question) goes on from
    the paragraph it stopped at, keeping the demonstrations already written."""
    engine = assistant.engine
    pkey = (paper.id, getattr(engine, "key", ""), window.key, k)
    state = assistant._partial_demos.setdefault(pkey, {"demos": [], "done": 0})
    demos: list[Demo] = state["demos"]
    style = assistant.style
    capable = style.name == "capable"  # its demonstrations: whole phrases, checked strictly
    for n in demo_candidates(engine.count_tokens, paper, window, assistant.seed)[state["done"]:]:
        tries = state["done"]
        if len(demos) >= k or tries >= style.demo_tries * k:
            break
        if progress:
            progress(f"Writing example question {len(demos) + 1} of {k} from the paper "
                     "(once per paper and model)")
        para = window.paragraphs[n]
        prefix, suffix = engine.chat_prefix_suffix(prompts.SYSTEM_DEMO, "", prompts.demo_tail(n, para.text, style.name))
        grammar = prompts.demo_grammar(para.text, answer_words=16 if capable else 10) if assistant.use_grammar else None
        text = assistant._run(prefix, suffix + prompts.DEMO_PRIMER, max_tokens=96 if capable else 64, stop=DEMO_STOP,
                              cancel=cancel, until=_answer_line_done, grammar=grammar)
        question, answer = parse_demo(text, prompts.DEMO_PRIMER)
        answer = strip_restatement(question, answer)
        problem = demo_problem(question, answer, para.text, strict=capable)
        assistant.demo_log.update(["tried", problem or "kept"])
        if problem is None:
            demos.append(Demo(question, n, answer))
        state["done"] += 1
    assistant._partial_demos.pop(pkey, None)
    return demos
