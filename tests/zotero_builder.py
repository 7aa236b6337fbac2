"""Build real Zotero data directories for tests, the way Zotero does on first start.

``system.sql``, ``userdata.sql`` and ``triggers.sql`` (Zotero's own, in
../shared/zotero-schema) run in one connection; item types, fields, base-field mappings
and creator types are then filled from ``schema.json``.  Items, creators, collections,
tags, notes, attachments (stored under ``storage/<key>/`` or linked) and annotations go
in through Zotero's tables.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import sqlite3
from pathlib import Path

SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "zotero-schema"
if not SCHEMA.is_dir():
    SCHEMA = Path("/work/shared/zotero-schema")
ANNOTATION_TYPE = {"highlight": 1, "note": 2, "image": 3, "ink": 4, "underline": 5, "text": 6}


def _key(rng: random.Random) -> str:
    return "".join(rng.choice("23456789ABCDEFGHIJKLMNPQRSTUVWXYZ") for _ in range(8))


class ZoteroBuilder:
    def __init__(self, data_dir: Path, seed: int = 1):
        self.dir = Path(data_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rng = random.Random(seed)
        self.conn = sqlite3.connect(str(self.dir / "zotero.sqlite"), isolation_level=None)
        self.conn.executescript("BEGIN;" + "\n".join((SCHEMA / name).read_text(encoding="utf-8")
                                                      for name in ("system.sql", "userdata.sql", "triggers.sql"))
                                + ";COMMIT;")
        self.conn.execute("BEGIN")  # one transaction until commit(): many rows, one fsync
        self._fill_schema(json.loads((SCHEMA / "schema.json").read_text(encoding="utf-8")))
        self.conn.execute("INSERT INTO libraries (libraryID, type, editable, filesEditable) VALUES (1, 'user', 1, 1)")
        self.conn.execute("INSERT OR REPLACE INTO version (schema, version) VALUES ('userdata', 129)")
        self.stamp = itertools.count(1)

    def _fill_schema(self, schema: dict) -> None:
        c = self.conn
        field_ids: dict[str, int] = {}
        ctype_ids: dict[str, int] = {}

        def fid(name: str) -> int:
            if name not in field_ids:
                field_ids[name] = len(field_ids) + 1
                c.execute("INSERT INTO fields (fieldID, fieldName, fieldFormatID) VALUES (?, ?, NULL)",
                          [field_ids[name], name])
                c.execute("INSERT INTO fieldsCombined (fieldID, fieldName, label, fieldFormatID, custom) "
                          "VALUES (?, ?, NULL, NULL, 0)", [field_ids[name], name])
            return field_ids[name]

        self.types: dict[str, int] = {}
        for i, t in enumerate(schema["itemTypes"], start=1):
            self.types[t["itemType"]] = i
            c.execute("INSERT INTO itemTypes (itemTypeID, typeName, templateItemTypeID, display) VALUES (?, ?, NULL, 1)",
                      [i, t["itemType"]])
            c.execute("INSERT INTO itemTypesCombined (itemTypeID, typeName, display, custom) VALUES (?, ?, 1, 0)",
                      [i, t["itemType"]])
            for order, f in enumerate(t["fields"]):
                c.execute("INSERT INTO itemTypeFields (itemTypeID, fieldID, hide, orderIndex) VALUES (?, ?, 0, ?)",
                          [i, fid(f["field"]), order])
                if f.get("baseField"):
                    c.execute("INSERT INTO baseFieldMappings (itemTypeID, baseFieldID, fieldID) VALUES (?, ?, ?)",
                              [i, fid(f["baseField"]), fid(f["field"])])
            for ct in t["creatorTypes"]:
                if ct["creatorType"] not in ctype_ids:
                    ctype_ids[ct["creatorType"]] = len(ctype_ids) + 1
                    c.execute("INSERT INTO creatorTypes (creatorTypeID, creatorType) VALUES (?, ?)",
                              [ctype_ids[ct["creatorType"]], ct["creatorType"]])
                c.execute("INSERT INTO itemTypeCreatorTypes (itemTypeID, creatorTypeID, primaryField) VALUES (?, ?, ?)",
                          [i, ctype_ids[ct["creatorType"]], 1 if ct.get("primary") else 0])
        self.fields = field_ids
        self.ctypes = ctype_ids

    # ---- rows
    def _item(self, type_name: str, key: str | None = None) -> tuple[int, str]:
        key = key or _key(self.rng)
        n = next(self.stamp)
        cur = self.conn.execute(
            "INSERT INTO items (itemTypeID, libraryID, key, dateAdded, dateModified, clientDateModified, version) "
            "VALUES (?, 1, ?, ?, ?, ?, ?)",
            [self.types[type_name], key, "2024-01-01 00:00:00", f"2024-01-01 00:00:{n % 60:02d}",
             f"2024-01-01 00:00:{n % 60:02d}", n])
        return cur.lastrowid, key

    def touch(self, item_id: int) -> None:
        """What Zotero does when an item changes: a new version and modification time."""
        n = next(self.stamp) + 1000
        self.conn.execute("UPDATE items SET version = ?, clientDateModified = ?, dateModified = ? WHERE itemID = ?",
                          [n, f"2025-02-02 00:00:{n % 60:02d}", f"2025-02-02 00:00:{n % 60:02d}", item_id])

    def set_field(self, item_id: int, name: str, value: str) -> None:
        self.conn.execute("INSERT OR IGNORE INTO itemDataValues (value) VALUES (?)", [value])
        vid = self.conn.execute("SELECT valueID FROM itemDataValues WHERE value = ?", [value]).fetchone()[0]
        self.conn.execute("INSERT OR REPLACE INTO itemData (itemID, fieldID, valueID) VALUES (?, ?, ?)",
                          [item_id, self.fields[name], vid])

    def item(self, type_name: str = "journalArticle", fields: dict | None = None, creators=(), tags=(),
             collections=(), key: str | None = None) -> tuple[int, str]:
        item_id, key = self._item(type_name, key)
        for name, value in (fields or {}).items():
            self.set_field(item_id, name, value)
        for order, who in enumerate(creators):
            first, _, last = who.rpartition(" ")
            mode = 1 if not first else 0
            self.conn.execute("INSERT OR IGNORE INTO creators (firstName, lastName, fieldMode) VALUES (?, ?, ?)",
                              [first, last, mode])
            cid = self.conn.execute("SELECT creatorID FROM creators WHERE firstName = ? AND lastName = ? AND fieldMode = ?",
                                    [first, last, mode]).fetchone()[0]
            self.conn.execute("INSERT INTO itemCreators (itemID, creatorID, creatorTypeID, orderIndex) VALUES (?, ?, ?, ?)",
                              [item_id, cid, self.ctypes["author"], order])
        for t in tags:
            self.conn.execute("INSERT OR IGNORE INTO tags (name) VALUES (?)", [t])
            tid = self.conn.execute("SELECT tagID FROM tags WHERE name = ?", [t]).fetchone()[0]
            self.conn.execute("INSERT INTO itemTags (itemID, tagID, type) VALUES (?, ?, 0)", [item_id, tid])
        for cid in collections:
            self.conn.execute("INSERT INTO collectionItems (collectionID, itemID, orderIndex) VALUES (?, ?, 0)",
                              [cid, item_id])
        return item_id, key

    def collection(self, name: str, parent: int | None = None) -> int:
        cur = self.conn.execute("INSERT INTO collections (collectionName, parentCollectionID, libraryID, key) "
                                "VALUES (?, ?, 1, ?)", [name, parent, _key(self.rng)])
        return cur.lastrowid

    def stored_pdf(self, parent: int | None, pdf: Path, name: str | None = None) -> tuple[int, str]:
        item_id, key = self._item("attachment")
        name = name or Path(pdf).name
        folder = self.dir / "storage" / key
        folder.mkdir(parents=True, exist_ok=True)
        if pdf is not None and Path(pdf).exists():
            shutil.copyfile(pdf, folder / name)
        self.conn.execute("INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) "
                          "VALUES (?, ?, 0, 'application/pdf', ?)", [item_id, parent, f"storage:{name}"])
        return item_id, key

    def linked_pdf(self, parent: int | None, path: str) -> tuple[int, str]:
        item_id, key = self._item("attachment")
        self.conn.execute("INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) "
                          "VALUES (?, ?, 2, 'application/pdf', ?)", [item_id, parent, str(path)])
        return item_id, key

    def web_link(self, parent: int) -> tuple[int, str]:
        item_id, key = self._item("attachment")
        self.conn.execute("INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) "
                          "VALUES (?, ?, 3, 'text/html', NULL)", [item_id, parent])
        return item_id, key

    def note(self, parent: int, html: str) -> tuple[int, str]:
        item_id, key = self._item("note")
        self.conn.execute("INSERT INTO itemNotes (itemID, parentItemID, note, title) VALUES (?, ?, ?, '')",
                          [item_id, parent, html])
        return item_id, key

    def annotation(self, attachment: int, kind: str, position, *, text: str = "", comment: str = "",
                   color: str = "#ffd400", author: str = "") -> tuple[int, str]:
        item_id, key = self._item("annotation")
        pos = position if isinstance(position, str) else json.dumps(position)
        self.conn.execute(
            "INSERT INTO itemAnnotations (itemID, parentItemID, type, authorName, text, comment, color, pageLabel, "
            "sortIndex, position, isExternal) VALUES (?, ?, ?, ?, ?, ?, ?, '1', ?, ?, 0)",
            [item_id, attachment, ANNOTATION_TYPE[kind], author, text, comment, color,
             f"{item_id:05d}|000000|00000", pos])
        return item_id, key

    def trash(self, item_id: int) -> None:
        self.conn.execute("INSERT INTO deletedItems (itemID) VALUES (?)", [item_id])

    def commit(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")

    def close(self) -> None:
        self.commit()
        self.conn.close()


def pdf_rects(pdf: Path, page_index: int, words: str) -> list[list[float]]:
    """Zotero's rects for ``words`` on a page: PDF points, origin bottom left (computed with
    PyMuPDF the way Zotero's reader reports a selection)."""
    import pymupdf

    doc = pymupdf.open(str(pdf))
    try:
        page = doc[page_index]
        hits = page.search_for(words)
        assert hits, f"{words!r} not on page {page_index + 1} of {pdf.name}"
        line_rects = [hits[0]]
        m = ~page.transformation_matrix  # page space -> PDF space
        out = []
        for r in line_rects:
            q = r * m
            out.append([round(q.x0, 2), round(q.y0, 2), round(q.x1, 2), round(q.y1, 2)])
        return out
    finally:
        doc.close()
