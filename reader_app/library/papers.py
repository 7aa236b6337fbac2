"""Library papers: a paper's row, its sections and paragraphs, and its stored PDF copy."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from reader_app.core.errors import BadInput
from reader_app.core.files import atomic_writer
from reader_app.core.model import Paper, Paragraph, Section, ocr_pages_of

from .db import LibraryDb, _text, dumps, loads, locked, now
from .highlights import Highlights
from .tags import Tags

FILES_DIR = "files"


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, hex: a stored PDF's name and its paper's id."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Papers:
    """The ``papers``, ``sections`` and ``paragraphs`` tables and ``files/<sha256>.pdf``.

    Contract: a paper given without an id gets the SHA-256 of its PDF, so adding the same
    file twice gives ``(id, True)`` and stores nothing; the PDF copy is written atomically and checked
    against its name; a paper's row, structure, its PDF's own annotations (through
    ``highlights``) and tags (through ``tags``) are stored in one transaction, and a
    failed import leaves no file behind.  ``replace_extraction`` swaps the structure and
    keeps everything hanging off the paper.  ``remove_paper`` deletes the row (everything
    else cascades) and then its file, unless another row still names it.
    """

    def __init__(self, db: LibraryDb, tags: Tags, highlights: Highlights) -> None:
        self._db = db
        self._tags = tags
        self._highlights = highlights
        self.folder = db.folder
        self.files_dir = db.folder / FILES_DIR

    def abs_file(self, rel: str) -> str:
        """The absolute path of a stored file named relative to the library folder ("" stays "")."""
        return str(self.folder / rel) if rel else ""

    def _paper_from_row(self, row: dict) -> Paper:
        return Paper(
            id=row["id"], title=row["title"], authors=loads(row["authors"], []), year=row["year"],
            doi=row["doi"], arxiv_id=row["arxiv_id"], abstract=row["abstract"], pages=row["pages"],
            warnings=loads(row["warnings"], []), file=self.abs_file(row["file"]),
            original_path=row["original_path"], added=row["added"],
            ocr_pages=ocr_pages_of(loads(row["warnings"], [])),
        )

    @locked
    def add_paper(self, paper: Paper, pdf_path: str | os.PathLike | None = None) -> tuple[str, bool]:
        """Store ``paper`` (and a copy of its PDF). Returns ``(id, duplicate)``."""
        src = Path(pdf_path) if pdf_path is not None else None
        if not paper.id:
            if src is None:
                raise BadInput("paper has no id and no PDF to derive one from")
            paper.id = file_sha256(src)
        if self._db.one("SELECT 1 FROM papers WHERE id = ?", [paper.id]):
            return paper.id, True
        rel, created_file = "", False
        if src is not None:
            rel, created_file = self._store_file(src)
        try:
            with self._db.write():
                if self._db.one("SELECT 1 FROM papers WHERE id = ?", [paper.id]):  # lost a race
                    return paper.id, True
                added = now()
                self._db.table("papers").insert({
                    "id": paper.id, "sha256": paper.id, "file": rel,
                    "original_path": str(Path(src).resolve()) if src is not None else _text(paper.original_path),
                    "title": _text(paper.title), "authors": dumps([_text(a) for a in paper.authors]),
                    "year": paper.year, "doi": _text(paper.doi) or None, "arxiv_id": _text(paper.arxiv_id) or None,
                    "abstract": _text(paper.abstract), "pages": paper.pages or 0, "added": added,
                    "warnings": dumps([_text(w) for w in paper.warnings]),
                })
                self._insert_structure(paper)
                self._highlights.insert_imported_in_write(paper.id, paper.annotations)  # the PDF's own annotations
                self._tags.add_in_write(paper.id, paper.tags)
        except BaseException:
            if created_file:
                self._unlink_if_unreferenced(rel)
            raise
        if src is not None and rel and not (self.folder / rel).is_file():
            # a concurrent import of the same file failed and removed the copy we meant to share
            self._store_file(src)
        paper.file = self.abs_file(rel)
        if src is not None:
            paper.original_path = str(Path(src).resolve())
        paper.added = added
        return paper.id, False

    def _store_file(self, src: Path) -> tuple[str, bool]:
        """Copy ``src`` to files/<sha256>.pdf atomically. Returns (relative path, created)."""
        self.files_dir.mkdir(parents=True, exist_ok=True)
        try:
            digest = file_sha256(src)  # the name first: a file already stored is not copied again
            rel = f"{FILES_DIR}/{digest}.pdf"
            dest = self.folder / rel
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
        if rel and not self._db.one("SELECT 1 FROM papers WHERE file = ?", [rel]):
            (self.folder / rel).unlink(missing_ok=True)

    def _insert_structure(self, paper: Paper) -> None:
        """Sections and paragraphs of ``paper`` (inside the caller's write transaction)."""
        # executemany: several times faster than insert_all here, and import
        # time counts against the ingest budget (issue A: <= 3x raw extraction)
        self._db.executemany(
            "INSERT INTO sections (paper_id, idx, title, level, page) VALUES (?, ?, ?, ?, ?)",
            [(paper.id, s.index, _text(s.title), s.level, s.page or 0) for s in paper.sections])
        self._db.executemany(
            """INSERT INTO paragraphs (paper_id, idx, text, page, x0, y0, x1, y1, section_index,
               section, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [(paper.id, p.index, _text(p.text), p.page or 0, *map(float, p.bbox), p.section_index,
              _text(p.section), p.kind or "body") for p in paper.paragraphs])

    @locked
    def replace_extraction(self, paper_id: str, paper: Paper) -> Paper:
        """Replace what extraction made of a stored paper (metadata, sections, paragraphs)
        with ``paper``, a fresh extraction of the same PDF, in one transaction.  The row
        itself stays, so its notes (with their pages), highlights, tags, Q&A history, summaries and
        cached demonstrations stay attached."""
        pid = self._db.resolve_id(paper_id)
        with self._db.write():
            self._db.table("papers").update(pid, {
                "title": _text(paper.title), "authors": dumps([_text(a) for a in paper.authors]),
                "year": paper.year, "doi": _text(paper.doi) or None, "arxiv_id": _text(paper.arxiv_id) or None,
                "abstract": _text(paper.abstract), "pages": paper.pages or 0,
                "warnings": dumps([_text(w) for w in paper.warnings]),
            })
            self._db.execute("DELETE FROM paragraphs WHERE paper_id = ?", [pid])
            self._db.execute("DELETE FROM sections WHERE paper_id = ?", [pid])
            self._db.execute("DELETE FROM paragraph_vectors WHERE paper_id = ?", [pid])  # stale: recomputed
            paper.id = pid
            self._insert_structure(paper)
            self._highlights.insert_imported_in_write(pid, paper.annotations)  # new ones only: keys already kept are skipped
        return self.get_paper(pid, with_paragraphs=False)

    @locked
    def get_paper(self, id_or_prefix: str, with_paragraphs: bool = True) -> Paper:
        pid = self._db.resolve_id(id_or_prefix)
        paper = self._paper_from_row(self._db.one("SELECT * FROM papers WHERE id = ?", [pid]))
        paper.tags = self._tags.tags_of(pid)
        paper.sections = self.sections(pid)
        if with_paragraphs:
            paper.paragraphs = self.paragraphs(pid)
        return paper

    @locked
    def list_papers(self, tag: str | None = None) -> list[Paper]:
        """All papers (or those tagged ``tag``), newest first, without paragraphs."""
        if tag is not None:
            rows = self._db.rows("""SELECT p.* FROM papers p JOIN paper_tags pt ON pt.paper_id = p.id
                                 JOIN tags t ON t.id = pt.tag_id WHERE t.name = ?
                                 ORDER BY p.added DESC, p.rowid DESC""", [tag.strip()])
        else:
            rows = self._db.rows("SELECT * FROM papers ORDER BY added DESC, rowid DESC")
        papers = [self._paper_from_row(r) for r in rows]
        by_id = {p.id: p for p in papers}
        for pid, tags in self._tags.tags_by_paper().items():
            if pid in by_id:
                by_id[pid].tags = tags
        for r in self._db.rows("SELECT * FROM sections ORDER BY paper_id, idx"):
            if r["paper_id"] in by_id:
                by_id[r["paper_id"]].sections.append(
                    Section(index=r["idx"], title=r["title"], level=r["level"], page=r["page"]))
        return papers

    @locked
    def paragraphs(self, paper_id: str) -> list[Paragraph]:
        pid = self._db.resolve_id(paper_id)
        return [Paragraph(index=r["idx"], text=r["text"], page=r["page"],
                          bbox=(r["x0"], r["y0"], r["x1"], r["y1"]), section_index=r["section_index"],
                          section=r["section"], kind=r["kind"])
                for r in self._db.rows("SELECT * FROM paragraphs WHERE paper_id = ? ORDER BY idx", [pid])]

    @locked
    def paragraph_count(self, paper_id: str) -> int:
        pid = self._db.resolve_id(paper_id)
        return self._db.one("SELECT COUNT(*) AS n FROM paragraphs WHERE paper_id = ?", [pid])["n"]

    @locked
    def sections(self, paper_id: str) -> list[Section]:
        pid = self._db.resolve_id(paper_id)
        return [Section(index=r["idx"], title=r["title"], level=r["level"], page=r["page"])
                for r in self._db.rows("SELECT * FROM sections WHERE paper_id = ? ORDER BY idx", [pid])]

    @locked
    def update_paper(self, paper_id: str, *, title: str | None = None, authors: list[str] | None = None,
                     year: int | None = None) -> Paper:
        pid = self._db.resolve_id(paper_id)
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
            with self._db.write():
                self._db.table("papers").update(pid, changes)
        return self.get_paper(pid, with_paragraphs=False)

    @locked
    def remove_paper(self, paper_id: str) -> None:
        """Delete the paper, everything hanging off it (cascade) and its stored PDF."""
        pid = self._db.resolve_id(paper_id)
        row = self._db.one("SELECT file FROM papers WHERE id = ?", [pid])
        with self._db.write():
            self._db.execute("DELETE FROM papers WHERE id = ?", [pid])
            self._tags.drop_unused_in_write()
        # after COMMIT: a crash here leaves an orphan file, never a row without its file
        self._unlink_if_unreferenced(row["file"])
