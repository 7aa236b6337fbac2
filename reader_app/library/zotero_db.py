"""Reading a Zotero data directory: ``zotero.sqlite`` (a read-only copy) and its prefs.

Zotero holds an exclusive lock on its database while it runs, so :func:`open_zotero`
copies ``zotero.sqlite`` (and its ``-wal``, when there is one) to a temporary folder and
opens the copy read-only; Zotero's own files are never opened for writing.

:class:`ZoteroReader` turns the database into plain dicts, one per regular item (or
top-level PDF attachment): its fields, creators in order, tags, collection paths
("Parent/Child"), PDF attachments with their annotations, and child notes.  A database
from a newer Zotero schema is read for what is known; :attr:`ZoteroReader.warnings` says
what was not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from reader_app.core.errors import BadInput

KNOWN_USERDATA = 129  # the newest ``userdata`` schema version this reader was written for
ANNOTATION_TYPES = {1: "highlight", 2: "note", 3: "image", 4: "ink", 5: "underline", 6: "text"}
PUBLICATION_FIELDS = ("publicationTitle", "proceedingsTitle", "bookTitle", "conferenceName", "websiteTitle",
                      "blogTitle", "forumTitle", "encyclopediaTitle", "dictionaryTitle", "repository",
                      "university", "institution")
LINK_STORED = (0, 1)  # imported_file, imported_url: kept under storage/<key>/
LINK_LINKED = 2  # linked_file: an absolute path, or "attachments:" under the base directory


@dataclass
class ZoteroProfile:
    """A Zotero data directory and the base directory for relative linked files."""

    data_dir: Path
    base_dir: Path | None = None

    @property
    def database(self) -> Path:
        return self.data_dir / "zotero.sqlite"


# ---- finding the data directory -----------------------------------------------------

def _prefs_files() -> list[Path]:
    """prefs.js of Zotero's profiles (Linux, macOS, Windows locations)."""
    home = Path.home()
    roots = [home / ".zotero" / "zotero", home / "Library" / "Application Support" / "Zotero" / "Profiles"]
    appdata = os.environ.get("APPDATA")
    if appdata:
        roots.append(Path(appdata) / "Zotero" / "Zotero" / "Profiles")
    out = []
    for root in roots:
        try:
            out += sorted(root.glob("*/prefs.js"))
        except OSError:
            continue
    return out


_PREF = re.compile(r'user_pref\("([^"]+)",\s*(".*?(?<!\\)"|true|false|-?\d+)\);')


def read_prefs(path: Path) -> dict:
    """The ``user_pref(...)`` values of a prefs.js file (strings unescaped)."""
    prefs = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return prefs
    for m in _PREF.finditer(text):
        raw = m.group(2)
        try:
            prefs[m.group(1)] = json.loads(raw)
        except ValueError:
            continue
    return prefs


def find_profile(path: str | os.PathLike | None = None) -> ZoteroProfile:
    """The Zotero data directory ``path`` (a folder holding zotero.sqlite, or the file
    itself), else the one set in Zotero's prefs, else ``~/Zotero``.  The base directory of
    relative linked files comes from the prefs.  BadInput when there is no database."""
    prefs: dict = {}
    for f in _prefs_files():
        prefs.update(read_prefs(f))
    base = prefs.get("extensions.zotero.baseAttachmentPath")
    base_dir = Path(base).expanduser() if isinstance(base, str) and base else None
    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            p = p.parent
        candidates = [p]
    else:
        candidates = []
        configured = prefs.get("extensions.zotero.dataDir")
        if prefs.get("extensions.zotero.useDataDir", True) and isinstance(configured, str) and configured:
            candidates.append(Path(configured).expanduser())
        candidates.append(Path.home() / "Zotero")
    for c in candidates:
        if (c / "zotero.sqlite").is_file():
            return ZoteroProfile(c.resolve(), base_dir)
    where = candidates[0]
    if path is not None and not where.exists():
        raise BadInput(f"no such folder: {where}")
    raise BadInput(f"no zotero.sqlite in {where}; give the Zotero data directory (Zotero: Settings > "
                   "Advanced > Files and Folders)")


