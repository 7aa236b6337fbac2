"""Library: migrations, assistant storage (demos, Q&A, summaries), check, backup, concurrency."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from reader_app.core.errors import BadInput, NotFound
from reader_app.core.model import Answer, Citation, Timings
from reader_app.library import Library
from reader_app.library import schema

from test_library import make_paper

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def lib(tmp_path):
    with Library.open(tmp_path / "lib") as lib:
        yield lib


# ---------------------------------------------------------------- migrations

def test_v1_library_upgrades_without_losing_data(tmp_path):
    with Library.open(tmp_path / "l", migrate_to=1) as v1:
        assert v1.schema_version == 1
        pid, _ = v1.add_paper(make_paper("a" * 64, tags=["t"]))
        note = v1.add_note(pid, "keep me", page=2, quote="q")
        assert not v1.db["qa_history"].exists()
    with Library.open(tmp_path / "l") as lib:
        assert lib.schema_version == schema.CURRENT_VERSION == len(schema.MIGRATIONS)
        assert [n.text for n in lib.notes(pid)] == ["keep me"] and lib.get_note(note.id).quote == "q"
        assert lib.get_paper(pid).tags == ["t"] and lib.search("attention")
        lib.put_summary(pid, "m", "tldr", {"title": "TL;DR", "summary": "s", "citations": []})
        rows = lib.db.conn.execute("SELECT version, name FROM migrations ORDER BY version").fetchall()
        assert rows[:4] == [(1, "v1_core"), (2, "v2_assistant"), (3, "v3_qa_raw"), (4, "v4_qa_selection")]
        assert lib.integrity_check() == "ok"
    with Library.open(tmp_path / "l") as lib:  # idempotent
        n = schema.CURRENT_VERSION
        assert lib.schema_version == n and len(lib.db.conn.execute("SELECT * FROM migrations").fetchall()) == n


def test_failing_migration_rolls_back_completely(tmp_path, monkeypatch):
    Library.open(tmp_path / "l").close()

    before = schema.CURRENT_VERSION

    def v_broken(db):
        db.execute("CREATE TABLE half_done (x)")
        db.execute("INSERT INTO papers (id) VALUES (NULL)")  # NOT NULL violation

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS + [v_broken])
    monkeypatch.setattr(schema, "CURRENT_VERSION", before + 1)
    with pytest.raises(sqlite3.IntegrityError):
        Library.open(tmp_path / "l")
    con = sqlite3.connect(tmp_path / "l" / "library.sqlite3")
    assert con.execute("SELECT MAX(version) FROM migrations").fetchone()[0] == before
    assert not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'half_done'").fetchall()


def test_appended_migration_runs_once(tmp_path, monkeypatch):
    calls = []

    def v_extra(db):
        calls.append(1)
        db.execute("CREATE TABLE extra (x)")

    n = schema.CURRENT_VERSION + 1
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS + [v_extra])
    monkeypatch.setattr(schema, "CURRENT_VERSION", n)
    Library.open(tmp_path / "l").close()
    with Library.open(tmp_path / "l") as lib:
        assert lib.schema_version == n and lib.db["extra"].exists()
    assert calls == [1]


def test_newer_library_is_refused(tmp_path):
    Library.open(tmp_path / "l").close()
    con = sqlite3.connect(tmp_path / "l" / "library.sqlite3")
    con.execute("INSERT INTO migrations VALUES (99, 'future', 'x')")
    con.commit()
    con.close()
    with pytest.raises(BadInput, match="newer reader-app"):
        Library.open(tmp_path / "l")


# ---------------------------------------------------------------- assistant storage

def test_demonstrations_round_trip(lib):
    pid, _ = lib.add_paper(make_paper("a" * 64))
    assert lib.get_demonstrations(pid, "smollm2", "w0") is None
    demos = [{"question": "Q?", "evidence": [2], "answer": "A ünïcode"}, {"question": "Q2", "evidence": [], "answer": ""}]
    lib.put_demonstrations(pid, "smollm2", "w0", demos)
    assert lib.get_demonstrations(pid[:4], "smollm2", "w0") == demos
    assert lib.get_demonstrations(pid, "other-model", "w0") is None
    assert lib.get_demonstrations(pid, "smollm2", "w1") is None
    lib.put_demonstrations(pid, "smollm2", "w0", demos[:1])  # replace
    assert lib.get_demonstrations(pid, "smollm2", "w0") == demos[:1]
    lib.put_demonstrations(pid, "smollm2", "w1", [])
    assert lib.get_demonstrations(pid, "smollm2", "w1") == []
    with pytest.raises(NotFound):
        lib.put_demonstrations("ffff", "m", "w", demos)


def _answer(pid, q="What is it?", created=""):
    return Answer(paper_id=pid, question=q, answer="It is X.", answerable=True,
                  citations=[Citation(paragraph=3, page=2, section="Intro", text="X is it.",
                                      bbox=(1.0, 2.0, 3.0, 4.5), verified=True),
                             Citation(paragraph=9, page=4, section="", text="", bbox=(0, 0, 0, 0),
                                      verified=False)],
                  mode="doubledipper", model="SmolLM2-135M",
                  timings=Timings(prompt_tokens=900, cached_tokens=850, ttft_s=0.25, total_s=1.5,
                                  completion_tokens=12), created=created)


def test_qa_history_round_trip(lib):
    pid, _ = lib.add_paper(make_paper("a" * 64))
    a1 = _answer(pid, "First?")
    i1 = lib.add_qa(a1)
    a2 = _answer(pid, "Second?")
    a2.answerable, a2.citations = False, []
    i2 = lib.add_qa(a2)
    assert i2 > i1 > 0
    hist = lib.qa_history(pid)
    assert [h.question for h in hist] == ["First?", "Second?"]
    got = hist[0]
    assert got.citations == a1.citations and isinstance(got.citations[0].bbox, tuple)
    assert got.timings == a1.timings and got.mode == "doubledipper" and got.model == "SmolLM2-135M"
    assert got.created and got.answerable is True and hist[1].answerable is False
    assert got.to_dict()["citations"][0]["bbox"] == [1.0, 2.0, 3.0, 4.5]
    lib.remove_paper(pid)
    assert lib.db.conn.execute("SELECT COUNT(*) FROM qa_history").fetchone()[0] == 0


def test_summaries_round_trip_and_order(lib):
    pid, _ = lib.add_paper(make_paper("a" * 64))
    assert lib.get_summary(pid, "m", "tldr") is None
    cites = [{"paragraph": 12, "page": 4}]
    for key in ("s10", "s2", "tldr", "s1"):
        lib.put_summary(pid, "m", key, {"title": key.upper(), "summary": f"sum {key}", "citations": cites})
    assert lib.get_summary(pid, "m", "s2") == {"title": "S2", "summary": "sum s2", "citations": cites}
    assert [s["section_key"] for s in lib.summaries(pid)] == ["tldr", "s1", "s2", "s10"]
    assert all(s["model"] == "m" for s in lib.summaries(pid))
    lib.put_summary(pid, "m", "s2", {"title": "S2", "summary": "newer", "citations": []})
    assert lib.get_summary(pid, "m", "s2")["summary"] == "newer"
    assert len(lib.summaries(pid)) == 4
    lib.put_summary(pid, "other", "tldr", {"title": "TL;DR", "summary": "o", "citations": []})
    assert len(lib.summaries(pid)) == 5 and lib.get_summary(pid, "m", "tldr")["summary"] == "sum tldr"
    with pytest.raises(BadInput):
        lib.put_summary(pid, "m", "", {"summary": "x"})


# ---------------------------------------------------------------- check / backup

def test_integrity_check_reports_problems(lib, tmp_path):
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(b"%PDF-1.4 bytes")
    import hashlib
    pid, _ = lib.add_paper(make_paper(hashlib.sha256(pdf.read_bytes()).hexdigest()), pdf)
    assert lib.integrity_check() == "ok"
    (lib.files_dir / f"{pid}.pdf").unlink()
    report = lib.integrity_check()
    assert report != "ok" and "missing" in report and pid[:12] in report


def test_integrity_check_sees_a_stale_search_index(lib):
    lib.add_paper(make_paper("a" * 64))
    conn = lib.db.conn
    conn.execute("DROP TRIGGER paragraphs_au")
    conn.execute("UPDATE paragraphs SET text = 'completely different words' WHERE idx = 0")
    assert "search index" in lib.integrity_check()
    lib.reindex()
    assert lib.integrity_check() == "ok"


def test_backup_is_a_consistent_copy(lib, tmp_path):
    pid, _ = lib.add_paper(make_paper("a" * 64))
    lib.add_note(pid, "backed up", page=1)
    out = lib.backup(tmp_path / "b" / ".." / "backup.db")
    assert out == (tmp_path / "backup.db").resolve()
    con = sqlite3.connect(out)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT text FROM notes").fetchall() == [("backed up",)]
    con.close()
    # a backup opens as a library of its own
    restored = tmp_path / "restored"
    restored.mkdir()
    os.replace(out, restored / "library.sqlite3")
    with Library.open(restored) as r:
        assert [n.text for n in r.notes(pid)] == ["backed up"]
        assert r.search("attention")
    lib.backup(tmp_path / "again.db")
    lib.add_note(pid, "second")
    lib.backup(tmp_path / "again.db")  # replaces
    assert sqlite3.connect(tmp_path / "again.db").execute("SELECT COUNT(*) FROM notes").fetchone()[0] == 2
    with pytest.raises(BadInput):
        lib.backup(lib.db_path)
    with pytest.raises(BadInput):
        lib.backup(tmp_path)
    with pytest.raises(NotFound):
        lib.backup(tmp_path / "no" / "such" / "dir" / "x.db")


# ---------------------------------------------------------------- concurrency / crash safety

def test_two_connections_share_the_library(tmp_path):
    a = Library.open(tmp_path / "l")
    b = Library.open(tmp_path / "l")
    try:
        pid, _ = a.add_paper(make_paper("a" * 64))
        b.add_note(pid, "from b")
        a.add_note(pid, "from a")
        assert [n.text for n in a.notes(pid)] == ["from b", "from a"]
        # a reader in b does not block a writer in a (WAL)
        b.db.conn.execute("BEGIN")
        b.db.conn.execute("SELECT COUNT(*) FROM notes").fetchone()
        a.add_note(pid, "while b reads")
        b.db.conn.execute("COMMIT")
        assert len(b.notes(pid)) == 3
    finally:
        a.close()
        b.close()


_WRITER = textwrap.dedent("""
    import sys
    from reader_app.library import Library
    lib = Library.open(sys.argv[1])
    pid = lib.list_papers()[0].id
    i = 0
    while True:
        n = lib.add_note(pid, "note %d " % i + "x" * (i % 500), page=1 + i % 5)
        print(n.id, flush=True)  # reported saved
        i += 1
