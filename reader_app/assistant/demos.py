"""DoubleDipper's demonstrations: question/evidence/answer pairs the model writes from
paragraphs of the paper it is asked about (arXiv 2406.13632).

Paragraphs with at least two sentences are drawn in an order seeded by the paper id and
the window; the model writes a question and a short answer for each from a short prompt
holding that paragraph alone (``prompts.demo_tail``; a grammar, ``reply.demo_grammar``, keeps the answer to the
paragraph's words).  Pairs whose answer lacks lexical support, whose question is not
about the paragraph, or that look like instructions are skipped (``checks.demo_problem``),
up to 3k tries (5k for a capable model, whose checks are stricter).  They are cached per
paper + model + window + style, in RAM and (for a paper in the library) in the library
(``PaperStore``); a stored set holding a pair that today's checks reject is written again.
``DemoWriter`` owns that state; the ``Assistant`` holds one and calls its public methods.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable

from collections import Counter
from typing import Protocol

from reader_app.assistant import prompts
from reader_app.assistant.answers import strip_restatement
from reader_app.assistant.checks import INJECTED, demo_problem, sentences
from reader_app.assistant.paper_store import PaperStore
from reader_app.assistant.prompts import Demo
from reader_app.assistant.reply import DEMO_PRIMER, DEMO_STOP, answer_line_done, demo_grammar, parse_demo
from reader_app.assistant.style import AnswerStyle
from reader_app.assistant.windows import Window
from reader_app.core.model import Paper

class Generator(Protocol):
    """What writing demonstrations needs of the assistant (``service.Assistant``)."""

    engine: object
    seed: int
    use_grammar: bool

    @property
    def model_key(self) -> str: ...

    def generate(self, prefix: str, suffix: str, *, max_tokens: int, stop: list[str],
                 cancel: threading.Event | None, until: Callable[[str], bool] | None = None,
                 grammar: str | None = None) -> str: ...


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


class DemoWriter:
    """Writes and caches one assistant's demonstrations; owns what an interrupted
    generation had written (``resume``) and the tally of kept and rejected pairs (``log``)."""

    def __init__(self, store: PaperStore):
        self.store = store
        self.log: Counter = Counter()  # "tried", "kept", and each rejection reason
        self._partial: dict[tuple, dict] = {}  # demonstrations of an interrupted generation
        self._ready: dict[tuple, list[Demo]] = {}

    def demonstrations(self, gen: Generator, paper: Paper, window: Window, k: int, style: AnswerStyle,
                       cancel: threading.Event | None = None,
                       progress: Callable[[str], None] | None = None) -> list[Demo]:
        """``k`` demonstrations for ``window``: cached (RAM, then library), else written."""
        if k <= 0:
            return []
        mkey = gen.model_key
        ckey = (paper.id, mkey, window.key, k, style.name)
        if ckey in self._ready:
            return self._ready[ckey]
        wkey = f"{window.key}:k{k}" + ("" if style.name == "small" else f":{style.name}")
        stored = self.store.demonstrations(paper, mkey, wkey)
        if isinstance(stored, list):  # [] too: no paragraph gave a usable pair, do not try again
            try:
                demos = [Demo.from_dict(d) for d in stored]
            except (KeyError, TypeError, ValueError):
                demos = None  # an unreadable cache entry is rebuilt
            if demos is not None and all(_still_good(d, window, style.name) for d in demos):
                self._ready[ckey] = demos
                return demos
            # written by an older version whose checks let a pair through that today's reject
        demos = self.write(gen, paper, window, k, style, cancel, progress)
        self._ready[ckey] = demos
        self.store.save_demonstrations(paper, mkey, wkey, [d.to_dict() for d in demos])
        return demos

    def write(self, gen: Generator, paper: Paper, window: Window, k: int, style: AnswerStyle,
              cancel: threading.Event | None,
              progress: Callable[[str], None] | None = None) -> list[Demo]:
        """Ask the model for demonstrations until ``k`` pass the checks or ``style.demo_tries`` x k
        paragraphs were tried.

        Resumable: a cancelled generation (preparation giving way to a question) goes on from
        the paragraph it stopped at, keeping the demonstrations already written."""
        engine = gen.engine
        pkey = (paper.id, gen.model_key, window.key, k)
        state = self._partial.setdefault(pkey, {"demos": [], "done": 0})
        demos: list[Demo] = state["demos"]
        capable = style.name == "capable"  # its demonstrations: whole phrases, checked strictly
        for n in demo_candidates(engine.count_tokens, paper, window, gen.seed)[state["done"]:]:
            tries = state["done"]
            if len(demos) >= k or tries >= style.demo_tries * k:
                break
            if progress:
                progress(f"Writing example question {len(demos) + 1} of {k} from the paper "
                         "(once per paper and model)")
            para = window.paragraphs[n]
            prefix, suffix = engine.chat_prefix_suffix(prompts.SYSTEM_DEMO, "", prompts.demo_tail(n, para.text, style.name))
            grammar = (demo_grammar(para.text, answer_words=style.demo_answer_words)
                       if gen.use_grammar else None)
            text = gen.generate(prefix, suffix + DEMO_PRIMER, max_tokens=style.demo_tokens, stop=DEMO_STOP,
                                cancel=cancel, until=answer_line_done, grammar=grammar).text
            question, answer = parse_demo(text, DEMO_PRIMER)
            answer = strip_restatement(question, answer)
            problem = demo_problem(question, answer, para.text, strict=capable)
            self.log.update(["tried", problem or "kept"])
            if problem is None:
                demos.append(Demo(question, n, answer))
            state["done"] += 1
        self._partial.pop(pkey, None)
        return demos


def _still_good(demo: Demo, window: Window, style: str) -> bool:
    para = window.paragraphs.get(demo.evidence)
    return para is not None and demo_problem(demo.question, demo.answer, para.text, strict=style == "capable") is None
