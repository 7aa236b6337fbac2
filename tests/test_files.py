"""reader_app.core.files: one atomic write for every file the app replaces."""

import os
import sqlite3
import sys

import pytest

from reader_app.core.files import atomic_write, atomic_writer, move_into_place


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_writes_bytes_str_and_chunks(tmp_path):
    target = tmp_path / "out.bin"
    atomic_write(target, b"\x00\x01bytes")
    assert target.read_bytes() == b"\x00\x01bytes"
    atomic_write(target, "naïve\nline\n")  # replaces; str is UTF-8, newlines untranslated
    assert target.read_bytes() == "naïve\nline\n".encode()
    atomic_write(target, (bytes([i]) * 1000 for i in range(5)))
    assert target.read_bytes() == b"".join(bytes([i]) * 1000 for i in range(5))
    assert _leftovers(tmp_path) == []


def test_failure_mid_write_keeps_the_original_and_removes_the_temp_file(tmp_path):
    target = tmp_path / "settings.json"
    target.write_text("original")

    def chunks():
        yield b"half of the new"
        raise RuntimeError("disk vanished")

    with pytest.raises(RuntimeError, match="disk vanished"):
        atomic_write(target, chunks())
    assert target.read_text() == "original"
    assert _leftovers(tmp_path) == []

    with pytest.raises(KeyboardInterrupt):
        with atomic_writer(target) as fh:
            fh.write(b"partial")
            raise KeyboardInterrupt
    assert target.read_text() == "original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.json"]


def test_a_new_file_is_not_created_when_writing_fails(tmp_path):
    target = tmp_path / "new.md"
    with pytest.raises(ValueError):
        with atomic_writer(target) as fh:
            fh.write(b"x")
            raise ValueError
    assert list(tmp_path.iterdir()) == []


def test_unwritable_target_raises_oserror_and_leaves_nothing(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(OSError):
        atomic_write(tmp_path / "folder", b"x")  # a folder is never replaced by a file
    assert (tmp_path / "folder").is_dir()
    assert _leftovers(tmp_path) == []
    with pytest.raises(OSError):
        atomic_write(tmp_path / "missing" / "x.txt", b"x")


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_a_link_at_the_target_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    link = out / "notes.md"
    link.symlink_to(outside)
    atomic_write(link, "exported")
    assert not link.is_symlink()
    assert link.read_text() == "exported"
    assert outside.read_text() == "keep me"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_mode_is_applied(tmp_path):
    atomic_write(tmp_path / "private.json", "{}", mode=0o600)
    assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "shared.md", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "shared.md").stat().st_mode & 0o777 == 0o644


def test_writer_name_is_a_path_another_writer_can_use(tmp_path):
    src = sqlite3.connect(":memory:")
    src.execute("CREATE TABLE t (x)")
    src.execute("INSERT INTO t VALUES (42)")
    src.commit()
    target = tmp_path / "backup.db"
    with atomic_writer(target) as fh:
        dest = sqlite3.connect(fh.name)
        src.backup(dest)
        dest.close()
        assert not target.exists()  # nothing lands before the block ends
    assert sqlite3.connect(target).execute("SELECT x FROM t").fetchone() == (42,)
    assert _leftovers(tmp_path) == []


def test_move_into_place_replaces_the_target(tmp_path):
    part = tmp_path / "model.gguf.part"
    part.write_bytes(b"GGUF done")
    dest = tmp_path / "model.gguf"
    dest.write_bytes(b"old")
    move_into_place(part, dest)
    assert dest.read_bytes() == b"GGUF done"
    assert not part.exists()
