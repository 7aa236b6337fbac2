"""Connection set-up, the write-transaction helper and :class:`LibraryDb`, the open
database every part of the library shares (the only SQL plumbing)."""

from __future__ import annotations

import contextlib
import functools
import json
import random
import sqlite3
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

import sqlite_utils

from reader_app.core.errors import AmbiguousId, BadInput, NotFound, ReaderError

BUSY_TIMEOUT_MS = 5000
# Further tries of BEGIN IMMEDIATE / COMMIT after SQLITE_BUSY: the busy timeout covers
# ordinary waits, but SQLite returns BUSY without waiting in some WAL cases (recovery,
# a snapshot made stale by another writer) and a burst of GUI + CLI writers can exceed it.
BUSY_RETRIES = 4


class LibraryBusy(ReaderError):
    """Another process holds the library's write lock for longer than the busy timeout."""


def connect(db_path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the library database with the team's pragmas.

    * autocommit at the driver level (``isolation_level=None``): we issue BEGIN/COMMIT
      ourselves, so nothing is committed behind our back;
    * WAL + ``synchronous=FULL``: a commit is fsynced before it returns, so a note
      reported saved survives SIGKILL (and power loss);
    * ``foreign_keys=ON`` for the cascades; ``busy_timeout`` for concurrent GUI + CLI.
    """
    try:
        conn = sqlite3.connect(str(db_path), timeout=BUSY_TIMEOUT_MS / 1000,
                               isolation_level=None, check_same_thread=False)
    except sqlite3.Error as e:
        raise BadInput(f"cannot open library database {db_path}: {e}") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. a read-only or network filesystem
            conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = FULL")
        db = sqlite_utils.Database(conn, execute_plugins=False)
    except sqlite3.DatabaseError as e:
        conn.close()
        raise BadInput(f"{db_path} is not a usable reader-app library ({e})") from None
    return db


@contextlib.contextmanager
def write(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """One write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error).

    Taking the write lock up front avoids the SQLITE_BUSY upgrade deadlock of deferred
    transactions under WAL.  Nested use joins the outer transaction.
    """
    conn = db.conn
    if conn.in_transaction:
        yield conn
        return
    _retry_busy(conn, "BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        try:
            _retry_busy(conn, "COMMIT")  # a busy COMMIT leaves the transaction open: try again
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _is_busy(e: sqlite3.OperationalError) -> bool:
    text = str(e).lower()
    return "locked" in text or "busy" in text


def _retry_busy(conn: sqlite3.Connection, sql: str) -> None:
    """Run ``sql``; on SQLITE_BUSY wait a little (jittered) and try again, BUSY_RETRIES times."""
    for attempt in range(BUSY_RETRIES + 1):
        try:
            conn.execute(sql)
            return
        except sqlite3.OperationalError as e:
            if not _is_busy(e):
                raise
            if attempt == BUSY_RETRIES:
                raise LibraryBusy("the library is busy (locked by another reader-app process); try again") from None
        time.sleep(random.uniform(0.05, 0.25) * (attempt + 1))


def _text(value: Any) -> str:
    """Text SQLite can store and FTS can index: no NUL, no lone surrogates."""
    s = str(value or "").replace("\x00", "")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "replace").decode("utf-8")
    return s


def now() -> str:
    """ISO 8601 UTC, millisecond precision (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps(value: Any) -> str:
    return _text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def loads(text: str | None, default: Any) -> Any:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


def locked(method):
    """Serialise calls of a library part's method on its ``LibraryDb``'s lock: one connection
    may be shared by a GUI worker thread and the GUI."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._db.lock:
            return method(self, *args, **kwargs)
    return wrapper


class LibraryDb:
    """The open library database, shared by every part of the library (papers, tags, notes, ...).

    Contract: a part reads with :meth:`rows` / :meth:`one`, writes inside ``with
    db.write():`` (one ``BEGIN IMMEDIATE`` ... ``COMMIT``; nested use joins the outer
    transaction, so a part can call another part's ``*_in_write`` method inside its own),
    and holds :attr:`lock` (re-entrant, via ``@locked``) for the whole of each public call.
    Papers are named everywhere by :meth:`resolve_id` (a unique prefix of the id) and pages
    checked by :meth:`check_page`.  After :meth:`close` every call raises BadInput.
    """

    def __init__(self, folder: Path, database: sqlite_utils.Database) -> None:
        self.folder = folder
        self.lock = threading.RLock()
        self._database: sqlite_utils.Database | None = database

    # ---------------------------------------------------------------- the connection
    @property
    def database(self) -> sqlite_utils.Database | None:
        """The sqlite_utils database, or None once closed."""
        return self._database

    def _open(self) -> sqlite_utils.Database:
        if self._database is None:
            raise BadInput("the library is closed")
        return self._database

    def close(self) -> None:
        with self.lock:
            if self._database is not None:
                self._database.close()
                self._database = None

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        cur = self._open().conn.execute(sql, tuple(params))
        keys = [d[0] for d in cur.description]
        return [dict(zip(keys, r)) for r in cur.fetchall()]

    def one(self, sql: str, params: Iterable[Any] = ()) -> dict | None:
        rows = self.rows(sql, params)
        return rows[0] if rows else None

    def execute(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        return self._open().conn.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Iterable[tuple]) -> int:
        """Run ``sql`` for each row; returns how many rows changed."""
        conn = self._open().conn
        before = conn.total_changes
        conn.executemany(sql, rows)
        return conn.total_changes - before

    def table(self, name: str) -> sqlite_utils.db.Table:
        return self._open()[name]

    def change_stamp(self) -> tuple[int, int]:
        """Changes a value read earlier may have missed: (``PRAGMA data_version``, which moves
        when another connection commits, this connection's own ``total_changes``)."""
        conn = self._open().conn
        return conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes

    def backup_to(self, dest: sqlite3.Connection) -> None:
        """SQLite online backup of the whole database into ``dest``."""
        self._open().conn.backup(dest)

    def write(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One write transaction (see :func:`write`)."""
        return write(self._open())

    # ---------------------------------------------------------------- papers and pages
    def resolve_id(self, prefix: str) -> str:
        """Full paper id for a unique prefix (like git short hashes)."""
        with self.lock:
            prefix = (prefix or "").strip()
            if not prefix:
                raise BadInput("empty paper id")
            if self.one("SELECT 1 FROM papers WHERE id = ?", [prefix]):
                return prefix
            esc = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = self.rows("SELECT id FROM papers WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT 6",
                             [esc + "%"])
            # LIKE is case-insensitive for ASCII; ids are lower-case hex, so accept "ABC" for "abc"
            if not rows:
                raise NotFound(f"no paper with id {prefix!r}")
            if len(rows) > 1:
                shown = ", ".join(r["id"][:12] for r in rows[:5])
                raise AmbiguousId(f"paper id {prefix!r} is ambiguous: matches {shown}"
                                  f"{', ...' if len(rows) > 5 else ''}; give more characters")
            return rows[0]["id"]

    def check_page(self, pid: str, page: int | None) -> int | None:
        """``page`` if it is a page of paper ``pid`` (None stays None); BadInput otherwise."""
        if page is None:
            return None
        if isinstance(page, bool) or not isinstance(page, int):
            raise BadInput(f"page must be a whole number, not {page!r}")
        if page < 1:
            raise BadInput(f"page must be 1 or more, not {page}")
        pages = self.one("SELECT pages FROM papers WHERE id = ?", [pid])["pages"]
        if pages and page > pages:
            raise BadInput(f"page {page} is past the end of the paper ({pages} pages)")
        return page
