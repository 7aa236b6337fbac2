"""Paragraph vectors for retrieval by meaning: one float32 BLOB per (model, paper, paragraph).

Stored in the library's SQLite (``paragraph_vectors``, schema v8) next to a hash of the text
they were computed from (``vector_text``: the section title and the paragraph), so a vector
whose paragraph changed is known to be stale.  ``reextract`` drops a paper's vectors in the
same transaction as its paragraphs; vectors saved from a paper read before its text changed
(a background job racing ``reextract`` in another process) are stale: ``matrix`` leaves them
out and ``papers_without`` lists their paper again, so they are recomputed, never ranked on.
The library-wide ranking keeps one model's fresh vectors as a single numpy matrix in memory,
rebuilt after any change to the database (this connection's or another's), so ranking 500
papers is one matrix-vector product.

A BLOB column and numpy, not sqlite-vec: the extension is not installed with the app, and
a brute-force product over 50,000 x 384 floats takes milliseconds (docs/evaluation.md).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable

import numpy as np

from .db import LibraryDb, locked

# a paragraph's current vector text: its own section name, else its section's title
_CURRENT = """
    SELECT v.paper_id, v.idx, v.text_hash, g.text,
           CASE WHEN COALESCE(g.section, '') != '' THEN g.section ELSE COALESCE(s.title, '') END AS section{extra}
    FROM paragraph_vectors v
    LEFT JOIN paragraphs g ON g.paper_id = v.paper_id AND g.idx = v.idx
    LEFT JOIN sections s ON s.paper_id = g.paper_id AND s.idx = g.section_index
    WHERE v.model = ?"""


def vector_text(section: str, text: str) -> str:
    """What a paragraph's vector is computed from: its section title, then its text."""
    return f"{section}. {text}" if section else text


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _fresh(row: dict) -> bool:
    """Was this stored vector computed from its paragraph's text as it stands now?"""
    return row["text"] is not None and text_hash(vector_text(row["section"], row["text"])) == row["text_hash"]


class Vectors:
    """Each stored paragraph's vector, per embedding model."""

    def __init__(self, db: LibraryDb) -> None:
        self._db = db
        # model -> (the database's change stamp when built, keys, matrix)
        self._matrices: dict[str, tuple[tuple, list[tuple[str, int]], np.ndarray]] = {}
        self._mlock = threading.Lock()

    @locked
    def stored(self, paper_id: str, model: str) -> dict[int, tuple[str, np.ndarray]]:
        """{paragraph index: (text hash, vector)} of one paper for ``model``, stale ones
        included (the caller compares the hash with ``text_hash`` of the text it holds)."""
        pid = self._db.resolve_id(paper_id)
        rows = self._db.rows("SELECT idx, text_hash, vector FROM paragraph_vectors WHERE model = ? AND paper_id = ?",
                             [model, pid])
        return {r["idx"]: (r["text_hash"], np.frombuffer(r["vector"], dtype=np.float32)) for r in rows}

    @locked
    def save(self, paper_id: str, model: str, rows: Iterable[tuple[int, str, np.ndarray]]) -> int:
        """Replace the paper's vectors for ``model`` by ``rows`` [(index, text hash, vector)]."""
        pid = self._db.resolve_id(paper_id)
        data = [(pid, model, int(i), h, np.asarray(v, dtype=np.float32).tobytes()) for i, h, v in rows]
        with self._db.write():
            self._db.execute("DELETE FROM paragraph_vectors WHERE model = ? AND paper_id = ?", [model, pid])
            self._db.executemany("""INSERT INTO paragraph_vectors (paper_id, model, idx, text_hash, vector)
                                    VALUES (?, ?, ?, ?, ?)""", data)
        return len(data)

    @locked
    def papers_without(self, model: str) -> list[str]:
        """Ids of the papers with paragraphs but no fresh vectors for ``model``: none at all
        (new papers, papers re-extracted since), or some computed from another text (oldest
        first)."""
        rows = self._db.rows("""
            SELECT p.id FROM papers p
            WHERE EXISTS (SELECT 1 FROM paragraphs g WHERE g.paper_id = p.id)
              AND NOT EXISTS (SELECT 1 FROM paragraph_vectors v WHERE v.paper_id = p.id AND v.model = ?)
            ORDER BY p.added, p.id""", [model])
        todo = {r["id"] for r in rows} | self.stale_papers(model)
        if not todo:
            return []
        order = self._db.rows("SELECT id FROM papers ORDER BY added, id")
        return [r["id"] for r in order if r["id"] in todo]

    @locked
    def stale_papers(self, model: str) -> set[str]:
        """Ids of the papers holding a vector of ``model`` whose paragraph is gone or reads
        otherwise than the text the vector was computed from."""
        return {r["paper_id"] for r in self._db.rows(_CURRENT.format(extra=""), [model]) if not _fresh(r)}

    @locked
    def models_of(self, paper_id: str) -> list[str]:
        """The embedding models that have vectors of this paper."""
        pid = self._db.resolve_id(paper_id)
        return [r["model"] for r in self._db.rows(
            "SELECT DISTINCT model FROM paragraph_vectors WHERE paper_id = ? ORDER BY model", [pid])]

    @locked
    def count(self, model: str) -> tuple[int, int]:
        """(papers with vectors for ``model``, papers with paragraphs)."""
        done = self._db.one("SELECT COUNT(DISTINCT paper_id) AS n FROM paragraph_vectors WHERE model = ?", [model])
        total = self._db.one("SELECT COUNT(DISTINCT paper_id) AS n FROM paragraphs")
        return done["n"], total["n"]

    @locked
    def matrix(self, model: str) -> tuple[list[tuple[str, int]], np.ndarray]:
        """([(paper id, paragraph index)], [n, dim] matrix) of every fresh stored vector of
        ``model`` (stale ones left out), kept until the database changes."""
        stamp = self._db.change_stamp()
        with self._mlock:
            found = self._matrices.get(model)
        if found is not None and found[0] == stamp:
            return found[1], found[2]
        rows = [r for r in self._db.rows(_CURRENT.format(extra=", v.vector") + " ORDER BY v.paper_id, v.idx",
                                         [model]) if _fresh(r)]
        keys = [(r["paper_id"], r["idx"]) for r in rows]
        mat = (np.frombuffer(b"".join(r["vector"] for r in rows), dtype=np.float32).reshape(len(rows), -1)
               if rows else np.zeros((0, 0), dtype=np.float32))
        with self._mlock:
            self._matrices[model] = (stamp, keys, mat)
        return keys, mat
