"""Library notes: the user's annotations, which must never be lost."""

from __future__ import annotations

from typing import Any

from reader_app.core.errors import BadInput, NotFound
from reader_app.core.model import Note

from .db import LibraryDb, _text, locked, now


class Notes:
    """The ``notes`` table: the reader's own notes on a paper, optionally on a page, quoting it.

    Contract: a note is on disk (fsynced commit) once ``add_note``/``update_note`` return;
    its page is checked against the paper's page count; empty text is refused.  Notes go
    with their paper (cascade) and survive re-extraction.
    """

    def __init__(self, db: LibraryDb) -> None:
        self._db = db

    @staticmethod
    def _note_from_row(r: dict) -> Note:
        return Note(id=r["id"], paper_id=r["paper_id"], text=r["text"], page=r["page"], quote=r["quote"],
                    created=r["created"], updated=r["updated"])

    @staticmethod
    def _check_text(text: str) -> str:
        if text is None or not str(text).strip():
            raise BadInput("note text is empty")
        return _text(text)

    @locked
    def add_note(self, paper_id: str, text: str, *, page: int | None = None, quote: str | None = None) -> Note:
        """Add a note. Once this returns, the note is on disk (fsynced commit)."""
        pid = self._db.resolve_id(paper_id)
        text = self._check_text(text)
        page = self._db.check_page(pid, page)
        quote = _text(quote).strip() or None if quote is not None else None
        ts = now()
        with self._db.write():
            cur = self._db.execute("""INSERT INTO notes (paper_id, page, quote, text, created, updated)
                                     VALUES (?, ?, ?, ?, ?, ?)""", [pid, page, quote, text, ts, ts])
            nid = cur.lastrowid
        return self.get_note(nid)

    @locked
    def get_note(self, note_id: int) -> Note:
        row = self._db.one("SELECT * FROM notes WHERE id = ?", [note_id])
        if row is None:
            raise NotFound(f"no note with id {note_id}")
        return self._note_from_row(row)

    @locked
    def update_note(self, note_id: int, *, text: str | None = None, page: int | None = None,
                    quote: str | None = None) -> Note:
        """Change a note. ``None`` leaves a field as it is; ``page=0`` / ``quote=""`` clear them."""
        note = self.get_note(note_id)
        changes: dict[str, Any] = {}
        if text is not None:
            changes["text"] = self._check_text(text)
        if page is not None:
            changes["page"] = None if page == 0 else self._db.check_page(note.paper_id, page)
        if quote is not None:
            changes["quote"] = _text(quote).strip() or None
        if changes:
            changes["updated"] = now()
            with self._db.write():
                self._db.table("notes").update(note_id, changes)
        return self.get_note(note_id)

    @locked
    def delete_note(self, note_id: int) -> None:
        self.get_note(note_id)
        with self._db.write():
            self._db.execute("DELETE FROM notes WHERE id = ?", [note_id])

    @locked
    def notes(self, paper_id: str) -> list[Note]:
        """A paper's notes: those without a page first, then by page, then oldest first."""
        pid = self._db.resolve_id(paper_id)
        return [self._note_from_row(r) for r in self._db.rows(
            """SELECT * FROM notes WHERE paper_id = ?
               ORDER BY page IS NOT NULL, page, created, id""", [pid])]