# ---- the read-only copy ------------------------------------------------------------------

def open_zotero(profile: ZoteroProfile) -> "ZoteroReader":
    """A reader over a fresh copy of the profile's database (closed with ``close()``)."""
    src = profile.database
    if not src.is_file():
        raise BadInput(f"no zotero.sqlite in {profile.data_dir}")
    tmp = Path(tempfile.mkdtemp(prefix="reader-app-zotero-"))
    warnings: list[str] = []
    try:
        try:
            shutil.copyfile(src, tmp / "zotero.sqlite")
        except OSError as exc:
            raise BadInput(f"cannot read {src}: {exc.strerror or exc}") from None
        wal = Path(str(src) + "-wal")
        if wal.exists():
            try:
                shutil.copyfile(wal, tmp / "zotero.sqlite-wal")
            except OSError as exc:
                warnings.append(f"cannot read {wal.name} ({exc.strerror or exc}): changes Zotero has not "
                                "written into zotero.sqlite yet are left out; close Zotero and import again")
        try:
            conn = sqlite3.connect(str(tmp / "zotero.sqlite"), isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise BadInput(f"{src} is not a readable Zotero database ({exc})") from None
        reader = ZoteroReader(conn, profile, tmp, warnings)
        reader.check()
        return reader
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@dataclass
class ZoteroReader:
    conn: sqlite3.Connection
    profile: ZoteroProfile
    tmp: Path
    warnings: list[str] = field(default_factory=list)
    userdata_version: int = 0
    _has: set = field(default_factory=set)
    _ctypes: dict = field(default_factory=dict)

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> "ZoteroReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- helpers
    def _rows(self, sql: str, params=()) -> list[sqlite3.Row]:
        cur = self.conn.execute(sql, tuple(params))
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def _tables(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}

    def check(self) -> None:
        """BadInput for a database that is not Zotero's; warnings for a newer schema."""
        try:
            tables = self._tables()
        except sqlite3.DatabaseError as exc:
            raise BadInput(f"{self.profile.database} is not a readable Zotero database ({exc})") from None
        missing = {"items", "itemTypes", "itemAttachments"} - tables
        if missing:
            raise BadInput(f"{self.profile.database} is not a Zotero database (no {', '.join(sorted(missing))} table)")
        self._has = tables
        if "version" in tables:
            row = self.conn.execute("SELECT version FROM version WHERE schema = 'userdata'").fetchone()
            self.userdata_version = int(row[0]) if row and str(row[0]).isdigit() else 0
        if self.userdata_version > KNOWN_USERDATA:
            self.warnings.append(f"this database is from a newer Zotero (schema {self.userdata_version}; this "
                                 f"reader knows {KNOWN_USERDATA}): reading what is known")
        if "itemAnnotations" not in tables:
            self.warnings.append("this Zotero database keeps no annotations (Zotero 5 or older)")

    # -- the items
    def _names(self) -> tuple[dict, dict, dict]:
        def table(primary: str, fallback: str, sql: str) -> dict:
            for name in (primary, fallback):
                if name in self._has:
                    rows = self.conn.execute(sql % name).fetchall()
                    if rows:
                        return dict(rows)
            return {}
        types = table("itemTypesCombined", "itemTypes", "SELECT itemTypeID, typeName FROM %s")
        fields = table("fieldsCombined", "fields", "SELECT fieldID, fieldName FROM %s")
        ctypes = table("creatorTypes", "creatorTypes", "SELECT creatorTypeID, creatorType FROM %s")
        return types, fields, ctypes

    def items(self, collection: str | None = None) -> list[dict]:
        """Every regular item (and top-level PDF attachment) not in the trash, oldest first.

        ``collection`` keeps those in that collection (by name or "Parent/Child" path, with
        its sub-collections); BadInput when no collection has that name.  A part of the
        database that cannot be read (a damaged table, a column a newer Zotero renamed) is
        left out with a warning; BadInput when the items themselves cannot be read."""
        try:
            by_id = self._base_items()
        except sqlite3.DatabaseError as exc:
            raise BadInput(f"cannot read the items of {self.profile.database} ({exc}): a damaged database, "
                           "or one from a Zotero this reader does not know") from None
        paths: dict[int, str] = {}
        for what, step in (("creators", self._creators), ("tags", self._tags), ("collections", None),
                           ("attachments", self._attachments), ("notes", self._notes),
                           ("annotations", self._annotations)):
            try:
                if step is None:
                    paths = self._collection_paths()
                    self._collection_items(by_id, paths)
                else:
                    step(by_id)
            except sqlite3.DatabaseError as exc:
                self.warnings.append(f"could not read Zotero's {what} ({exc}); imported without them")
        out = []
        for r in by_id.values():
            if r["type"] in ("note", "annotation"):
                continue
            if r["type"] == "attachment" and not r["attachments"]:
                continue  # a child attachment: part of its parent (a top-level one holds itself)
            out.append(r)
        if collection is not None:
            out = self._in_collection(out, collection, paths)
        return out

    def _base_items(self) -> dict[int, dict]:
        types, fields, self._ctypes = self._names()
        trash = ({r[0] for r in self.conn.execute("SELECT itemID FROM deletedItems")}
                 if "deletedItems" in self._has else set())
        rows = self._rows("SELECT itemID, itemTypeID, key, libraryID, dateAdded, dateModified, "
                          "clientDateModified, version FROM items ORDER BY itemID")
        by_id = {r["itemID"]: r for r in rows if r["itemID"] not in trash}
        for r in by_id.values():
            r.update(type=types.get(r["itemTypeID"], ""), fields={}, creators=[], tags=[], collections=[],
                     attachments=[], notes=[])
        for item_id, fid, value in self.conn.execute(
                "SELECT d.itemID, d.fieldID, v.value FROM itemData d JOIN itemDataValues v ON v.valueID = d.valueID"):
            if item_id in by_id and fid in fields:
                by_id[item_id]["fields"][fields[fid]] = "" if value is None else str(value)
        return by_id

    def _creators(self, by_id: dict) -> None:
        if "itemCreators" not in self._has:
            return
        for item_id, first, last, mode, ctype in self.conn.execute(
                """SELECT ic.itemID, c.firstName, c.lastName, c.fieldMode, ic.creatorTypeID
                   FROM itemCreators ic JOIN creators c ON c.creatorID = ic.creatorID
                   ORDER BY ic.itemID, ic.orderIndex"""):
            if item_id in by_id:
                name = (last or "") if mode == 1 else " ".join(p for p in (first, last) if p)
                if name.strip():
                    by_id[item_id]["creators"].append({"name": name.strip(), "type": self._ctypes.get(ctype, "")})

    def _tags(self, by_id: dict) -> None:
        if "itemTags" not in self._has:
            return
        for item_id, name in self.conn.execute(
                "SELECT it.itemID, t.name FROM itemTags it JOIN tags t ON t.tagID = it.tagID ORDER BY t.name"):
            if item_id in by_id and name and str(name).strip():
                by_id[item_id]["tags"].append(str(name).strip())

    def _collection_items(self, by_id: dict, paths: dict[int, str]) -> None:
        if "collectionItems" not in self._has:
            return
        for cid, item_id in self.conn.execute("SELECT collectionID, itemID FROM collectionItems"):
            if item_id in by_id and cid in paths:
                by_id[item_id]["collections"].append(paths[cid])

    def _attachments(self, by_id: dict) -> None:
        for a in self._rows("SELECT itemID, parentItemID, linkMode, contentType, path FROM itemAttachments"):
            owner = by_id.get(a["parentItemID"]) if a["parentItemID"] is not None else by_id.get(a["itemID"])
            me = by_id.get(a["itemID"])
            if owner is None or me is None:
                continue
            a.update(key=me["key"], title=me["fields"].get("title", ""), stamp=_stamp(me), annotations=[])
            owner["attachments"].append(a)

    def _notes(self, by_id: dict) -> None:
        if "itemNotes" not in self._has:
            return
        for n in self._rows("SELECT itemID, parentItemID, note FROM itemNotes WHERE parentItemID IS NOT NULL"):
            owner, me = by_id.get(n["parentItemID"]), by_id.get(n["itemID"])
            if owner is not None and me is not None and owner["type"] not in ("attachment", "note"):
                owner["notes"].append({"key": me["key"], "html": n["note"] or "", "stamp": _stamp(me)})

    def _annotations(self, by_id: dict) -> None:
        if "itemAnnotations" not in self._has:
            return
        attachments = {a["itemID"]: a for r in by_id.values() for a in r["attachments"]}
        for n in self._rows("""SELECT itemID, parentItemID, type, authorName, text, comment, color, pageLabel,
                                      sortIndex, position FROM itemAnnotations ORDER BY sortIndex"""):
            att, me = attachments.get(n["parentItemID"]), by_id.get(n["itemID"])
            if att is None or me is None:
                continue
            n.update(key=me["key"], stamp=_stamp(me), kind=ANNOTATION_TYPES.get(n["type"], ""))
            att["annotations"].append(n)

    def _collection_paths(self) -> dict[int, str]:
        if "collections" not in self._has:
            return {}
        rows = {r["collectionID"]: r for r in self._rows(
            "SELECT collectionID, collectionName, parentCollectionID FROM collections")}
        paths: dict[int, str] = {}
        for cid in rows:
            parts, seen, cur = [], set(), cid
            while cur in rows and cur not in seen:  # a cycle in a broken database ends here
                seen.add(cur)
                parts.append(" ".join(str(rows[cur]["collectionName"] or "").replace("/", "-").split()) or "?")
                cur = rows[cur]["parentCollectionID"]
            paths[cid] = "/".join(reversed(parts))
        return paths

    @staticmethod
    def _in_collection(items: list[dict], name: str, paths: dict[int, str]) -> list[dict]:
        want = name.strip().strip("/").casefold()
        known = set(paths.values())
        roots = {p for p in known if p.casefold() == want or p.rsplit("/", 1)[-1].casefold() == want}
        if not roots:
            shown = ", ".join(sorted(known)[:8]) or "none"
            raise BadInput(f"no Zotero collection named {name!r} (collections: {shown})")

        def inside(path: str) -> bool:
            return any(path == r or path.startswith(r + "/") for r in roots)
        return [r for r in items if any(inside(c) for c in r["collections"])]

    # -- files
    def attachment_file(self, attachment: dict) -> Path | None:
        """Where an attachment's file should be (None for a link to a web page)."""
        path = attachment.get("path") or ""
        mode = attachment.get("linkMode")
        if mode in LINK_STORED:
            name = path[len("storage:"):] if path.startswith("storage:") else Path(path).name
            return self.profile.data_dir / "storage" / attachment["key"] / name if name else None
        if mode == LINK_LINKED or path:
            if path.startswith("attachments:"):
                if self.profile.base_dir is None:
                    return None
                return self.profile.base_dir / path[len("attachments:"):]
            if path.startswith("file://"):
                return Path(unquote(urlparse(path).path))
            return Path(path) if path else None
        return None


def _stamp(row: dict) -> str:
    return f"{row.get('version') or 0}|{row.get('clientDateModified') or ''}|{row.get('dateModified') or ''}"


def is_pdf(attachment: dict) -> bool:
    ctype = (attachment.get("contentType") or "").lower()
    return ctype == "application/pdf" or (not ctype and str(attachment.get("path") or "").lower().endswith(".pdf"))