""")


def test_sigkill_mid_write_loses_no_reported_note(tmp_path):
    folder = tmp_path / "l"
    with Library.open(folder) as lib:
        pid, _ = lib.add_paper(make_paper("a" * 64))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    reported: list[int] = []
    for round_ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(folder)], stdout=subprocess.PIPE,
                                text=True, env=env)
        deadline = time.monotonic() + 30
        got = 0
        while got < 5 + 7 * round_ and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            reported.append(int(line))
            got += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    assert len(reported) >= 20
    with Library.open(folder) as lib:
        assert lib.integrity_check() == "ok"
        saved = {n.id for n in lib.notes(pid)}
    assert set(reported) <= saved


def test_writer_waits_for_a_short_lock_and_reports_a_long_one(tmp_path, monkeypatch):
    import threading

    from reader_app.library import db as dbmod
    from reader_app.library.db import LibraryBusy

    with Library.open(tmp_path / "l") as lib:
        pid, _ = lib.add_paper(make_paper("a" * 64))
    other = sqlite3.connect(tmp_path / "l" / "library.sqlite3", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(0.4, lambda: other.execute("COMMIT")).start()
    with Library.open(tmp_path / "l") as lib:  # opening needs no write lock once migrated
        t0 = time.monotonic()
        lib.add_note(pid, "waited")  # blocks until the other writer commits
        assert time.monotonic() - t0 >= 0.3
    monkeypatch.setattr(dbmod, "BUSY_TIMEOUT_MS", 200)
    with Library.open(tmp_path / "l") as lib:
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(LibraryBusy) as e:
                lib.add_note(pid, "too long")
            assert "\n" not in str(e.value) and "busy" in str(e.value)
        finally:
            other.execute("COMMIT")
        lib.add_note(pid, "after")
        assert [n.text for n in lib.notes(pid)] == ["waited", "after"]
    other.close()


def test_one_library_shared_by_threads(lib):
    import threading

    pid, _ = lib.add_paper(make_paper("a" * 64))
    errors = []

    def work(k):
        try:
            for i in range(25):
                lib.add_note(pid, f"t{k} n{i}", page=1 + i % 3)
                lib.search("attention")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(lib.notes(pid)) == 100
    assert lib.integrity_check() == "ok"


def test_v4_splits_old_selection_questions_and_keeps_new_ones_apart(tmp_path):
    """Questions about a selection used to carry the passage in the question text; v4 moves
    it to its own field, and new answers keep question, selection and draft apart."""
    from reader_app.core.model import Answer, Selection, Timings

    with Library.open(tmp_path / "l", migrate_to=3) as v3:
        pid, _ = v3.add_paper(make_paper("a" * 64))
        v3.db.execute("""INSERT INTO qa_history (paper_id, question, answer, answerable, created)
                         VALUES (?, ?, 'It means X.', 1, '2026-01-01')""",
                      [pid, 'What is this?\nPassage (p. 3): "attention is all"'])
        v3.db.execute("""INSERT INTO qa_history (paper_id, question, answer, answerable, created)
                         VALUES (?, 'Plain question?', 'Yes.', 1, '2026-01-02')""", [pid])
    with Library.open(tmp_path / "l") as lib:
        old, plain = lib.qa_history(pid)
        assert old.question == "What is this?" and old.selection == Selection("attention is all", 3)
        assert plain.question == "Plain question?" and plain.selection is None
        new = Answer(pid, "Why?", "not answered", False, [], "doubledipper", "m", Timings(),
                     selection=Selection("a passage", 0), draft="a guess")
        lib.add_qa(new)
        got = lib.qa_history(pid)[-1]
        assert (got.question, got.selection, got.draft) == ("Why?", Selection("a passage", 0), "a guess")
