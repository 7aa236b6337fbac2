"""Import a Zotero library: items with their PDFs, metadata, collections and tags, child
notes, and the annotations made in Zotero's reader (kept in its database, not the PDF).

``import_zotero(lib, path=None, collection=None, on_progress=None) -> dict`` reads a copy
of ``zotero.sqlite`` (``library.zotero_db``), and for each regular item with a PDF:

- the PDF is imported like ``reader-app add`` (one already here is reused); Zotero's
  title, creators, year, DOI and abstract win over what extraction guessed;
- Zotero tags stay tags; collections become tags ("Parent/Child");
- child notes (HTML) become Markdown notes, sanitized (``importers.html_notes``);
- highlight, underline, note and text annotations become highlights over the text their
  rects cover (image and ink ones are counted and skipped).

Every item is committed on its own and remembered by its Zotero key
(``library.import_links``), so a second run (or one after an interruption) imports only
what is new or changed, never duplicates, and never deletes what the reader did here.
The result counts what was imported and what was skipped, with reasons.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from reader_app.core.errors import BadInput, Cancelled, NotFound, PasswordError, PdfError, ReaderError
from reader_app.core.model import Highlight
from reader_app.importers.html_notes import html_to_markdown
from reader_app.library.import_links import ADDED, KEPT, UNCHANGED, UPDATED, ImportLinks
from reader_app.library.zotero_db import PUBLICATION_FIELDS, find_profile, is_pdf, open_zotero
from reader_app.pdf import extract_paper_isolated, sha256_file
from reader_app.pdf.annotations import place_rects

SOURCE = "zotero"
KINDS = {"highlight": "highlight", "underline": "underline", "note": "text", "text": "text"}
NO_PDF, MISSING, ENCRYPTED, UNREADABLE = "no PDF", "missing file", "encrypted", "unreadable"

Progress = Callable[[int, int, str], None]
_COLOR = re.compile(r"#[0-9a-f]{6}")


def year_of(date: str) -> int | None:
    m = re.match(r"\s*(\d{4})", date or "") or re.search(r"\b(1[5-9]\d\d|20\d\d)\b", date or "")
    return int(m.group(1)) if m else None


def _authors(item: dict) -> list[str]:
    creators = item["creators"]
    authors = [c["name"] for c in creators if c["type"] in ("author", "")]
    return authors or [c["name"] for c in creators]


def _item_stamp(item: dict) -> str:
    """Changes when anything imported from the item changes in Zotero."""
    parts = [item.get("version"), item.get("clientDateModified"), item["fields"], item["creators"],
             sorted(item["tags"]), sorted(item["collections"]),
             [(a["key"], a.get("path"), a["stamp"], [n["stamp"] for n in a["annotations"]])
              for a in item["attachments"]],
             [n["stamp"] for n in item["notes"]]]
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _title(item: dict) -> str:
    return item["fields"].get("title") or (item["attachments"][0].get("title") if item["attachments"] else "") or ""


class _Run:
    def __init__(self, lib, reader, extract):
        self.lib = lib
        self.reader = reader
        self.links = ImportLinks(lib, SOURCE)
        self.extract = extract
        self.counts: Counter = Counter()
        self.notes: Counter = Counter()
        self.marks: Counter = Counter()
        self.skipped: list[dict] = []
        self.marks_skipped: Counter = Counter()
        self.notes_cleaned: Counter = Counter()

    def skip(self, item: dict, reason: str, detail: str = "") -> None:
        self.counts["skipped"] += 1
        self.skipped.append({"key": item["key"], "title": _title(item)[:200], "reason": reason, "detail": detail})

    def item(self, item: dict) -> None:
        key = f"{item['libraryID']}/{item['key']}"
        stamp = _item_stamp(item)
        link = self.links.get(key)
        if link is not None and link["stamp"] == stamp:
            self.counts["unchanged"] += 1
            return
        pdfs = [a for a in item["attachments"] if is_pdf(a)]
        if not pdfs:
            self.skip(item, NO_PDF)
            return
        chosen, path = None, None
        for a in pdfs:
            p = self.reader.attachment_file(a)
            if p is not None and p.is_file():
                chosen, path = a, p
                break
        if chosen is None:
            p = self.reader.attachment_file(pdfs[0])
            self.skip(item, MISSING, str(p) if p else f"a linked file relative to Zotero's base directory "
                      f"({pdfs[0].get('path')}), which is not set")
            return
        try:
            paper_id, new = self.paper(item, link, path)
        except PasswordError as exc:
            self.skip(item, ENCRYPTED, str(exc))
            return
        except (PdfError, BadInput) as exc:
            self.skip(item, UNREADABLE, str(exc))
            return
        self.counts["imported" if new else ("updated" if link is not None else "already in library")] += 1
        placed = self.place(chosen, path)  # reading the PDF: outside the write transaction
        with self.links.transaction():  # the rest of the item: one commit
            self.tags(item, paper_id)
            for n in item["notes"]:
                md, dropped = html_to_markdown(n["html"])
                self.notes_cleaned.update(dropped)
                self.notes[self.links.upsert_note(paper_id, f"{item['libraryID']}/{n['key']}", md, n["stamp"])] += 1
            self.annotations(item, placed, paper_id)
            f = item["fields"]
            data = {"zotero_key": item["key"], "type": item["type"], "url": f.get("url", ""),
                    "publication": next((f[k] for k in PUBLICATION_FIELDS if f.get(k)), "")}
            self.links.link(key, "item", paper_id, stamp=stamp, data=data)

    def paper(self, item: dict, link: dict | None, path: Path) -> tuple[str, bool]:
        f = item["fields"]
        meta = dict(title=f.get("title", ""), authors=_authors(item), year=year_of(f.get("date", "")),
                    doi=f.get("DOI", ""), abstract=f.get("abstractNote", ""))
        paper_id, new = None, False
        if link is not None:
            paper_id = link["paper_id"]
        else:
            try:
                digest = sha256_file(path)
            except OSError as exc:
                raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
            try:
                paper_id = self.lib.resolve_id(digest)
            except NotFound:
                paper = self.extract(str(path))
                for name, value in meta.items():
                    if value:
                        setattr(paper, name, value)
                paper_id, dup = self.lib.add_paper(paper, str(path))
                new = not dup
        if not new:
            self.links.set_metadata(paper_id, **meta)
        return paper_id, new

    def tags(self, item: dict, paper_id: str) -> None:
        wanted = list(dict.fromkeys(item["tags"] + item["collections"]))
        for t in wanted:
            try:
                self.lib.add_tags(paper_id, [t])
            except BadInput:
                self.counts["tags skipped"] += 1

    def place(self, attachment: dict, path: Path) -> list:
        """(annotation, where) for each annotation of the attachment: where is (page, boxes,
        words) or the reason it is skipped."""
        out, todo, marks = [], [], []
        for a in attachment["annotations"]:
            if KINDS.get(a["kind"]) is None:
                out.append((a, a["kind"] or f"unknown type {a['type']}"))
                continue
            try:
                pos = json.loads(a["position"] or "")
                page_index, rects = pos["pageIndex"], pos["rects"]
                if not isinstance(rects, list):
                    raise TypeError
            except (ValueError, TypeError, KeyError):
                out.append((a, "malformed position"))
                continue
            todo.append(a)
            marks.append((page_index, rects))
        if todo:
            try:
                placed = place_rects(path, marks)
            except ReaderError:
                placed = ["unreadable PDF"] * len(todo)
            for a, where in zip(todo, placed):
                if isinstance(where, str):
                    where = ("off the page" if "off the page" in where or "not in the PDF" in where
                             else where if where == "unreadable PDF" else "malformed position")
                out.append((a, where))
        return out

    def annotations(self, item: dict, placed: list, paper_id: str) -> None:
        for a, where in placed:
            if isinstance(where, str):
                self.marks_skipped[where] += 1
                continue
            page, boxes, words = where
            kind = KINDS[a["kind"]]
            note = (a["comment"] or "").strip()
            if kind == "text" and not note:
                self.marks_skipped["empty note"] += 1  # a sticky note that says nothing
                continue
            color = str(a["color"] or "").strip().lower()
            h = Highlight(page=page, quads=boxes, color=color if _COLOR.fullmatch(color) else "#ffd400", kind=kind,
                          text="" if kind == "text" else (" ".join((a["text"] or "").split()) or words),
                          note=note, author=(a["authorName"] or "").strip(), source=SOURCE)
            try:
                self.marks[self.links.upsert_mark(paper_id, f"{item['libraryID']}/{a['key']}", h, a["stamp"])] += 1
            except BadInput:
                self.marks_skipped["malformed position"] += 1

    def result(self, reader, total: int, seconds: float, stopped: bool) -> dict:
        return {
            "profile": str(reader.profile.data_dir),
            "items": total,
            "imported": self.counts["imported"],
            "updated": self.counts["updated"],
            "already_in_library": self.counts["already in library"],
            "unchanged": self.counts["unchanged"],
            "skipped": dict(Counter(s["reason"] for s in self.skipped)),
            "skipped_items": self.skipped,
            "notes": {k: self.notes[k] for k in (ADDED, UPDATED, UNCHANGED, KEPT) if self.notes[k]},
            "notes_cleaned": dict(self.notes_cleaned),
            "annotations": {k: self.marks[k] for k in (ADDED, UPDATED, UNCHANGED, KEPT) if self.marks[k]},
            "annotations_skipped": dict(self.marks_skipped),
            "warnings": list(reader.warnings),
            "seconds": round(seconds, 2),
            "stopped": stopped,
        }


def import_zotero(lib, path=None, *, collection: str | None = None, on_progress: Progress | None = None,
                  extract: Callable | None = None) -> dict:
    """Import the Zotero library at ``path`` (default: Zotero's configured data directory,
    else ~/Zotero) into ``lib``.  ``on_progress(done, total, label)`` may raise Cancelled:
    what was imported so far stays (the result has ``stopped: True``)."""
    t0 = time.monotonic()
    profile = find_profile(path)
    reader = open_zotero(profile)
    try:
        items = reader.items(collection)
        run = _Run(lib, reader, extract or extract_paper_isolated)
        stopped = False
        for i, item in enumerate(items):
            if on_progress is not None:
                try:
                    on_progress(i, len(items), _title(item) or item["key"])
                except Cancelled:
                    stopped = True
                    break
            run.item(item)
        if on_progress is not None and not stopped:
            on_progress(len(items), len(items), "done")
        return run.result(reader, len(items), time.monotonic() - t0, stopped)
    finally:
        reader.close()
