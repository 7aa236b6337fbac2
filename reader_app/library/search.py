"""FTS5 query building: arbitrary user text becomes a safe MATCH expression.

Nothing the user types reaches FTS5 syntax unquoted: every term is a double-quoted
string, so quotes, ``-``, ``:``, ``*``, ``AND``/``OR``/``NOT``, ``NEAR``, parentheses
and column filters are all just text.  What we do honour, because researchers type it:

* ``"a phrase"`` (double quotes) -> an FTS5 phrase;
* ``transform*`` (a trailing star on a word) -> a prefix query;
* ``OR`` between terms and ``-word`` to exclude, as in web search;
* everything else -> its words, all required (AND), as a search engine would.
"""

from __future__ import annotations

import re
import unicodedata

from reader_app.core.model import SearchHit

from .db import LibraryDb, locked
from .words import STOP_WORDS, stem, terms, words

_WORD = re.compile(r"[^\W_]+(?:\*)?", re.UNICODE)  # letters/digits, optional trailing *


def _words(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text)
    out = []
    for m in _WORD.finditer(text):
        w = m.group(0)
        star = w.endswith("*")
        w = w.rstrip("*")
        if w:
            out.append(f'"{w}"*' if star else f'"{w}"')
    return out


_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


def match_all(query: str) -> str:
    """MATCH expression requiring every word/phrase. Empty string if nothing searchable.

    Also understood: ``OR`` between terms (upper case, as in web search) and ``-word``
    to exclude a word, e.g. ``bert OR roberta -distillation``.
    """
    query = unicodedata.normalize("NFKC", query).replace("\x00", " ")
    groups: list[list[str]] = [[]]
    excluded: list[str] = []
    for m in _TOKEN.finditer(query):
        phrase, word = m.group(1), m.group(2)
        if word is not None and word.strip("()") in ("AND", "OR", "NOT", "NEAR"):
            word = word.strip("()")
        if word is not None and not word.startswith("-") and len(_words(word)) > 1:
            phrase = word  # "state-of-the-art", "GPT-4", "col:val": one token -> a phrase
        if phrase is not None:
            inner = [w.rstrip("*").strip('"') for w in _words(phrase)]
            terms = ['"' + " ".join(inner) + '"'] if inner else []
        elif word == "OR":
            if groups[-1]:
                groups.append([])
            continue
        elif word in ("AND", "NOT", "NEAR"):
            continue
        elif word.startswith("-") and len(word) > 1:
            inner = [w.rstrip("*").strip('"') for w in _words(word[1:])]
            if len(inner) > 1:
                excluded.append('"' + " ".join(inner) + '"')
            else:
                excluded += _words(word[1:])
            continue
        else:
            terms = _words(word)
        groups[-1] += terms
    groups = [g for g in groups if g]
    if not groups:
        return ""
    expr = " OR ".join("(" + " AND ".join(g) + ")" for g in groups)
    if excluded:
        expr = f"({expr}) NOT ({' OR '.join(excluded)})"
    return expr


def match_any(query: str) -> str:
    """MATCH expression for natural-language questions: any content word (OR).

    The question's words are those of ``words.words`` less ``words.STOP_WORDS`` (the
    analysis the citation check uses too), one term per stem ("model" and "models" are one
    term, as the index has them); a hyphenated word or decimal number ("GPT-4") is a phrase
    of its tokens.  A question made only of stop words searches for them all."""
    text = query.replace("\x00", " ")
    found = words(text)
    chosen = [w for w in found if w not in STOP_WORDS] or found
    out: list[str] = []
    stems: set[str] = set()
    for w in chosen:
        inner = terms(w)
        key = " ".join(stem(t) for t in inner)
        if not inner or key in stems:
            continue
        stems.add(key)
        out.append('"' + " ".join(inner) + '"')
    return " OR ".join(out)


# ``g.paper_id`` (a paragraphs row) belongs to a paper with the tag given as the parameter
TAGGED = "g.paper_id IN (SELECT pt.paper_id FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id WHERE t.name = ?)"


class Search:
    """Full-text search of the whole library (the ``paragraphs_fts`` index, kept in sync with
    ``paragraphs`` by triggers).

    Contract: any text the user types is safe (``match_all`` quotes every term); hits are
    paragraphs, best BM25 first, optionally of one paper or of the papers with a tag.
    """

    def __init__(self, db: LibraryDb) -> None:
        self._db = db

    @locked
    def search(self, query: str, *, tag: str | None = None, paper_id: str | None = None,
               limit: int = 50) -> list[SearchHit]:
        """Full-text search over paragraphs and section titles, best (BM25) first."""
        match = match_all(query or "")
        if not match:
            return []
        where, params = ["paragraphs_fts MATCH ?"], [match]
        if paper_id is not None:
            where.append("g.paper_id = ?")
            params.append(self._db.resolve_id(paper_id))
        if tag is not None:
            where.append(TAGGED)
            params.append(tag.strip())
        params.append(max(1, int(limit)))
        rows = self._db.rows(f"""
            SELECT g.paper_id, p.title, g.page, g.section, g.idx,
                   snippet(paragraphs_fts, 0, '**', '**', '…', 24) AS snippet,
                   bm25(paragraphs_fts, 1.0, 0.5) AS rank
            FROM paragraphs_fts JOIN paragraphs g ON g.id = paragraphs_fts.rowid
            JOIN papers p ON p.id = g.paper_id
            WHERE {' AND '.join(where)} ORDER BY rank, g.paper_id, g.idx LIMIT ?""", params)
        return [SearchHit(paper_id=r["paper_id"], title=r["title"], page=r["page"], section=r["section"],
                          snippet=" ".join(r["snippet"].split()), paragraph=r["idx"], score=-r["rank"])
                for r in rows]
