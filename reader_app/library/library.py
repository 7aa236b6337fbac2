"""The paper library: papers, sections, paragraphs, tags, notes and search.

The only public entry points are :class:`Library` and, for a paper held in memory,
``ranking.rank_paper`` (the same ranking as ``Library.rank_paragraphs``); all SQL stays
in this package.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable

import platformdirs

from reader_app.core.errors import AmbiguousId, BadInput, NotFound
from reader_app.core.files import atomic_writer, remove_stale_temporaries
from reader_app.core.model import Paper, Paragraph, Section, ocr_pages_of

from . import schema
from .db import _locked, _text, connect, dumps, loads, now, write
from .highlights import HighlightsMixin
from .notes import NotesMixin
from .ranking import RankingMixin
from .search import SearchMixin
from .store import AssistantStoreMixin, MaintenanceMixin

DB_NAME = "library.sqlite3"
FILES_DIR = "files"


def default_library_dir() -> Path:
    """``$READER_APP_LIBRARY`` if set, else the platform's user data dir for reader-app."""
    env = os.environ.get("READER_APP_LIBRARY")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("reader-app", appauthor=False))


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Library(SearchMixin, RankingMixin, NotesMixin, HighlightsMixin, AssistantStoreMixin,
              MaintenanceMixin):
    """A library folder: ``library.sqlite3`` plus ``files/<sha256>.pdf`` copies."""

    def __init__(self, path: Path, db) -> None:  # use Library.open()
        self.path = path
        self.db_path = path / DB_NAME
        self.files_dir = path / FILES_DIR
        self.db = db
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, path: str | os.PathLike | None = None, *, migrate_to: int | None = None) -> "Library":
        """Open (creating if needed) the library in folder ``path``.

        ``migrate_to`` stops migrations at that schema version (for tests of upgrades).
        """
        folder = Path(path).expanduser() if path is not None else default_library_dir()
        if folder.exists() and not folder.is_dir():
            raise BadInput(f"library path {folder} is a file; give a folder")
        try:
            (folder / FILES_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInput(f"cannot create library folder {folder}: {e.strerror or e}") from None
        db = connect(folder / DB_NAME)
        try:
            schema.migrate(db, migrate_to)
        except sqlite3.DatabaseError as e:
            db.close()
            if any(w in str(e) for w in ("not a database", "malformed", "encrypted", "readonly", "read-only")):
                raise BadInput(f"{folder / DB_NAME} is not a usable reader-app library ({e})") from None
            raise  # a failing migration is a bug, not bad input
        except BaseException:
            db.close()
            raise
        lib = cls(folder.resolve(), db)
        lib.sweep_stale_incoming()
        return lib

    def sweep_stale_incoming(self, max_age_s: float = 3600) -> None:
        """Remove copies left half-done by a killed import (old enough not to be in progress)."""
        remove_stale_temporaries(self.files_dir, max_age_s)

    def close(self) -> None:
        with self._lock:
            if self.db is not None:
                self.db.close()
                self.db = None

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Library({str(self.path)!r})"

    @property
    def schema_version(self) -> int:
        return schema.version(self.db)

    # ------------------------------------------------------------------ helpers
    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        if self.db is None:
            raise BadInput("the library is closed")
        cur = self.db.conn.execute(sql, tuple(params))
        keys = [d[0] for d in cur.description]
        return [dict(zip(keys, r)) for r in cur.fetchall()]

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _abs_file(self, rel: str) -> str:
        return str(self.path / rel) if rel else ""

    def _paper_from_row(self, row: dict) -> Paper:
        return Paper(
            id=row["id"], title=row["title"], authors=loads(row["authors"], []), year=row["year"],
            doi=row["doi"], arxiv_id=row["arxiv_id"], abstract=row["abstract"], pages=row["pages"],
            warnings=loads(row["warnings"], []), file=self._abs_file(row["file"]),
            original_path=row["original_path"], added=row["added"],
            ocr_pages=ocr_pages_of(loads(row["warnings"], [])),
        )

    # ------------------------------------------------------------------ ids
    @_locked
    def resolve_id(self, prefix: str) -> str:
        """Full paper id for a unique prefix (like git short hashes)."""
        prefix = (prefix or "").strip()
        if not prefix:
            raise BadInput("empty paper id")
        if self._one("SELECT 1 FROM papers WHERE id = ?", [prefix]):
            return prefix
        esc = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._rows("SELECT id FROM papers WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 6",
                          [esc + "%"])
        # LIKE is case-insensitive for ASCII; ids are lower-case hex, so accept "ABC" for "abc"
        if not rows:
            raise NotFound(f"no paper with id {prefix!r}")
        if len(rows) > 1:
            shown = ", ".join(r["id"][:12] for r in rows[:5])
            raise AmbiguousId(f"paper id {prefix!r} is ambiguous: matches {shown}"
                              f"{', ...' if len(rows) > 5 else ''}; give more characters")
        return rows[0]["id"]

    # ------------------------------------------------------------------ papers
    @_locked
    def add_paper(self, paper: Paper, pdf_path: str | os.PathLike | None = None) -> tuple[str, bool]:
        """Store ``paper`` (and a copy of its PDF). Returns ``(id, duplicate)``."""
        src = Path(pdf_path) if pdf_path is not None else None
        if not paper.id:
            if src is None:
                raise BadInput("paper has no id and no PDF to derive one from")
            paper.id = _file_sha256(src)
        if self._one("SELECT 1 FROM papers WHERE id = ?", [paper.id]):
            return paper.id, True
        rel, created_file = "", False
        if src is not None:
            rel, created_file = self._store_file(src)
        try:
            with write(self.db):
                if self._one("SELECT 1 FROM papers WHERE id = ?", [paper.id]):  # lost a race
                    return paper.id, True
                added = now()
                self.db["papers"].insert({
                    "id": paper.id, "sha256": paper.id, "file": rel,
                    "original_path": str(Path(src).resolve()) if src is not None else _text(paper.original_path),
                    "title": _text(paper.title), "authors": dumps([_text(a) for a in paper.authors]),
                    "year": paper.year, "doi": _text(paper.doi) or None, "arxiv_id": _text(paper.arxiv_id) or None,
                    "abstract": _text(paper.abstract), "pages": paper.pages or 0, "added": added,
                    "warnings": dumps([_text(w) for w in paper.warnings]),
                })
                self._insert_structure(paper)
                self._insert_imported(paper.id, paper.annotations)  # the PDF's own annotations
                self._add_tags(paper.id, paper.tags)
        except BaseException:
            if created_file:
                self._unlink_if_unreferenced(rel)
            raise
        if src is not None and rel and not (self.path / rel).is_file():
            # a concurrent import of the same file failed and removed the copy we meant to share
            self._store_file(src)
        paper.file = self._abs_file(rel)
        if src is not None:
            paper.original_path = str(Path(src).resolve())
        paper.added = added
        return paper.id, False

    def _store_file(self, src: Path) -> tuple[str, bool]:
        """Copy ``src`` to files/<sha256>.pdf atomically. Returns (relative path, created)."""
        self.files_dir.mkdir(parents=True, exist_ok=True)
        try:
            digest = _file_sha256(src)  # the name first: a file already stored is not copied again
            rel = f"{FILES_DIR}/{digest}.pdf"
            dest = self.path / rel
            if dest.exists():
                return rel, False
            h = hashlib.sha256()
            with open(src, "rb") as fin, atomic_writer(dest) as fout:
                for chunk in iter(lambda: fin.read(1 << 20), b""):
                    h.update(chunk)
                    fout.write(chunk)
                if h.hexdigest() != digest:  # the stored bytes must be the ones named
                    raise BadInput(f"{src} changed while it was being imported; add it again")
        except OSError as e:
            raise BadInput(f"cannot copy {src} into the library: {e.strerror or e}") from None
        return rel, True

    def _unlink_if_unreferenced(self, rel: str) -> None:
        if rel and not self._one("SELECT 1 FROM papers WHERE file = ?", [rel]):
            (self.path / rel).unlink(missing_ok=True)

    def _insert_structure(self, paper: Paper) -> None:
        """Sections and paragraphs of ``paper`` (inside the caller's write transaction)."""
        # executemany: several times faster than insert_all here, and import
        # time counts against the ingest budget (issue A: <= 3x raw extraction)
        conn = self.db.conn
        conn.executemany(
            "INSERT INTO sections (paper_id, idx, title, level, page) VALUES (?, ?, ?, ?, ?)",
            [(paper.id, s.index, _text(s.title), s.level, s.page or 0) for s in paper.sections])
        conn.executemany(
            """INSERT INTO paragraphs (paper_id, idx, text, page, x0, y0, x1, y1, section_index,
               section, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [(paper.id, p.index, _text(p.text), p.page or 0, *map(float, p.bbox), p.section_index,
              _text(p.section), p.kind or "body") for p in paper.paragraphs])

    @_locked
    def replace_extraction(self, paper_id: str, paper: Paper) -> Paper:
        """Replace what extraction made of a stored paper (metadata, sections, paragraphs)
        with ``paper``, a fresh extraction of the same PDF, in one transaction.  The row
        itself stays, so its notes (with their pages), highlights, tags, Q&A history, summaries and
        cached demonstrations stay attached."""
        pid = self.resolve_id(paper_id)
        with write(self.db):
            self.db["papers"].update(pid, {
                "title": _text(paper.title), "authors": dumps([_text(a) for a in paper.authors]),
                "year": paper.year, "doi": _text(paper.doi) or None, "arxiv_id": _text(paper.arxiv_id) or None,
                "abstract": _text(paper.abstract), "pages": paper.pages or 0,
                "warnings": dumps([_text(w) for w in paper.warnings]),
            })
            self.db.execute("DELETE FROM paragraphs WHERE paper_id = ?", [pid])
            self.db.execute("DELETE FROM sections WHERE paper_id = ?", [pid])
            paper.id = pid
            self._insert_structure(paper)
            self._insert_imported(pid, paper.annotations)  # new ones only: keys already kept are skipped
        return self.get_paper(pid, with_paragraphs=False)

    @_locked
    def get_paper(self, id_or_prefix: str, with_paragraphs: bool = True) -> Paper:
        pid = self.resolve_id(id_or_prefix)
        paper = self._paper_from_row(self._one("SELECT * FROM papers WHERE id = ?", [pid]))
        paper.tags = self._tags_of(pid)
        paper.sections = self.sections(pid)
        if with_paragraphs:
            paper.paragraphs = self.paragraphs(pid)
        return paper

    @_locked
    def list_papers(self, tag: str | None = None) -> list[Paper]:
        """All papers (or those tagged ``tag``), newest first, without paragraphs."""
        if tag is not None:
            rows = self._rows("""SELECT p.* FROM papers p JOIN paper_tags pt ON pt.paper_id = p.id
                                 JOIN tags t ON t.id = pt.tag_id WHERE t.name = ?
                                 ORDER BY p.added DESC, p.rowid DESC""", [tag.strip()])
        else:
            rows = self._rows("SELECT * FROM papers ORDER BY added DESC, rowid DESC")
        papers = [self._paper_from_row(r) for r in rows]
        by_id = {p.id: p for p in papers}
        for r in self._rows("""SELECT pt.paper_id, t.name FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id
                               ORDER BY t.name COLLATE NOCASE"""):
            if r["paper_id"] in by_id:
                by_id[r["paper_id"]].tags.append(r["name"])
        for r in self._rows("SELECT * FROM sections ORDER BY paper_id, idx"):
            if r["paper_id"] in by_id:
                by_id[r["paper_id"]].sections.append(
                    Section(index=r["idx"], title=r["title"], level=r["level"], page=r["page"]))
        return papers

    @_locked
    def paragraphs(self, paper_id: str) -> list[Paragraph]:
        pid = self.resolve_id(paper_id)
        return [Paragraph(index=r["idx"], text=r["text"], page=r["page"],
                          bbox=(r["x0"], r["y0"], r["x1"], r["y1"]), section_index=r["section_index"],
                          section=r["section"], kind=r["kind"])
                for r in self._rows("SELECT * FROM paragraphs WHERE paper_id = ? ORDER BY idx", [pid])]

    @_locked
    def paragraph_count(self, paper_id: str) -> int:
        pid = self.resolve_id(paper_id)
        return self._one("SELECT COUNT(*) AS n FROM paragraphs WHERE paper_id = ?", [pid])["n"]

    @_locked
    def sections(self, paper_id: str) -> list[Section]:
        pid = self.resolve_id(paper_id)
        return [Section(index=r["idx"], title=r["title"], level=r["level"], page=r["page"])
                for r in self._rows("SELECT * FROM sections WHERE paper_id = ? ORDER BY idx", [pid])]

    @_locked
    def update_paper(self, paper_id: str, *, title: str | None = None, authors: list[str] | None = None,
                     year: int | None = None) -> Paper:
        pid = self.resolve_id(paper_id)
        changes: dict[str, Any] = {}
        if title is not None:
            if not title.strip():
                raise BadInput("title cannot be empty")
            changes["title"] = title.strip()
        if authors is not None:
            if isinstance(authors, str):
                raise BadInput("authors must be a list of names")
            changes["authors"] = dumps([a.strip() for a in authors if a and a.strip()])
        if year is not None:
            if not isinstance(year, int) or isinstance(year, bool) or not 0 < year < 10000:
                raise BadInput(f"bad year {year!r}")
            changes["year"] = year
        if changes:
            with write(self.db):
                self.db["papers"].update(pid, changes)
        return self.get_paper(pid, with_paragraphs=False)

    @_locked
    def remove_paper(self, paper_id: str) -> None:
        """Delete the paper, everything hanging off it (cascade) and its stored PDF."""
        pid = self.resolve_id(paper_id)
        row = self._one("SELECT file FROM papers WHERE id = ?", [pid])
        with write(self.db):
            self.db.execute("DELETE FROM papers WHERE id = ?", [pid])
            self.db.execute("DELETE FROM tags WHERE id NOT IN (SELECT tag_id FROM paper_tags)")
        # after COMMIT: a crash here leaves an orphan file, never a row without its file
        self._unlink_if_unreferenced(row["file"])

    # ------------------------------------------------------------------ tags
    @staticmethod
    def _clean_tags(tags: Iterable[str] | str) -> list[str]:
        if isinstance(tags, str):
            tags = [tags]
        out: list[str] = []
        for t in tags:
            t = " ".join(str(t).split()).lstrip("#")
            if not t:
                raise BadInput("empty tag")
            if len(t) > 200:
                raise BadInput("tag longer than 200 characters")
            if t.casefold() not in (o.casefold() for o in out):
                out.append(t)
        return out

    def _tags_of(self, pid: str) -> list[str]:
        return [r["name"] for r in self._rows("""SELECT t.name FROM tags t JOIN paper_tags pt
                  ON pt.tag_id = t.id WHERE pt.paper_id = ? ORDER BY t.name COLLATE NOCASE""", [pid])]

    def _add_tags(self, pid: str, tags: Iterable[str]) -> None:
        for name in self._clean_tags(tags):
            self.db.execute("INSERT OR IGNORE INTO tags (name) VALUES (?)", [name])
            self.db.execute("""INSERT OR IGNORE INTO paper_tags (paper_id, tag_id)
                               SELECT ?, id FROM tags WHERE name = ?""", [pid, name])

    @_locked
    def add_tags(self, paper_id: str, tags: Iterable[str]) -> list[str]:
        """Tag a paper (case-insensitive, idempotent). Returns the paper's tags."""
        pid = self.resolve_id(paper_id)
        with write(self.db):
            self._add_tags(pid, tags)
        return self._tags_of(pid)

    @_locked
    def remove_tags(self, paper_id: str, tags: Iterable[str]) -> list[str]:
        """Untag a paper (tags it does not have are ignored). Returns the paper's tags."""
        pid = self.resolve_id(paper_id)
        with write(self.db):
            for name in self._clean_tags(tags):
                self.db.execute("""DELETE FROM paper_tags WHERE paper_id = ?
                                   AND tag_id IN (SELECT id FROM tags WHERE name = ?)""", [pid, name])
            self.db.execute("DELETE FROM tags WHERE id NOT IN (SELECT tag_id FROM paper_tags)")
        return self._tags_of(pid)

    @_locked
    def all_tags(self) -> list[tuple[str, int]]:
        return [(r["name"], r["n"]) for r in self._rows(
            """SELECT t.name, COUNT(pt.paper_id) AS n FROM tags t JOIN paper_tags pt ON pt.tag_id = t.id
               GROUP BY t.id ORDER BY t.name COLLATE NOCASE""")]
