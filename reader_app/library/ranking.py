"""The one paragraph ranking: BM25 over one paper's paragraphs, with SQLite FTS5.

A question is ranked against the paragraphs of its own paper only, so the same question
ranks the same paragraphs whether the paper is in the library or held in memory: the
paragraphs (body text and captions, section title weighted half) go into an FTS5 table in
memory, tokenized as the library's index is (Porter stems of unicode61 words), and FTS5's
``bm25()`` scores them against the question's content words (``search.match_any``).  The
library-wide index would weigh a word by how rare it is across *all* stored papers, which
differs from library to library; within one paper is what routing a question needs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from reader_app.core.model import Paper, Paragraph

from .db import LibraryDb, _text, locked
from .papers import Papers
from .search import TAGGED, match_any

TOKENIZE = "porter unicode61 remove_diacritics 2"  # as the library's paragraphs_fts (schema.py)
WEIGHTS = (1.0, 0.5)  # text, section title
RANKED_KINDS = ("body", "caption")  # what a prompt includes (assistant.windows.INCLUDED_KINDS is this)


def ranked_paragraphs(paper: Paper, kinds: Iterable[str] = RANKED_KINDS) -> list[Paragraph]:
    """The paragraphs a question is ranked against: those of ``kinds`` with text, or every
    paragraph with text when the paper has none of those kinds."""
    kinds = tuple(kinds)
    paras = [p for p in paper.paragraphs if p.kind in kinds and p.text.strip()]
    return paras or [p for p in paper.paragraphs if p.text.strip()]


def section_title(paper: Paper, p: Paragraph) -> str:
    if p.section:
        return p.section
    if p.section_index is not None and 0 <= p.section_index < len(paper.sections):
        return paper.sections[p.section_index].title
    return ""


def rank_texts(docs: Iterable[tuple[int, str, str]], query: str) -> list[tuple[int, float]]:
    """``docs``: (key, text, section title).  [(key, score)] of those matching any content word
    of ``query``, best first (ties: smaller key first); score = -bm25, higher is better."""
    match = match_any(query or "")
    if not match:
        return []
    con = sqlite3.connect(":memory:")
    try:
        con.execute(f"CREATE VIRTUAL TABLE docs USING fts5(text, section, tokenize='{TOKENIZE}')")
        con.executemany("INSERT INTO docs (rowid, text, section) VALUES (?, ?, ?)",
                        ((int(k), _text(t), _text(s)) for k, t, s in docs))
        rows = con.execute(f"""SELECT rowid, bm25(docs, {WEIGHTS[0]}, {WEIGHTS[1]}) AS rank FROM docs
                               WHERE docs MATCH ? ORDER BY rank, rowid""", [match]).fetchall()
    finally:
        con.close()
    return [(k, -r) for k, r in rows]


def rank_paper(paper: Paper, query: str, kinds: Iterable[str] = RANKED_KINDS) -> list[tuple[int, float]]:
    """[(paragraph index, score)] best first: ``query`` against ``paper``'s own paragraphs."""
    return rank_texts(((p.index, p.text, section_title(paper, p)) for p in ranked_paragraphs(paper, kinds)),
                      query)


class Ranking:
    """Which paragraphs answer a question: of one stored paper (``rank_paragraphs``, the same
    ranking as ``rank_paper`` in memory) or of the whole library (``rank_library``).

    Contract: a paragraph is ranked when it matches ANY content word of the question (see
    ``search.match_any``); scores are ``-bm25``, higher is better, so they can be summed.
    ``papers`` gives a stored paper's paragraphs and sections.
    """

    def __init__(self, db: LibraryDb, papers: Papers) -> None:
        self._db = db
        self._papers = papers

    @locked
    def rank_paragraphs(self, paper_id: str, query: str, limit: int | None = None,
                        kinds: Iterable[str] = RANKED_KINDS) -> list[tuple[int, float]]:
        """Paragraph indexes of one stored paper matching ANY content word of ``query``, best
        first, ranked as ``rank_paper`` ranks the paper in memory.  Scores are ``-bm25``
        (higher is better), so they can be summed per window."""
        pid = self._db.resolve_id(paper_id)
        paper = Paper(id=pid, paragraphs=self._papers.paragraphs(pid), sections=self._papers.sections(pid))
        ranked = rank_paper(paper, query, kinds)
        return ranked[:int(limit)] if limit else ranked

    @locked
    def rank_library(self, query: str, *, paper_ids: Iterable[str] | None = None, tag: str | None = None,
                     limit: int = 300, kinds: Iterable[str] = RANKED_KINDS) -> list[tuple[str, int, float]]:
        """Paragraphs of the whole library (or of ``paper_ids``, or of the papers tagged ``tag``)
        matching any content word of ``query``: [(paper id, paragraph index, score)], best first,
        by the library-wide FTS5 index (a word rare across the library weighs more, which is
        what finding the right papers needs).  Scores are ``-bm25``."""
        match = match_any(query or "")
        if not match:
            return []
        kinds = tuple(kinds)
        where = ["paragraphs_fts MATCH ?", f"g.kind IN ({', '.join('?' * len(kinds))})"]
        params: list = [match, *kinds]
        if paper_ids is not None:
            ids = [self._db.resolve_id(p) for p in paper_ids]
            if not ids:
                return []
            where.append(f"g.paper_id IN ({', '.join('?' * len(ids))})")
            params += ids
        if tag is not None:
            where.append(TAGGED)
            params.append(tag.strip())
        params.append(max(1, int(limit)))
        rows = self._db.rows(f"""
            SELECT g.paper_id, g.idx, bm25(paragraphs_fts, {WEIGHTS[0]}, {WEIGHTS[1]}) AS rank
            FROM paragraphs_fts JOIN paragraphs g ON g.id = paragraphs_fts.rowid
            WHERE {' AND '.join(where)} ORDER BY rank, g.paper_id, g.idx LIMIT ?""", params)
        return [(r["paper_id"], r["idx"], -r["rank"]) for r in rows]
