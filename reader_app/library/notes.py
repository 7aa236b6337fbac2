"""Library notes: the user's annotations, which must never be lost."""

from __future__ import annotations

from typing import Any

from reader_app.core.errors import BadInput, NotFound
from reader_app.core.model import Note

from .db import _locked, _text, now, write


class NotesMixin:
    """Notes CRUD (needs resolve_id/_rows/_one/db from Library)."""

    def _note_from_row(self, r: dict) -> Note:
        return Note(id=r["id"], paper_id=r["paper_id"], text=r["text"], page=r["page"], quote=r["quote"],
                    created=r["created"], updated=r["updated"])

    def _check_page(self, pid: str, page: int | None) -> int | None:
        if page is None:
            return None
        if isinstance(page, bool) or not isinstance(page, int):
            raise BadInput(f"page must be a whole number, not {page!r}")
        if page < 1:
            raise BadInput(f"page must be 1 or more, not {page}")
        pages = self._one("SELECT pages FROM papers WHERE id = ?", [pid])["pages"]
        if pages and page > pages:
            raise BadInput(f"page {page} is past the end of the paper ({pages} pages)")
        return page

    @staticmethod
    def _check_text(text: str) -> str:
        if text is None or not str(text).strip():
            raise BadInput("note text is empty")
        return _text(text)

    @_locked
    def add_note(self, paper_id: str, text: str, *, page: int | None = None, quote: str | None = None) -> Note:
        """Add a note. Once this returns, the note is on disk (fsynced commit)."""
        pid = self.resolve_id(paper_id)
        text = self._check_text(text)
        page = self._check_page(pid, page)
        quote = _text(quote).strip() or None if quote is not None else None
        ts = now()
        with write(self.db):
            cur = self.db.execute("""INSERT INTO notes (paper_id, page, quote, text, created, updated)
                                     VALUES (?, ?, ?, ?, ?, ?)""", [pid, page, quote, text, ts, ts])
            nid = cur.lastrowid
        return self.get_note(nid)

    @_locked
    def get_note(self, note_id: int) -> Note:
        row = self._one("SELECT * FROM notes WHERE id = ?", [note_id])
        if row is None:
            raise NotFound(f"no note with id {note_id}")
        return self._note_from_row(row)

    @_locked
    def update_note(self, note_id: int, *, text: str | None = None, page: int | None = None,
                    quote: str | None = None) -> Note:
        """Change a note. ``None`` leaves a field as it is; ``page=0`` / ``quote=""`` clear them."""
        note = self.get_note(note_id)
        changes: dict[str, Any] = {}
        if text is not None:
            changes["text"] = self._check_text(text)
        if page is not None:
            changes["page"] = None if page == 0 else self._check_page(note.paper_id, page)
        if quote is not None:
            changes["quote"] = _text(quote).strip() or None
        if changes:
            changes["updated"] = now()
            with write(self.db):
                self.db["notes"].update(note_id, changes)
        return self.get_note(note_id)

    @_locked
    def delete_note(self, note_id: int) -> None:
        self.get_note(note_id)
        with write(self.db):
            self.db.execute("DELETE FROM notes WHERE id = ?", [note_id])

    @_locked
    def notes(self, paper_id: str) -> list[Note]:
        """A paper's notes: those without a page first, then by page, then oldest first."""
        pid = self.resolve_id(paper_id)
        return [self._note_from_row(r) for r in self._rows(
            """SELECT * FROM notes WHERE paper_id = ?
               ORDER BY page IS NOT NULL, page, created, id""", [pid])]
