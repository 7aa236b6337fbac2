"""Library highlights: marks kept on the page (made here or read from the PDF's annotations).

A highlight is the reader's work, like a note: once ``add_highlight`` returns it is on
disk.  Imported ones (``source == "pdf"``) carry the key of the PDF annotation they came
from, so importing the same PDF again adds nothing, and deleting one only hides it
(``deleted = 1``) so a later ``reextract`` does not bring it back.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from reader_app.core.errors import BadInput, NotFound
from reader_app.core.model import HIGHLIGHT_COLORS, MARKUP_KINDS, NOTE_KINDS, Highlight

from .db import LibraryDb, _text, dumps, locked, loads, now

MAX_QUADS = 500  # boxes of one highlight (a whole page of lines is ~60)
MAX_TEXT = 20_000  # characters of quoted text kept


def parse_color(color: str | None) -> str:
    """A palette name ("yellow") or "#rrggbb" -> "#rrggbb"; BadInput otherwise."""
    if color is None or not str(color).strip():
        return HIGHLIGHT_COLORS["yellow"]
    c = str(color).strip().lower()
    if c in HIGHLIGHT_COLORS:
        return HIGHLIGHT_COLORS[c]
    if re.fullmatch(r"#?[0-9a-f]{6}", c):
        return "#" + c.lstrip("#")
    raise BadInput(f"unknown colour {color!r}: use one of {', '.join(HIGHLIGHT_COLORS)} or #rrggbb")


def _clean_quads(quads: Iterable) -> list[list[float]]:
    out = []
    for q in quads or []:
        try:
            x0, y0, x1, y1 = (float(v) for v in q)
        except (TypeError, ValueError):
            raise BadInput(f"a highlight box must be four numbers (x0, y0, x1, y1), not {q!r}") from None
        if not all(abs(v) < 1e6 for v in (x0, y0, x1, y1)):
            raise BadInput("a highlight box is off the page")
        out.append([round(min(x0, x1), 2), round(min(y0, y1), 2), round(max(x0, x1), 2), round(max(y0, y1), 2)])
    if len(out) > MAX_QUADS:
        raise BadInput(f"a highlight has more than {MAX_QUADS} boxes")
    return out


class Highlights:
    """The ``highlights`` table: marks on a page, made here (``source == "user"``) or read
    from the PDF's own annotations (``source == "pdf"``, with the annotation's ``key``).

    Contract: a highlight is on disk once ``add_highlight`` returns; boxes and colours are
    checked (BadInput); an imported one is only hidden when deleted, and importing the same
    key again adds nothing, so a re-extraction neither duplicates nor revives marks.
    ``insert_imported_in_write`` is for the papers part, inside its import transaction.
    """

    def __init__(self, db: LibraryDb) -> None:
        self._db = db

    @staticmethod
    def _highlight_from_row(r: dict) -> Highlight:
        return Highlight(id=r["id"], paper_id=r["paper_id"], page=r["page"],
                         quads=[tuple(q) for q in loads(r["quads"], [])], color=r["color"], text=r["text"],
                         note=r["note"], kind=r["kind"], author=r["author"], source=r["source"],
                         key=r["import_key"] or "", pdf_color=r["pdf_color"], created=r["created"], updated=r["updated"])

    @locked
    def add_highlight(self, paper_id: str, page: int, quads: Iterable, *, text: str = "",
                      color: str | None = None, note: str = "", kind: str = "highlight") -> Highlight:
        """Keep a highlight over ``quads`` (boxes on ``page``). On disk once this returns."""
        pid = self._db.resolve_id(paper_id)
        if page is None:
            raise BadInput("a highlight needs a page")
        page = self._db.check_page(pid, page)
        boxes = _clean_quads(quads)
        if not boxes:
            raise BadInput("a highlight needs at least one box on the page")
        if kind not in MARKUP_KINDS + NOTE_KINDS:
            raise BadInput(f"unknown highlight kind {kind!r}")
        ts = now()
        with self._db.write():
            cur = self._db.execute(
                """INSERT INTO highlights (paper_id, page, kind, quads, y0, x0, color, text, note, source,
                   created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'user', ?, ?)""",
                [pid, page, kind, dumps(boxes), boxes[0][1], boxes[0][0], parse_color(color),
                 _text(" ".join(str(text or "").split()))[:MAX_TEXT], _text(note or "").strip(), ts, ts])
            hid = cur.lastrowid
        return self.get_highlight(hid)

    @locked
    def get_highlight(self, highlight_id: int) -> Highlight:
        row = self._db.one("SELECT * FROM highlights WHERE id = ? AND deleted = 0", [highlight_id])
        if row is None:
            raise NotFound(f"no highlight with id {highlight_id}")
        return self._highlight_from_row(row)

    @locked
    def update_highlight(self, highlight_id: int, *, color: str | None = None,
                         note: str | None = None) -> Highlight:
        """Recolour a highlight or change its note (``note=""`` clears it)."""
        self.get_highlight(highlight_id)
        changes: dict[str, Any] = {}
        if color is not None:
            changes["color"] = parse_color(color)
        if note is not None:
            changes["note"] = _text(note).strip()
        if changes:
            changes["updated"] = now()
            with self._db.write():
                self._db.table("highlights").update(highlight_id, changes)
        return self.get_highlight(highlight_id)

    @locked
    def delete_highlight(self, highlight_id: int) -> None:
        """Remove a highlight; one read from the PDF is only hidden (re-import keeps it away)."""
        h = self.get_highlight(highlight_id)
        with self._db.write():
            if h.key:
                self._db.execute("UPDATE highlights SET deleted = 1, updated = ? WHERE id = ?", [now(), highlight_id])
            else:
                self._db.execute("DELETE FROM highlights WHERE id = ?", [highlight_id])

    @locked
    def highlights(self, paper_id: str) -> list[Highlight]:
        """A paper's highlights in page order (top to bottom, then left to right)."""
        pid = self._db.resolve_id(paper_id)
        return [self._highlight_from_row(r) for r in self._db.rows(
            """SELECT * FROM highlights WHERE paper_id = ? AND deleted = 0
               ORDER BY page, y0, x0, id""", [pid])]

    @locked
    def deleted_import_keys(self, paper_id: str) -> list[str]:
        """Keys of the PDF's own annotations the reader deleted (an annotated copy drops them)."""
        pid = self._db.resolve_id(paper_id)
        return [r["import_key"] for r in self._db.rows(
            "SELECT import_key FROM highlights WHERE paper_id = ? AND deleted = 1 AND import_key IS NOT NULL",
            [pid])]

    @locked
    def import_highlights(self, paper_id: str, found: Iterable[Highlight]) -> int:
        """Keep the annotations read from a paper's PDF; returns how many were new."""
        pid = self._db.resolve_id(paper_id)
        with self._db.write():
            return self.insert_imported_in_write(pid, found)

    def insert_imported_in_write(self, pid: str, found: Iterable[Highlight]) -> int:
        """(inside the caller's write transaction) INSERT OR IGNORE by annotation key."""
        ts = now()
        rows = []
        for h in found or []:
            try:
                boxes = _clean_quads(h.quads)
                color = parse_color(h.color)
            except BadInput:
                continue
            if not boxes or not h.key or h.kind not in MARKUP_KINDS + NOTE_KINDS:
                continue
            rows.append((pid, int(h.page), h.kind, dumps(boxes), boxes[0][1], boxes[0][0], color,
                         _text(h.text)[:MAX_TEXT], _text(h.note).strip(), _text(h.author)[:200],
                         _text(h.key), color, h.created or ts, h.updated or h.created or ts))
        if not rows:  # (also: a library held at an older schema in an upgrade test)
            return 0
        return self._db.executemany(
            """INSERT OR IGNORE INTO highlights (paper_id, page, kind, quads, y0, x0, color, text, note,
               author, source, import_key, pdf_color, created, updated)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pdf', ?, ?, ?, ?)""", rows)
