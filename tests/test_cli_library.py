"""The CLI contract of issue A, exercised as a user would: real PDFs, real SQLite file, subprocesses."""

from __future__ import annotations

import re

import pytest

from conftest import PAPERS, add_shared_papers, run_cli

pytestmark = pytest.mark.skipif(not PAPERS.exists(), reason="shared papers not present")


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    """A library holding all shared papers, imported once (tagged 'shared')."""
    path = tmp_path_factory.mktemp("cli") / "library"
    return path, add_shared_papers(path)


def cli(lib, *args, **kw):
    return run_cli(*args, library=lib[0], **kw)


def test_add_reports_every_file(lib):
    _, added = lib
    files = sorted(PAPERS.glob("*.pdf"))
    assert [a["file"] for a in added] == [str(f) for f in files]
    for a in added:
        assert set(a) == {"file", "id", "title", "pages", "sections", "duplicate"}
        assert re.fullmatch(r"[0-9a-f]{64}", a["id"])
        assert a["pages"] > 0 and a["sections"] > 0 and a["duplicate"] is False
        assert a["title"]


def test_adding_the_same_file_again_is_a_duplicate(lib, tmp_path):
    _, added = lib
    src = PAPERS / "1903.10676.pdf"
    copy = tmp_path / "moved.pdf"
    copy.write_bytes(src.read_bytes())
    r = cli(lib, "add", copy, "--json")
    assert r.code == 0, r
    [obj] = r.json()
    first = next(a for a in added if a["file"].endswith("1903.10676.pdf"))
    assert obj["duplicate"] is True and obj["id"] == first["id"]
    assert len(cli(lib, "list", "--json").json()) == len(added)


def test_library_keeps_its_own_copy(lib, tmp_path):
    path = tmp_path / "lib2"
    src = tmp_path / "paper.pdf"
    src.write_bytes((PAPERS / "2302.07302v1.pdf").read_bytes())
    r = run_cli("add", src, "--json", library=path)
    pid = r.json()[0]["id"]
    src.unlink()  # moving or deleting the original breaks nothing
    shown = run_cli("show", pid[:10], "--json", library=path).json()
    assert shown["file"] and shown["file"] != str(src)
    with open(shown["file"], "rb") as fh:
        assert fh.read(5) == b"%PDF-"


def test_list_and_tag_filter(lib):
    rows = cli(lib, "list", "--json").json()
    assert len(rows) == 7
    for row in rows:
        assert set(row) >= {"id", "title", "authors", "year", "tags", "pages"}
        assert "shared" in row["tags"]
    assert cli(lib, "list", "--tag", "nope", "--json").json() == []
    human = cli(lib, "list")
    assert human.code == 0 and "TITLE" in human.out


def test_show_by_unique_prefix(lib):
    _, added = lib
    pid = max(added, key=lambda a: a["pages"])["id"]
    r = cli(lib, "show", pid[:8], "--json")
    assert r.code == 0, r
    d = r.json()
    for key in ("id", "title", "authors", "year", "doi", "arxiv_id", "pages", "tags", "sections", "paragraphs", "warnings"):
        assert key in d
    assert d["id"] == pid
    assert d["paragraphs"] > 10
    assert all({"title", "level", "page"} <= set(s) for s in d["sections"])
    assert any("introduction" in s["title"].lower() for s in d["sections"])


def test_unknown_and_ambiguous_ids_are_bad_input(lib):
    r = cli(lib, "show", "zzzz")
    assert r.code == 2 and r.err.startswith("reader-app: error:") and r.err.count("\n") == 1
    r = cli(lib, "show", "")
    assert r.code == 2 and "Traceback" not in r.err


def test_search_ranks_and_filters(lib):
    r = cli(lib, "search", "citation graph", "--json")
    assert r.code == 0, r
    hits = r.json()
    assert hits, "expected hits"
    for h in hits:
        assert set(h) >= {"paper_id", "title", "page", "section", "snippet"}
        assert h["page"] >= 1
    assert cli(lib, "search", "citation graph", "--tag", "nope", "--json").json() == []
    # operators and quotes typed by a user never crash the search
    for q in ['"unbalanced', "a AND (b", "NEAR(x y)", "-x", "col:umn", "***"]:
        r = cli(lib, "search", q, "--json")
        assert r.code in (0, 2) and "Traceback" not in r.err, (q, r)


