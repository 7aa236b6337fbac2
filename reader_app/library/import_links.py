"""What came from another reference manager, and the writes an import makes.

:class:`ImportLinks` wraps a :class:`Library` (composed, not a mixin): it remembers which
Zotero item, note or annotation (or .bib entry) became which paper, note or highlight
here, with the source's version at the time, so importing again adds only what is new
or changed.  An imported note or highlight the reader edited or deleted here is never
overwritten or brought back; nothing here deletes the reader's work.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable

from reader_app.core.errors import BadInput
from reader_app.core.model import MARKUP_KINDS, NOTE_KINDS, Highlight

from .db import _text, dumps, loads, now, write
from .highlights import MAX_TEXT, _clean_quads, parse_color

ADDED, UPDATED, UNCHANGED, KEPT = "added", "updated", "unchanged", "kept"


def normalize_title(title: str) -> str:
    """Lower-case letters and digits only, accents removed: how two titles are matched."""
    t = unicodedata.normalize("NFKD", title or "")
    t = "".join(c for c in t if not unicodedata.combining(c))
    return re.sub(r"[^0-9a-z]+", " ", t.casefold()).strip()


def normalize_doi(doi: str) -> str:
    d = (doi or "").strip().lower()
    d = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", d)
    return d


class ImportLinks:
    """Links between a source's keys and this library's rows, for one Library."""

    def __init__(self, library, source: str):
        self.lib = library
        self.db = library.db
        self.source = source
        self._index: tuple[dict, dict] | None = None  # (doi -> id, title -> id), built on first find_paper

    def transaction(self):
        """One write transaction for several calls (they join it): one commit, one fsync."""
        return write(self.db)

    # ---- links
    def get(self, key: str) -> dict | None:
        cur = self.db.conn.execute("SELECT * FROM import_links WHERE source = ? AND key = ?", [self.source, key])
        row = cur.fetchone()
        if row is None:
            return None
        out = dict(zip([d[0] for d in cur.description], row))
        out["data"] = loads(out["data"], {})
        return out

    def keys(self, kind: str) -> dict[str, dict]:
        cur = self.db.conn.execute("SELECT key, paper_id, stamp FROM import_links WHERE source = ? AND kind = ?",
                                   [self.source, kind])
        return {k: {"paper_id": p, "stamp": s} for k, p, s in cur.fetchall()}

    def link(self, key: str, kind: str, paper_id: str, *, local_id: int | None = None, stamp: str = "",
             local_stamp: str = "", data: dict | None = None) -> None:
        with write(self.db):
            self.db.execute(
                """INSERT INTO import_links (source, key, kind, paper_id, local_id, stamp, local_stamp, data, updated)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (source, key) DO UPDATE SET kind = excluded.kind, paper_id = excluded.paper_id,
                   local_id = excluded.local_id, stamp = excluded.stamp, local_stamp = excluded.local_stamp,
                   data = excluded.data, updated = excluded.updated""",
                [self.source, key, kind, paper_id, local_id, stamp, local_stamp, dumps(data or {}), now()])

    def paper_data(self, paper_id: str) -> dict:
        """Metadata our papers table has no column for (publication, url), from any source."""
        out: dict = {}
        for (data,) in self.db.conn.execute(
                "SELECT data FROM import_links WHERE paper_id = ? AND kind = 'item' ORDER BY updated", [paper_id]):
            out.update(loads(data, {}))
        return out

    # ---- papers
    def set_metadata(self, paper_id: str, *, title: str = "", authors: Iterable[str] = (), year: int | None = None,
                     doi: str = "", abstract: str = "") -> None:
        """The source's metadata wins over what extraction guessed; empty values change nothing."""
        changes: dict[str, Any] = {}
        if title and title.strip():
            changes["title"] = _text(" ".join(title.split()))
        names = [_text(a).strip() for a in authors if a and str(a).strip()]
        if names:
            changes["authors"] = dumps(names)
        if isinstance(year, int) and 0 < year < 10000:
            changes["year"] = year
        if doi and doi.strip():
            changes["doi"] = _text(doi.strip())
        if abstract and abstract.strip():
            changes["abstract"] = _text(abstract.strip())
        if changes:
            with write(self.db):
                self.db["papers"].update(paper_id, changes)
            self.remember(paper_id, doi=doi, title=title)

    def find_paper(self, *, doi: str = "", title: str = "") -> str | None:
        """A paper here with this DOI, else with this title (normalized), else None."""
        if self._index is None:
            self._index = ({}, {})
            for pid, pdoi, ptitle in self.db.conn.execute("SELECT id, doi, title FROM papers ORDER BY added"):
                self.remember(pid, doi=pdoi or "", title=ptitle or "")
        by_doi, by_title = self._index
        d, t = normalize_doi(doi), normalize_title(title)
        if d and d in by_doi:
            return by_doi[d]
        if len(t) >= 8 and t in by_title:
            return by_title[t]
        return None

    def remember(self, paper_id: str, *, doi: str = "", title: str = "") -> None:
        """Make a paper added (or renamed) during this import findable by ``find_paper``."""
        if self._index is None:
            return
        d, t = normalize_doi(doi), normalize_title(title)
        if d:
            self._index[0].setdefault(d, paper_id)
        if len(t) >= 8:
            self._index[1].setdefault(t, paper_id)

    # ---- notes
    def upsert_note(self, paper_id: str, key: str, text: str, stamp: str) -> str:
        """A note from the source: added, updated (when the source changed it and the reader
        did not), or left as is.  Returns ADDED / UPDATED / UNCHANGED / KEPT."""
        text = _text(text).strip()
        link = self.get(key)
        with write(self.db):
            if link is not None:
                row = self.db.conn.execute("SELECT updated FROM notes WHERE id = ?", [link["local_id"]]).fetchone()
                if row is None:  # the reader deleted it here: it stays deleted
                    return KEPT
                if link["stamp"] == stamp:
                    return UNCHANGED
                if row[0] != link["local_stamp"] or not text:  # edited here since: keep the reader's version
                    return KEPT
                ts = now()
                self.db.execute("UPDATE notes SET text = ?, updated = ? WHERE id = ?", [text, ts, link["local_id"]])
                self.link(key, "note", paper_id, local_id=link["local_id"], stamp=stamp, local_stamp=ts)
                return UPDATED
            if not text:
                return UNCHANGED
            ts = now()
            cur = self.db.execute("""INSERT INTO notes (paper_id, page, quote, text, created, updated)
                                     VALUES (?, NULL, NULL, ?, ?, ?)""", [paper_id, text, ts, ts])
            self.link(key, "note", paper_id, local_id=cur.lastrowid, stamp=stamp, local_stamp=ts)
            return ADDED

    # ---- highlights
    def upsert_mark(self, paper_id: str, key: str, h: Highlight, stamp: str, source: str = "zotero") -> str:
        """An annotation from the source as a highlight (``source`` kept on it; the PDF does
        not show it, so the view draws it and an annotated copy writes it).  Returns ADDED /
        UPDATED / UNCHANGED / KEPT; BadInput for one that cannot be kept."""
        boxes = _clean_quads(h.quads)
        if not boxes:
            raise BadInput("no box on the page")
        if h.kind not in MARKUP_KINDS + NOTE_KINDS:
            raise BadInput(f"unknown kind {h.kind!r}")
        color = parse_color(h.color)
        values = [int(h.page), h.kind, dumps(boxes), boxes[0][1], boxes[0][0], color,
                  _text(" ".join(str(h.text or "").split()))[:MAX_TEXT], _text(h.note).strip(), _text(h.author)[:200]]
        link = self.get(key)
        import_key = f"{self.source}:{key}"
        with write(self.db):
            if link is not None:
                row = self.db.conn.execute("SELECT updated, deleted FROM highlights WHERE id = ?",
                                           [link["local_id"]]).fetchone()
                if row is None or row[1]:  # deleted here: stays deleted
                    return KEPT
                if link["stamp"] == stamp:
                    return UNCHANGED
                if row[0] != link["local_stamp"]:  # recoloured or re-noted here since
                    return KEPT
                ts = now()
                self.db.execute("""UPDATE highlights SET page = ?, kind = ?, quads = ?, y0 = ?, x0 = ?, color = ?,
                                   text = ?, note = ?, author = ?, updated = ? WHERE id = ?""",
                                values + [ts, link["local_id"]])
                self.link(key, "annotation", paper_id, local_id=link["local_id"], stamp=stamp, local_stamp=ts)
                return UPDATED
            ts = now()
            self.db.execute("DELETE FROM highlights WHERE paper_id = ? AND import_key = ? AND deleted = 0",
                            [paper_id, import_key])  # a row left by an interrupted run (no link yet)
            cur = self.db.execute(
                """INSERT OR IGNORE INTO highlights (paper_id, page, kind, quads, y0, x0, color, text, note, author,
                   source, import_key, pdf_color, created, updated)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?)""",
                [paper_id, *values, source, import_key, h.created or ts, ts])
            if not cur.rowcount:  # deleted here before the link was written
                return KEPT
            self.link(key, "annotation", paper_id, local_id=cur.lastrowid, stamp=stamp, local_stamp=ts)
            return ADDED
