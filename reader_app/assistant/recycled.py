"""Recycled demonstrations for passage answers (issue O §1).

Quick and library answers read a few passages instead of the whole paper, so they carried
no DoubleDipper demonstrations; yet on whole papers the demonstrations, not the context,
carry most of DoubleDipper's lead.  The library already holds verified demonstrations:
every prepared paper's (demos.py, kept per paper + model + window).  A passage answer
recycles them:

- **own** (the default): the asked paper's own demonstrations, as soon as its preparation
  has written some; none otherwise, and none for a library question that reads several
  papers (one that reads a single paper carries that paper's, as its quick answer would);
- **library**: other papers' demonstrations only;
- **none**: no demonstrations (passage answers before issue O).

On 40 QASPER dev papers (133 questions, docs/evaluation.md) a quick answer with the paper's
own demonstrations scored +0.027 Answer F1 over none (95% -0.016 to +0.072), with other
papers' -0.009 (-0.060 to +0.038): other papers' demonstrations did not measurably help, so
"own" no longer falls back to them ("library" still offers them).

Each recycled demonstration is self-contained: its evidence paragraph and one neighbouring
paragraph of its paper, numbered [1] and [2] like real passages (the evidence's place
alternates, so the model learns to choose), then Question / Evidence / Answer.  They sit in
the prompt's prefix, after the system message and before the passages, so the prefix is
the same for every question with the same demonstrations: its KV state is computed once
and cached like a paper's, and time to first token does not grow.  The choice is stable
(by paper id, window and order in the paper's set) so that the prefix stays the same
while the library does.  A demonstration whose question is the one asked is left out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from reader_app.assistant.checks import INJECTED, demo_problem
from reader_app.assistant.paper_store import PaperStore
from reader_app.assistant.prompts import Demo
from reader_app.assistant.windows import INCLUDED_KINDS, truncate
from reader_app.core.model import Paper

VARIANTS = ("own", "library", "none")
DEMOS = 3  # demonstrations a passage prompt carries
PASSAGE_TOKENS = 150  # each paragraph of a demonstration is cut to this many tokens
ANSWER_WORDS = 12  # a longer recycled answer teaches the wrong shape: skipped


@dataclass(frozen=True)
class PassageDemo:
    """One recycled demonstration: its passages (evidence among them), question and answer."""

    question: str
    answer: str
    passages: tuple[str, ...]
    evidence: int  # 1-based place of the evidence paragraph in ``passages``
    paper_id: str

    def as_demo(self) -> Demo:
        """For the answer check (answers.shape_answer): a reply that parrots this answer is
        no answer; evidence 0 is never a passage number."""
        return Demo(self.question, 0, self.answer)


def _body(paper: Paper) -> list:
    return [p for p in paper.paragraphs if p.kind in INCLUDED_KINDS and p.text.strip()]


def recycle(paper: Paper, demo: dict, count: Callable[[str], int]) -> PassageDemo | None:
    """``demo`` (a kept demonstration of ``paper``: question, evidence = paragraph number,
    answer) as a self-contained passage demonstration, or None when it cannot be one (its
    paragraph is gone, its answer is long, or not in the paragraph's first tokens)."""
    try:
        question, number, answer = str(demo["question"]), int(demo["evidence"]), str(demo["answer"])
    except (KeyError, TypeError, ValueError):
        return None
    if not question.strip() or not answer.strip() or len(answer.split()) > ANSWER_WORDS:
        return None
    body = _body(paper)
    at = next((i for i, p in enumerate(body) if p.index + 1 == number), None)
    if at is None:
        return None
    text = truncate(" ".join(body[at].text.split()), count, PASSAGE_TOKENS)
    if INJECTED.search(text) or demo_problem(question, answer, text) is not None:
        return None
    first = int(hashlib.sha256(question.encode("utf-8")).hexdigest()[:2], 16) % 2 == 0  # evidence at [1]?
    near = at + 1 if first else at - 1
    if not 0 <= near < len(body):
        near, first = (at - 1, False) if first else (at + 1, True)
    if not 0 <= near < len(body):
        return PassageDemo(question, answer, (text,), 1, paper.id)
    other = truncate(" ".join(body[near].text.split()), count, PASSAGE_TOKENS)
    if INJECTED.search(other):
        return PassageDemo(question, answer, (text,), 1, paper.id)
    passages = (text, other) if first else (other, text)
    return PassageDemo(question, answer, passages, 1 if first else 2, paper.id)


class DemoBank:
    """Which recycled demonstrations a passage prompt carries; owns the recycled forms it made."""

    def __init__(self, store: PaperStore):
        self.store = store
        self._made: dict[tuple, PassageDemo | None] = {}

    def pick(self, model_key: str, paper_id: str | None, variant: str, count: Callable[[str], int],
             k: int = DEMOS, asked: str = "") -> list[PassageDemo]:
        """Up to ``k`` demonstrations for a passage answer about ``paper_id`` (None: a library
        question) in ``variant`` ("own", "library", "none"); none whose question is ``asked``
        (its answer would be given away, and a reply repeating it counts as no answer)."""
        if variant not in VARIANTS:
            raise ValueError(f"unknown demonstrations variant {variant!r}")
        if variant == "none" or k <= 0:
            return []
        kept = self.store.all_demonstrations(model_key)
        if variant == "own":  # the paper's own or none: other papers' did not measurably help
            if not paper_id:
                return []
            return self._take([(pid, d) for pid, d in kept if pid == paper_id], count, k, per_paper=k, asked=asked)
        return self._take([(pid, d) for pid, d in kept if pid != paper_id], count, k, per_paper=1, asked=asked)

    def _take(self, kept: list[tuple[str, list[dict]]], count, k: int, per_paper: int,
              asked: str = "") -> list[PassageDemo]:
        """The first usable demonstrations of ``kept``, at most ``per_paper`` from one paper,
        not two with the same question, and none with the question ``asked``."""
        out: list[PassageDemo] = []
        taken: dict[str, int] = {}
        questions = {_same(asked)} if asked.strip() else set()
        for pid, demos in kept:
            for demo in demos:
                if len(out) >= k:
                    return out
                if taken.get(pid, 0) >= per_paper:
                    break
                made = self._recycled(pid, demo, count) if isinstance(demo, dict) else None
                if made is None or _same(made.question) in questions:
                    continue
                out.append(made)
                questions.add(_same(made.question))
                taken[pid] = taken.get(pid, 0) + 1
        return out

    def _recycled(self, paper_id: str, demo: dict, count) -> PassageDemo | None:
        key = (paper_id, str(demo.get("question")), str(demo.get("evidence")), str(demo.get("answer")))
        if key not in self._made:
            paper = self.store.paper(paper_id)
            self._made[key] = recycle(paper, demo, count) if paper is not None else None
        return self._made[key]


def _same(question: str) -> str:
    """A question as compared for sameness: case, spacing and end punctuation aside."""
    return " ".join(question.lower().split()).rstrip(" ?.!")
