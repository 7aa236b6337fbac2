"""Schema migrations, applied in order. Append new ones; never edit a released one.

Each migration is a function ``(db) -> None`` run inside one write transaction together
with the row recording it in ``migrations``, so a crash leaves the library at the old
version or the new one, never in between.  The DDL is written out (not generated) so a
migration means the same thing whatever sqlite-utils version is installed, except the
FTS5 index, which sqlite-utils sets up (table + sync triggers).
"""

from __future__ import annotations

import re

from typing import Callable

import sqlite_utils

from reader_app.core.errors import BadInput

from .db import now, write


def _v1_core(db: sqlite_utils.Database) -> None:
    db.execute("""
        CREATE TABLE papers (
            id TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            file TEXT NOT NULL DEFAULT '',
            original_path TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            authors TEXT NOT NULL DEFAULT '[]',
            year INTEGER,
            doi TEXT,
            arxiv_id TEXT,
            abstract TEXT NOT NULL DEFAULT '',
            pages INTEGER NOT NULL DEFAULT 0,
            added TEXT NOT NULL,
            warnings TEXT NOT NULL DEFAULT '[]'
        )""")
    db.execute("CREATE INDEX papers_added ON papers(added)")
    db.execute("""
        CREATE TABLE sections (
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            level INTEGER NOT NULL DEFAULT 1,
            page INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (paper_id, idx)
        )""")
    db.execute("""
        CREATE TABLE paragraphs (
            id INTEGER PRIMARY KEY,
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            text TEXT NOT NULL,
            page INTEGER NOT NULL DEFAULT 0,
            x0 REAL NOT NULL DEFAULT 0, y0 REAL NOT NULL DEFAULT 0,
            x1 REAL NOT NULL DEFAULT 0, y1 REAL NOT NULL DEFAULT 0,
            section_index INTEGER,
            section TEXT NOT NULL DEFAULT '',
            kind TEXT NOT NULL DEFAULT 'body',
            UNIQUE (paper_id, idx)
        )""")
    # FTS5 over paragraph text and its section title, kept in sync by triggers.
    db["paragraphs"].enable_fts(["text", "section"], create_triggers=True,
                                tokenize="porter unicode61 remove_diacritics 2")
    db.execute("""
        CREATE TABLE tags (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE
        )""")
    db.execute("""
        CREATE TABLE paper_tags (
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
            PRIMARY KEY (paper_id, tag_id)
        )""")
    db.execute("CREATE INDEX paper_tags_tag ON paper_tags(tag_id)")
    db.execute("""
        CREATE TABLE notes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            page INTEGER,
            quote TEXT,
            text TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX notes_paper ON notes(paper_id, page)")


def _v2_assistant(db: sqlite_utils.Database) -> None:
    """Issue B: cached demonstrations, Q&A history, cached summaries."""
    db.execute("""
        CREATE TABLE demonstrations (
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            model_key TEXT NOT NULL,
            window_key TEXT NOT NULL,
            demos TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (paper_id, model_key, window_key)
        )""")
    db.execute("""
        CREATE TABLE qa_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            question TEXT NOT NULL,
            answer TEXT NOT NULL,
            answerable INTEGER NOT NULL,
            citations TEXT NOT NULL DEFAULT '[]',
            mode TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            timings TEXT NOT NULL DEFAULT '{}',
            created TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX qa_history_paper ON qa_history(paper_id, created)")
    db.execute("""
        CREATE TABLE summaries (
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            model_key TEXT NOT NULL,
            section_key TEXT NOT NULL,
            data TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            PRIMARY KEY (paper_id, model_key, section_key)
        )""")


def _v3_qa_raw(db: sqlite_utils.Database) -> None:
    """Issue E: the model's own reply beside each answer (kept when the answer is refused)."""
    db.execute("ALTER TABLE qa_history ADD COLUMN raw TEXT NOT NULL DEFAULT ''")


def _v4_qa_selection(db: sqlite_utils.Database) -> None:
    """Issue I: a question about a selected passage keeps the passage apart from the question
    (it used to be appended to the question as '\nPassage (p. N): "..."'), and a refused
    answer keeps what the model replied."""
    db.execute("ALTER TABLE qa_history ADD COLUMN selection TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE qa_history ADD COLUMN selection_page INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE qa_history ADD COLUMN draft TEXT NOT NULL DEFAULT ''")
    old = re.compile(r'^(.*?)\nPassage(?: \(p\. (\d+)\))?: "(.*)"$', re.S)
    for row_id, question in db.execute("SELECT id, question FROM qa_history WHERE question LIKE '%' || char(10) || 'Passage%'").fetchall():
        m = old.match(question)
        if m:
            db.execute("UPDATE qa_history SET question = ?, selection = ?, selection_page = ? WHERE id = ?",
                       [m.group(1), m.group(3), int(m.group(2) or 0), row_id])


def _v5_highlights(db: sqlite_utils.Database) -> None:
    """Issue L: highlights (and the PDF's own annotations) kept on the page. ``quads``: JSON
    list of [x0, y0, x1, y1] boxes (one per line, PDF points as displayed); ``y0``/``x0`` of
    the first box order them on the page; an imported one has ``import_key`` (unique per
    paper, so re-importing adds nothing), ``pdf_color`` (its colour in the PDF, which the page
    already shows) and, once deleted, ``deleted = 1`` (so re-importing
    does not bring it back)."""
    db.execute("""
        CREATE TABLE highlights (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            page INTEGER NOT NULL,
            kind TEXT NOT NULL DEFAULT 'highlight',
            quads TEXT NOT NULL DEFAULT '[]',
            y0 REAL NOT NULL DEFAULT 0,
            x0 REAL NOT NULL DEFAULT 0,
            color TEXT NOT NULL DEFAULT '#ffd400',
            text TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT 'user',
            import_key TEXT,
            pdf_color TEXT NOT NULL DEFAULT '',
            deleted INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX highlights_paper ON highlights(paper_id, page, y0, x0)")
    db.execute("CREATE UNIQUE INDEX highlights_import ON highlights(paper_id, import_key) "
               "WHERE import_key IS NOT NULL")


def _v6_qa_confidence(db: sqlite_utils.Database) -> None:
    """Issue K: how sure the model was of each answer, in [0, 1]; NULL for answers kept before
    (or from a model that gives no probabilities)."""
    db.execute("ALTER TABLE qa_history ADD COLUMN confidence REAL")


def _v7_import_links(db: sqlite_utils.Database) -> None:
    """Issue P: what came from another reference manager (Zotero, a .bib file), so importing
    again adds only what is new or changed.  ``key``: the source's own key (a Zotero item,
    note or annotation key, "<libraryID>/<key>"); ``kind``: "item", "note" or "annotation";
    ``local_id``: our notes.id / highlights.id; ``stamp``: the source's version when imported;
    ``local_stamp``: our row's ``updated`` then (a later local edit is never overwritten);
    ``data``: JSON of what our tables have no column for (publication, URL)."""
    db.execute("""
        CREATE TABLE import_links (
            source TEXT NOT NULL,
            key TEXT NOT NULL,
            kind TEXT NOT NULL,
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            local_id INTEGER,
            stamp TEXT NOT NULL DEFAULT '',
            local_stamp TEXT NOT NULL DEFAULT '',
            data TEXT NOT NULL DEFAULT '{}',
            updated TEXT NOT NULL,
            PRIMARY KEY (source, key)
        )""")
    db.execute("CREATE INDEX import_links_paper ON import_links(paper_id)")


def _v8_vectors(db: sqlite_utils.Database) -> None:
    """Issue O: each paragraph's vector by each embedding model (float32 BLOB), with a hash of
    the text it was computed from, so vectors stale after ``reextract`` are recomputed."""
    db.execute("""
        CREATE TABLE paragraph_vectors (
            paper_id TEXT NOT NULL REFERENCES papers(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            idx INTEGER NOT NULL,
            text_hash TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (model, paper_id, idx)
        )""")


# ORDERED. Version N is MIGRATIONS[N-1]. Append only.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _v1_core,
    _v2_assistant,
    _v3_qa_raw,
    _v4_qa_selection,
    _v5_highlights,
    _v6_qa_confidence,
    _v7_import_links,
    _v8_vectors,
]
CURRENT_VERSION = len(MIGRATIONS)


def _ensure_table(db: sqlite_utils.Database) -> None:
    db.execute("""CREATE TABLE IF NOT EXISTS migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)""")


def version(db: sqlite_utils.Database) -> int:
    if not db["migrations"].exists():
        return 0
    return db.execute("SELECT COALESCE(MAX(version), 0) FROM migrations").fetchone()[0]


def migrate(db: sqlite_utils.Database, upto: int | None = None) -> int:
    """Bring the database to ``upto`` (default: the newest version). Returns the version."""
    target = CURRENT_VERSION if upto is None else upto
    current = version(db)
    if current > CURRENT_VERSION:
        raise BadInput(f"this library was written by a newer reader-app (schema v{current}, "
                       f"this one knows v{CURRENT_VERSION}); upgrade reader-app")
    if current >= target:  # the common case: no write lock needed just to open
        return current
    while True:
        with write(db):  # re-read inside the lock: another process may have migrated
            _ensure_table(db)
            current = version(db)
            if current >= target:
                return current
            step = MIGRATIONS[current]
            step(db)
            db.execute("INSERT INTO migrations (version, name, applied) VALUES (?, ?, ?)",
                       [current + 1, step.__name__.lstrip("_"), now()])
