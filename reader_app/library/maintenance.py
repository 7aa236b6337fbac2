"""The library's upkeep: integrity check, search-index rebuild, online backup, and sweeping
the half-copied files a killed import left."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from reader_app.core.errors import BadInput, NotFound
from reader_app.core.files import atomic_writer, remove_stale_temporaries

from .db import LibraryDb


class Maintenance:
    """Upkeep of a library folder (issue D): ``db_path`` (the database) and ``files_dir``
    (the stored PDFs).

    Contract: ``integrity_check`` only reads (but takes the write lock for the FTS check,
    like any write) and reports every problem, one per line, or ``"ok"``; ``backup`` copies
    the database only, consistently while others write, and never over the library's own
    database; ``sweep_stale_incoming`` removes only temporary files older than ``max_age_s``.
    """

    def __init__(self, db: LibraryDb, db_path: Path, files_dir: Path) -> None:
        self._db = db
        self.db_path = db_path
        self.files_dir = files_dir

    def sweep_stale_incoming(self, max_age_s: float = 3600) -> None:
        """Remove copies left half-done by a killed import (old enough not to be in progress)."""
        remove_stale_temporaries(self.files_dir, max_age_s)

    def integrity_check(self) -> str:
        """``"ok"``, or one problem per line: SQLite pages, foreign keys, FTS index, stored files."""
        with self._db.lock:
            problems = [r[0] for r in self._db.execute("PRAGMA integrity_check").fetchall()]
            if problems == ["ok"]:
                problems = []
            for r in self._db.execute("PRAGMA foreign_key_check").fetchall():
                problems.append(f"foreign key: row {r[1]} of {r[0]} points at a missing {r[2]}")
            try:  # a write-shaped command: take the write lock (with busy retries) like any write
                with self._db.write():
                    self._db.execute("INSERT INTO paragraphs_fts(paragraphs_fts, rank) VALUES ('integrity-check', 1)")
            except sqlite3.DatabaseError as e:
                problems.append(f"search index: {e} (rebuild with reindex)")
            for r in self._db.rows("SELECT id, file FROM papers WHERE file != ''"):
                if not (self._db.folder / r["file"]).is_file():
                    problems.append(f"paper {r['id'][:12]}: stored file {r['file']} is missing")
            return "\n".join(problems) if problems else "ok"

    def reindex(self) -> None:
        """Rebuild the full-text index from the paragraphs table."""
        with self._db.lock, self._db.write():
            self._db.execute("INSERT INTO paragraphs_fts(paragraphs_fts) VALUES ('rebuild')")

    def backup(self, out_path: str | os.PathLike) -> Path:
        """Consistent copy of the database (SQLite online backup), safe while others write.

        Only the database: the PDFs in ``files/`` are not included.  Written to a temporary
        file and renamed into place, replacing ``out_path`` if it exists (the CLI asks for
        --force first).  Returns the absolute path written.
        """
        out = Path(out_path).expanduser().resolve()
        with self._db.lock:
            if out == self.db_path.resolve() or out.parent == self._db.folder and out.name.startswith(self.db_path.name):
                raise BadInput("the backup cannot replace the library's own database")
            if out.is_dir():
                raise BadInput(f"{out} is a folder; give a file name for the backup")
            if not out.parent.is_dir():
                raise NotFound(f"folder {out.parent} does not exist")
            try:
                with atomic_writer(out) as fh:  # SQLite writes the temporary file by its name
                    dest = sqlite3.connect(fh.name)
                    try:
                        self._db.backup_to(dest)
                        dest.execute("PRAGMA journal_mode = DELETE")
                    finally:
                        dest.close()
            except (OSError, sqlite3.Error) as e:
                raise BadInput(f"cannot write backup {out}: {e}") from None
            return out
