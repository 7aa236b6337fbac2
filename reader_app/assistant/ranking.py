"""Which paragraphs of a paper match a question: one ranking, computed once per question.

``rank`` is the one ranker: SQLite FTS5's BM25 over the paper's own paragraphs
(``library.ranking``), through the library for a paper stored there and in memory
otherwise, with the same result either way (tests/test_ranking.py).  ``Ranker``
remembers the last rankings, so that the passages the Ask panel shows at once and the
question's routing and evidence candidates (the assistant, on the model's thread) come
from a single ranking.  It is safe to share between threads; each caller passes the
library handle of its own thread.  ``switch_to`` makes a shared ranker rank as another one
does from then on (the app's ranker becomes the hybrid one once the embedding model opens).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from reader_app.assistant.passages import PASSAGES, top_passages
from reader_app.assistant.prompts import with_selection
from reader_app.assistant.windows import rank_in_memory
from reader_app.core.errors import NotFound
from reader_app.core.model import Paper, Passage, Selection


PAPER_SCORE_TOP = 3  # a paper's score: the sum of its best paragraph scores


def paper_scores(hits) -> dict[str, float]:
    """{paper id: score} of ``hits`` ([(paper id, paragraph score)]): each paper's score is
    the sum of its best ``PAPER_SCORE_TOP`` paragraph scores (library answers, ``find``)."""
    per: dict[str, list[float]] = {}
    for pid, score in hits:
        per.setdefault(pid, []).append(score)
    return {pid: sum(sorted(scores, reverse=True)[:PAPER_SCORE_TOP]) for pid, scores in per.items()}

def rank(paper: Paper, question: str, library=None) -> list[tuple[int, float]]:
    """[(paragraph index (0-based), score)] best first, for the paragraphs matching any
    content word of ``question``; ``library``: the calling thread's handle, or None."""
    if library is not None and paper.id:
        try:
            return list(library.rank_paragraphs(paper.id, question))
        except NotFound:
            pass
    return rank_in_memory(paper, question)


class Ranker:
    """Rankings of recent questions, shared by the Ask panel and the assistant."""

    def __init__(self, library=None, size: int = 32, rank_fn=None, kind: str = "bm25"):
        """``rank_fn(paper, question, library)``: the ranking to cache (default ``rank``, BM25;
        ``hybrid.hybrid_ranker`` passes BM25 fused with dense vectors and ``kind`` "hybrid")."""
        self.library = library
        self._rank_fn = rank_fn or rank
        self._kind = kind
        self._size = size
        self._cache: OrderedDict[tuple, list[tuple[int, float]]] = OrderedDict()
        self._generation = 0  # moves on at each switch_to / forget: a ranking begun before is not kept
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        """How it ranks: "bm25" (words) or "hybrid" (words and meaning)."""
        with self._lock:
            return self._kind

    def switch_to(self, other: Ranker) -> None:
        """Rank as ``other`` ranks from now on (its ranking function and kind); the rankings
        remembered so far are forgotten."""
        fn, kind = other.ranking()
        with self._lock:
            self._rank_fn, self._kind = fn, kind
            self._cache.clear()
            self._generation += 1

    def forget(self, paper_id: str) -> None:
        """Forget the rankings of one paper (its vectors were just computed: the next ranking
        uses them)."""
        with self._lock:
            for key in [k for k in self._cache if k[0] == paper_id]:
                del self._cache[key]
            self._generation += 1

    def ranking(self) -> tuple:
        """(the ranking function, its kind), for ``switch_to``."""
        with self._lock:
            return self._rank_fn, self._kind

    def rank(self, paper: Paper, question: str, library=None) -> list[tuple[int, float]]:
        """[(paragraph index, score)] best first; ``library``: this thread's handle."""
        question = " ".join((question or "").split())
        key = (paper.id or id(paper), len(paper.paragraphs), question)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        with self._lock:
            fn, generation = self._rank_fn, self._generation
        ranked = fn(paper, question, library if library is not None else self.library) if question else []
        with self._lock:
            if generation != self._generation:  # switched or told to forget meanwhile: not kept
                return ranked
            self._cache[key] = ranked
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return ranked

    def passages(self, paper: Paper, question: str, n: int = PASSAGES, library=None) -> list[Passage]:
        """The ``n`` best-matching paragraphs, from the question's ranking."""
        if not " ".join((question or "").split()):
            return []
        return top_passages(paper.paragraphs, self.rank(paper, question, library), n, paper.sections)

    def passages_in_library(self, library, paper_id: str, question: str, selection: Selection | None = None,
                            n: int = PASSAGES) -> list[Passage]:
        """Passages of a paper in ``library`` for a question (about ``selection``, if given),
        ranked as the assistant will rank it (the Ask panel, before the answer)."""
        paper = library.get_paper(paper_id)
        return self.passages(paper, with_selection(question, selection), n, library)