def test_tag_untag(lib):
    _, added = lib
    pid = added[1]["id"]
    r = cli(lib, "tag", pid[:10], "to-read", "ml", "--json")
    assert r.code == 0, r
    assert {"to-read", "ml"} <= set(r.json()["tags"])
    assert [p["id"] for p in cli(lib, "list", "--tag", "to-read", "--json").json()] == [pid]
    r = cli(lib, "untag", pid[:10], "to-read", "--json")
    assert "to-read" not in r.json()["tags"]


def test_notes_in_page_order(lib):
    _, added = lib
    pid = added[2]["id"]
    r = cli(lib, "note", pid[:10], "Second thought", "--page", "3", "--quote", "a quoted line")
    assert r.code == 0, r
    assert r.out.strip().isdigit()
    r1 = cli(lib, "note", pid[:10], "First thought", "--page", "1", "--json")
    assert r1.code == 0 and isinstance(r1.json()["id"], int)
    notes = cli(lib, "notes", pid[:10], "--json").json()
    assert [n["text"] for n in notes] == ["First thought", "Second thought"]
    assert notes[1]["quote"] == "a quoted line" and notes[1]["page"] == 3
    assert all(set(n) >= {"id", "page", "quote", "text", "created"} for n in notes)
    assert cli(lib, "note", pid[:10], "   ").code == 2
    assert cli(lib, "note", pid[:10], "x", "--page", "9999").code == 2


def test_export_markdown(lib, tmp_path):
    _, added = lib
    pid = added[3]["id"]
    assert cli(lib, "note", pid[:10], "Remember **this**", "--page", "2", "--quote", "the key claim").code == 0
    out = tmp_path / "out"
    r = cli(lib, "export", pid[:10], "--out", out, "--json")
    assert r.code == 0, r
    [f, bib] = r.json()["files"]  # the paper's Markdown and references.bib
    assert bib.endswith("references.bib")
    text = open(f, encoding="utf-8").read()
    assert text.startswith("---\n") and "\ntitle:" in text
    assert "p. 2" in text and "> the key claim" in text and "Remember **this**" in text
    # nothing overwritten without --force
    r = cli(lib, "export", pid[:10], "--out", out)
    assert r.code == 2 and "Traceback" not in r.err
    assert cli(lib, "export", pid[:10], "--out", out, "--force").code == 0
    # --tag and --all write an index
    r = cli(lib, "export", "--tag", "shared", "--out", tmp_path / "bytag", "--json")
    assert r.code == 0, r
    files = r.json()["files"]
    assert any(f.endswith("index.md") for f in files) and len(files) == 9  # 7 papers, references.bib, index.md
    assert cli(lib, "export", "--all", "--out", tmp_path / "all").code == 0
    assert (tmp_path / "all" / "index.md").exists()
    assert cli(lib, "export", "--out", tmp_path / "none").code == 2


def test_remove(lib, tmp_path):
    path = tmp_path / "lib3"
    r = run_cli("add", PAPERS / "2304.02623v1.pdf", "--json", library=path)
    pid = r.json()[0]["id"]
    stored = run_cli("show", pid, "--json", library=path).json()["file"]
    assert run_cli("remove", pid[:6], library=path).code == 0
    assert run_cli("list", "--json", library=path).json() == []
    import os

    assert not os.path.exists(stored)


def test_version_and_errors(tmp_path):
    r = run_cli("--version")
    assert r.code == 0 and re.search(r"\d+\.\d+\.\d+", r.out)
    r = run_cli("add", tmp_path / "missing.pdf", library=tmp_path / "l")
    assert r.code == 2 and r.err.count("\n") == 1 and "missing.pdf" in r.err
    r = run_cli("frobnicate", library=tmp_path / "l")
    assert r.code == 2 and "Traceback" not in r.err


def test_backup_and_check(lib, tmp_path):
    out = tmp_path / "backup.db"
    r = cli(lib, "backup", out, "--json")
    assert r.code == 0, r and out.exists()
    r = cli(lib, "check", "--json")
    assert r.code == 0 and r.json()["integrity"] == "ok"
    # the backup is itself a usable library
    import shutil

    copy = tmp_path / "restored"
    copy.mkdir()
    shutil.copy(out, copy / "library.sqlite3")
    assert len(run_cli("list", "--json", library=copy).json()) == 7
