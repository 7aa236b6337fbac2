"""Atomic file writes: a reader sees the old file or the whole new one, never a part.

The bytes go to a temporary file in the target's folder (same file system, so the final
rename is atomic), which is fsynced, renamed over the target with ``os.replace`` and the
folder fsynced (where the OS allows: not on Windows), so a crash right after the call
returns cannot bring the old file back or leave an empty one.  On any failure, including
an exception from the data being written, the temporary file is removed and the target
is left as it was.  A symbolic link at the target is replaced by the file, never
followed: nothing is written where the link points.  Standard library only.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def atomic_write(path: str | os.PathLike, data: bytes | str | Iterable[bytes], *, encoding: str = "utf-8",
                 mode: int = 0o666, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically.

    ``data``: bytes, a str (encoded with ``encoding``; newlines written as they are, never
    translated), or an iterable of bytes chunks (for large data; an exception while
    iterating leaves ``path`` untouched).  ``mode``: permission bits of the new file
    (before the umask), as for ``os.open``; ``0o600`` keeps it private.  ``sync=False``
    skips both fsyncs, for caches whose files are checked when read.  Raises OSError.
    """
    if isinstance(data, str):
        data = data.encode(encoding)
    with atomic_writer(path, mode=mode, sync=sync) as fh:
        if isinstance(data, (bytes, bytearray, memoryview)):
            fh.write(data)
        else:
            for chunk in data:
                fh.write(chunk)


@contextmanager
def atomic_writer(path: str | os.PathLike, *, mode: int = 0o666, sync: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into; it replaces ``path`` when the
    ``with`` block ends without an exception, and is removed when it raises.

    ``fh.name`` is the temporary file's path, for writers that need a path of their own
    (an SQLite backup): what they write there before the block ends is what lands.
    """
    target = Path(path)
    fh = _create_temp(target, mode)
    tmp = Path(fh.name)
    try:
        with fh:
            yield fh
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        os.replace(tmp, target)  # a link at the target is replaced, never followed
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise
    if sync:
        sync_folder(target.parent)


def move_into_place(src: str | os.PathLike, dest: str | os.PathLike, *, sync: bool = True) -> None:
    """Rename a finished file ``src`` over ``dest`` (same folder or file system) durably:
    fsync its content, ``os.replace``, fsync the folder.  For files written over time
    under a name of their own (a resumable download's ``.part``)."""
    if sync:
        fd = os.open(src, os.O_RDWR | _NOFOLLOW | getattr(os, "O_BINARY", 0))  # Windows cannot fsync read-only
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    os.replace(src, dest)
    if sync:
        sync_folder(Path(dest).parent)


def sync_folder(folder: str | os.PathLike) -> None:
    """fsync a folder so that renames in it survive a crash; a no-op where the OS cannot
    open folders (Windows) or the file system refuses."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_temp(target: Path, mode: int) -> BinaryIO:
    """A new, empty file beside ``target``, opened for writing; never an existing file or a link."""
    def opener(p: str, flags: int) -> int:
        return os.open(p, flags | _NOFOLLOW, mode)

    stem = target.name[:200]  # room for the suffix within the usual 255-byte name limit
    for _ in range(100):
        tmp = target.with_name(f".{stem}.{secrets.token_hex(4)}.tmp")
        try:
            return open(tmp, "xb", opener=opener)  # noqa: SIM115 - closed by atomic_writer
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {target}")


def remove_stale_temporaries(folder: str | os.PathLike, max_age_s: float = 3600) -> list[Path]:
    """Remove the temporary files a killed writer left in ``folder`` (``.NAME.*.tmp``, old
    enough not to be a write in progress). Returns those removed."""
    removed = []
    cutoff = time.time() - max_age_s
    try:
        candidates = list(Path(folder).glob(".*.tmp"))
    except OSError:
        return removed
    for tmp in candidates:
        try:
            if tmp.is_file() and not tmp.is_symlink() and tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            pass
    return removed
