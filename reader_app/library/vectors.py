"""Paragraph vectors for retrieval by meaning: one float32 BLOB per (model, paper, paragraph).

Stored in the library's SQLite (``paragraph_vectors``, schema v7) next to the text they
were computed from (a hash of it), so a vector whose paragraph changed is known to be stale;
``reextract`` drops a paper's vectors in the same transaction as its paragraphs.  The
library-wide ranking keeps one model's vectors as a single numpy matrix in memory, rebuilt
after any write, so ranking 500 papers is one matrix-vector product.

A BLOB column and numpy, not sqlite-vec: the extension is not installed with the app, and
a brute-force product over 50,000 x 384 floats takes milliseconds (docs/evaluation.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np

from .db import LibraryDb, locked


class Vectors:
    """Each stored paragraph's vector, per embedding model."""

    def __init__(self, db: LibraryDb) -> None:
        self._db = db
        self._matrices: dict[str, tuple[list[tuple[str, int]], np.ndarray]] = {}
        self._mlock = threading.Lock()

    @locked
    def stored(self, paper_id: str, model: str) -> dict[int, tuple[str, np.ndarray]]:
        """{paragraph index: (text hash, vector)} of one paper for ``model``."""
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
        with self._mlock:
            self._matrices.pop(model, None)
        return len(data)

    @locked
    def papers_without(self, model: str) -> list[str]:
        """Ids of the papers with paragraphs but no vectors for ``model`` (oldest first)."""
        rows = self._db.rows("""
            SELECT p.id FROM papers p
            WHERE EXISTS (SELECT 1 FROM paragraphs g WHERE g.paper_id = p.id)
              AND NOT EXISTS (SELECT 1 FROM paragraph_vectors v WHERE v.paper_id = p.id AND v.model = ?)
            ORDER BY p.added, p.id""", [model])
        return [r["id"] for r in rows]

    @locked
    def count(self, model: str) -> tuple[int, int]:
        """(papers with vectors for ``model``, papers with paragraphs)."""
        done = self._db.one("SELECT COUNT(DISTINCT paper_id) AS n FROM paragraph_vectors WHERE model = ?", [model])
        total = self._db.one("SELECT COUNT(DISTINCT paper_id) AS n FROM paragraphs")
        return done["n"], total["n"]

    @locked
    def matrix(self, model: str) -> tuple[list[tuple[str, int]], np.ndarray]:
        """([(paper id, paragraph index)], [n, dim] matrix) of every stored vector of ``model``."""
        with self._mlock:
            found = self._matrices.get(model)
        if found is not None:
            return found
        rows = self._db.rows("SELECT paper_id, idx, vector FROM paragraph_vectors WHERE model = ? "
                             "ORDER BY paper_id, idx", [model])
        keys = [(r["paper_id"], r["idx"]) for r in rows]
        mat = (np.frombuffer(b"".join(r["vector"] for r in rows), dtype=np.float32).reshape(len(rows), -1)
               if rows else np.zeros((0, 0), dtype=np.float32))
        with self._mlock:
            self._matrices[model] = (keys, mat)
        return keys, mat
