"""The paper library: one folder, ``library.sqlite3`` plus ``files/<sha256>.pdf`` copies.

:class:`Library` is a thin facade over parts that each own one concern and share one
:class:`~reader_app.library.db.LibraryDb` (connection, lock, paper ids):

- ``paper_store`` (:class:`~.papers.Papers`): papers, sections, paragraphs, stored PDFs;
- ``tag_store`` (:class:`~.tags.Tags`): tags;
- ``note_store`` (:class:`~.notes.Notes`): the reader's notes;
- ``highlight_store`` (:class:`~.highlights.Highlights`): highlights and the PDF's own annotations;
- ``assistant_store`` (:class:`~.store.AssistantStore`): demonstrations, Q&A history, summaries;
- ``search_index`` (:class:`~.search.Search`): full-text search;
- ``ranker`` (:class:`~.ranking.Ranking`): which paragraphs answer a question;
- ``vector_store`` (:class:`~.vectors.Vectors`): paragraph vectors for retrieval by meaning;
- ``maintenance`` (:class:`~.maintenance.Maintenance`): integrity check, reindex, backup.

Each public method of a part is also a method of ``Library`` of the same name (what
callers use).  For a paper held in memory, ``ranking.rank_paper`` ranks as
``Library.rank_paragraphs`` does.  All SQL stays in this package.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from pathlib import Path
from typing import Callable

import platformdirs
import sqlite_utils

from reader_app.core.errors import BadInput

from . import schema
from .db import LibraryDb, connect
from .highlights import Highlights
from .maintenance import Maintenance
from .notes import Notes
from .papers import FILES_DIR, Papers
from .ranking import Ranking
from .vectors import Vectors
from .search import Search
from .store import AssistantStore
from .tags import Tags

DB_NAME = "library.sqlite3"


def default_library_dir() -> Path:
    """``$READER_APP_LIBRARY`` if set, else the platform's user data dir for reader-app."""
    env = os.environ.get("READER_APP_LIBRARY")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("reader-app", appauthor=False))


def _via(part: str, method: Callable) -> Callable:
    """A Library method calling the same-named method of its part ``part`` (same signature
    and docstring)."""
    name = method.__name__

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        return getattr(getattr(self, part), name)(*args, **kwargs)
    return call


class Library:
    """A library folder: ``library.sqlite3`` plus ``files/<sha256>.pdf`` copies (see the
    module docstring for its parts)."""

    def __init__(self, path: Path, database: sqlite_utils.Database) -> None:  # use Library.open()
        self.path = path
        self.db_path = path / DB_NAME
        self.files_dir = path / FILES_DIR
        self._db = LibraryDb(path, database)
        self.tag_store = Tags(self._db)
        self.highlight_store = Highlights(self._db)
        self.note_store = Notes(self._db)
        self.paper_store = Papers(self._db, self.tag_store, self.highlight_store)
        self.assistant_store = AssistantStore(self._db)
        self.search_index = Search(self._db)
        self.ranker = Ranking(self._db, self.paper_store)
        self.vector_store = Vectors(self._db)
        self.maintenance = Maintenance(self._db, self.db_path, self.files_dir)

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

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Library({str(self.path)!r})"

    @property
    def db(self) -> sqlite_utils.Database | None:
        """The sqlite_utils database (for tests and migrations), None once closed."""
        return self._db.database

    @property
    def schema_version(self) -> int:
        return schema.version(self.db)

    def resolve_id(self, prefix: str) -> str:
        """Full paper id for a unique prefix (like git short hashes)."""
        return self._db.resolve_id(prefix)

    # ------------------------------------------------------------------ papers
    add_paper = _via("paper_store", Papers.add_paper)
    replace_extraction = _via("paper_store", Papers.replace_extraction)
    get_paper = _via("paper_store", Papers.get_paper)
    list_papers = _via("paper_store", Papers.list_papers)
    paragraphs = _via("paper_store", Papers.paragraphs)
    paragraph_count = _via("paper_store", Papers.paragraph_count)
    sections = _via("paper_store", Papers.sections)
    update_paper = _via("paper_store", Papers.update_paper)
    remove_paper = _via("paper_store", Papers.remove_paper)

    # ------------------------------------------------------------------ tags
    add_tags = _via("tag_store", Tags.add_tags)
    remove_tags = _via("tag_store", Tags.remove_tags)
    all_tags = _via("tag_store", Tags.all_tags)

    # ------------------------------------------------------------------ notes
    add_note = _via("note_store", Notes.add_note)
    get_note = _via("note_store", Notes.get_note)
    update_note = _via("note_store", Notes.update_note)
    delete_note = _via("note_store", Notes.delete_note)
    notes = _via("note_store", Notes.notes)

    # ------------------------------------------------------------------ highlights
    add_highlight = _via("highlight_store", Highlights.add_highlight)
    get_highlight = _via("highlight_store", Highlights.get_highlight)
    update_highlight = _via("highlight_store", Highlights.update_highlight)
    delete_highlight = _via("highlight_store", Highlights.delete_highlight)
    highlights = _via("highlight_store", Highlights.highlights)
    deleted_import_keys = _via("highlight_store", Highlights.deleted_import_keys)
    import_highlights = _via("highlight_store", Highlights.import_highlights)

    # ------------------------------------------------------------------ the assistant's store
    get_demonstrations = _via("assistant_store", AssistantStore.get_demonstrations)
    put_demonstrations = _via("assistant_store", AssistantStore.put_demonstrations)
    list_demonstrations = _via("assistant_store", AssistantStore.list_demonstrations)
    add_qa = _via("assistant_store", AssistantStore.add_qa)
    qa_history = _via("assistant_store", AssistantStore.qa_history)
    get_summary = _via("assistant_store", AssistantStore.get_summary)
    put_summary = _via("assistant_store", AssistantStore.put_summary)
    summaries = _via("assistant_store", AssistantStore.summaries)

    # ------------------------------------------------------------------ search and ranking
    search = _via("search_index", Search.search)
    rank_paragraphs = _via("ranker", Ranking.rank_paragraphs)
    rank_library = _via("ranker", Ranking.rank_library)

    # ------------------------------------------------------------------ paragraph vectors (retrieval by meaning)
    stored_vectors = _via("vector_store", Vectors.stored)
    save_vectors = _via("vector_store", Vectors.save)
    papers_without_vectors = _via("vector_store", Vectors.papers_without)
    stale_vector_papers = _via("vector_store", Vectors.stale_papers)
    vector_models = _via("vector_store", Vectors.models_of)
    vector_count = _via("vector_store", Vectors.count)
    vector_matrix = _via("vector_store", Vectors.matrix)

    # ------------------------------------------------------------------ upkeep
    sweep_stale_incoming = _via("maintenance", Maintenance.sweep_stale_incoming)
    integrity_check = _via("maintenance", Maintenance.integrity_check)
    reindex = _via("maintenance", Maintenance.reindex)
    backup = _via("maintenance", Maintenance.backup)

