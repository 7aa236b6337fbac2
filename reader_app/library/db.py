"""Connection set-up and the write-transaction helper (the only SQL plumbing)."""

from __future__ import annotations

import contextlib
import functools
import json
import random
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import sqlite_utils

from reader_app.core.errors import BadInput, ReaderError

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


def _locked(method):
    """Serialise calls: one connection may be shared by a GUI worker thread and the GUI."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    return wrapper
