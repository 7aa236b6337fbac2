"""The library against a real SQLite file: papers, ids, tags, search, notes, files."""

from __future__ import annotations

import hashlib
import os
import time
import sqlite3
from pathlib import Path

import pytest

from reader_app.core.errors import AmbiguousId, BadInput, NotFound, ReaderError
from reader_app.core.model import Paper, Paragraph, Section
from reader_app.library import Library, default_library_dir, schema


def make_paper(pid: str, title: str = "A paper", texts: list[str] | None = None, pages: int = 5,
               tags: list[str] | None = None) -> Paper:
    texts = texts or ["We study attention in transformers.", "Results improve on the benchmark."]
    sections = [Section(0, "Introduction", 1, 1), Section(1, "Results", 1, 2)]
    paras = [Paragraph(i, t, page=1 + i % pages, bbox=(10.0, 20.0 + i, 300.0, 40.0 + i),
                       section_index=i % 2, section=sections[i % 2].title)
             for i, t in enumerate(texts)]
    return Paper(id=pid, title=title, authors=["Ada Lovelace", "Alan Turing"], year=2024,
                 doi="10.1/x", arxiv_id="2401.00001", abstract="An abstract.", pages=pages,
                 sections=sections, paragraphs=paras, warnings=["hidden text on page 2"], tags=tags or [])


@pytest.fixture
def lib(tmp_path):
    with Library.open(tmp_path / "lib") as lib:
        yield lib


@pytest.fixture
def pdf(tmp_path) -> Path:
    p = tmp_path / "orig" / "paper.pdf"
    p.parent.mkdir()
    p.write_bytes(b"%PDF-1.4\n% not really a pdf but bytes are bytes\n%%EOF\n")
    return p


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- open / layout

def test_open_creates_folder_db_and_files(tmp_path):
    with Library.open(tmp_path / "new" / "lib") as lib:
        assert lib.path.is_dir() and lib.files_dir.is_dir() and lib.db_path.is_file()
        assert lib.schema_version == len(schema.MIGRATIONS)
    con = sqlite3.connect(tmp_path / "new" / "lib" / "library.sqlite3")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"papers", "sections", "paragraphs", "paragraphs_fts", "tags", "paper_tags", "notes",
            "demonstrations", "qa_history", "summaries", "migrations"} <= tables


def test_pragmas_on_connection(lib):
    conn = lib.db.conn
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_default_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("READER_APP_LIBRARY", str(tmp_path / "envlib"))
    assert default_library_dir() == tmp_path / "envlib"
    with Library.open() as lib:
        assert lib.path == (tmp_path / "envlib").resolve()
    monkeypatch.delenv("READER_APP_LIBRARY")
    assert "reader-app" in str(default_library_dir())


def test_open_on_a_file_or_garbage_db_is_a_clear_error(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(BadInput, match="is a file"):
        Library.open(f)
    d = tmp_path / "bad"
    d.mkdir()
    (d / "library.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(BadInput, match="not a usable"):
        Library.open(d)


# ---------------------------------------------------------------- papers

def test_add_copies_pdf_and_round_trips(lib, pdf):
    paper = make_paper(sha(pdf), tags=["nlp", "to-read"])
    pid, dup = lib.add_paper(paper, pdf)
    assert (pid, dup) == (sha(pdf), False)
    stored = lib.files_dir / f"{pid}.pdf"
    assert stored.read_bytes() == pdf.read_bytes()
    assert paper.file == str(stored) and paper.added
    pdf.unlink()  # moving the original breaks nothing
    got = lib.get_paper(pid)
    assert got.title == "A paper" and got.authors == ["Ada Lovelace", "Alan Turing"]
    assert (got.year, got.doi, got.arxiv_id, got.pages) == (2024, "10.1/x", "2401.00001", 5)
    assert got.warnings == ["hidden text on page 2"] and got.tags == ["nlp", "to-read"]
    assert got.file == str(stored) and Path(got.file).exists()
    assert got.original_path.endswith("paper.pdf")
    assert [s.title for s in got.sections] == ["Introduction", "Results"]
    assert [p.text for p in got.paragraphs] == [p.text for p in paper.paragraphs]
    assert got.paragraphs[1].bbox == (10.0, 21.0, 300.0, 41.0) and got.paragraphs[1].section == "Results"
    assert lib.paragraph_count(pid) == 2
    assert lib.get_paper(pid, with_paragraphs=False).paragraphs == []
    assert not list(lib.files_dir.glob("*.tmp")) and not list(lib.files_dir.glob(".incoming*"))


def test_duplicate_add_adds_nothing(lib, pdf):
    pid, _ = lib.add_paper(make_paper(sha(pdf), title="First"), pdf)
    again = make_paper(sha(pdf), title="Second", texts=["x", "y", "z"])
    assert lib.add_paper(again, pdf) == (pid, True)
    assert lib.get_paper(pid).title == "First" and lib.paragraph_count(pid) == 2
    assert len(lib.list_papers()) == 1 and len(list(lib.files_dir.iterdir())) == 1


def test_add_without_pdf_and_without_id(lib, pdf):
    pid, dup = lib.add_paper(make_paper("qasper:1234.5678"))
    assert not dup and lib.get_paper("qasper:1234").file == ""
    p = make_paper("")
    pid2, _ = lib.add_paper(p, pdf)
    assert pid2 == sha(pdf)
    with pytest.raises(BadInput):
        lib.add_paper(make_paper(""))


def test_a_pdf_that_changes_during_the_copy_is_refused_and_leaves_nothing(lib, pdf, monkeypatch):
    from reader_app.library import papers as papers_module

    real = papers_module.file_sha256

    def hash_then_change(path):  # another program rewrites the file between hashing and copying
        digest = real(path)
        Path(path).write_bytes(b"%PDF-1.4\n% rewritten meanwhile\n%%EOF\n")
        return digest

    monkeypatch.setattr(papers_module, "file_sha256", hash_then_change)
    with pytest.raises(BadInput, match="changed while it was being imported"):
        lib.add_paper(make_paper("a" * 64), pdf)
    assert list(lib.files_dir.iterdir()) == []  # no copy under a name its bytes do not have, no temporary
    assert lib.list_papers() == []


def test_stale_incoming_copies_are_swept(tmp_path):
    Library.open(tmp_path / "l").close()
    old = tmp_path / "l" / "files" / ".incoming-1-2.tmp"
    fresh = tmp_path / "l" / "files" / ".incoming-3-4.tmp"
    named = tmp_path / "l" / "files" / f".{'b' * 64}.pdf.0123abcd.tmp"  # core.files' temporary names
    old.write_bytes(b"half")
    fresh.write_bytes(b"in progress")
    named.write_bytes(b"half")
    for stale in (old, named):
        os.utime(stale, (time.time() - 7200, time.time() - 7200))
    Library.open(tmp_path / "l").close()
    assert not old.exists() and not named.exists() and fresh.exists()


def test_failed_add_leaves_nothing(lib, pdf):
    bad = make_paper(sha(pdf))
    bad.paragraphs.append(Paragraph(0, "duplicate index violates UNIQUE", 1))
    with pytest.raises(sqlite3.IntegrityError):
        lib.add_paper(bad, pdf)
    assert lib.list_papers() == [] and list(lib.files_dir.iterdir()) == []
    assert lib.db.conn.execute("SELECT COUNT(*) FROM sections").fetchone()[0] == 0
    assert lib.integrity_check() == "ok"


def test_list_newest_first_and_update(lib):
    for i in range(3):
        lib.add_paper(make_paper(f"{i:064x}", title=f"T{i}"))
    assert [p.title for p in lib.list_papers()] == ["T2", "T1", "T0"]
    assert all(p.paragraphs == [] for p in lib.list_papers())
    lib.add_tags(f"{0:064x}", ["b", "a"])
    listed = {p.title: p for p in lib.list_papers()}
    assert listed["T0"].tags == ["a", "b"] and listed["T1"].tags == []
    assert [s.title for s in listed["T2"].sections] == ["Introduction", "Results"]
    assert [p.tags for p in lib.list_papers(tag="a")] == [["a", "b"]]
    p = lib.update_paper(f"{1:064x}", title="New title", authors=["X"], year=1999)
    assert (p.title, p.authors, p.year) == ("New title", ["X"], 1999)
    assert lib.get_paper(f"{1:064x}").title == "New title"
    with pytest.raises(BadInput):
        lib.update_paper(f"{1:064x}", title="   ")


def test_id_prefixes(lib):
    a, b, c = "abc1" + "0" * 60, "abc2" + "0" * 60, "ffff" + "1" * 60
    for pid in (a, b, c):
        lib.add_paper(make_paper(pid))
    assert lib.resolve_id("abc1") == a and lib.resolve_id("f") == c and lib.resolve_id(a) == a
    assert lib.resolve_id("ABC2") == b  # hex is case-insensitive
    with pytest.raises(AmbiguousId) as e:
        lib.resolve_id("abc")
    assert "\n" not in str(e.value) and "abc1" in str(e.value)
    with pytest.raises(NotFound):
        lib.resolve_id("0123")
    for evil in ("%", "_", "a%", "\\"):
        with pytest.raises(NotFound):
            lib.resolve_id(evil)
    with pytest.raises(BadInput):
        lib.resolve_id("  ")
    with pytest.raises(NotFound):
        lib.get_paper("9999")


def test_remove_cascades_and_deletes_file(lib, pdf):
    pid, _ = lib.add_paper(make_paper(sha(pdf), tags=["gone"]), pdf)
    other, _ = lib.add_paper(make_paper("e" * 64, tags=["kept"]))
    lib.add_note(pid, "a note", page=1)
    stored = lib.files_dir / f"{pid}.pdf"
    assert stored.exists()
    lib.remove_paper(pid[:8])
    assert not stored.exists()
    con = lib.db.conn
    for table in ("sections", "paragraphs", "paper_tags", "notes"):
        assert con.execute(f"SELECT COUNT(*) FROM {table} WHERE paper_id = ?", [pid]).fetchone()[0] == 0
    assert lib.search("attention", paper_id=other)  # the other paper still searchable
    assert {h.paper_id for h in lib.search("attention")} == {other}
    assert lib.all_tags() == [("kept", 1)]
    assert lib.integrity_check() == "ok"
    with pytest.raises(NotFound):
        lib.get_paper(pid)


# ---------------------------------------------------------------- tags

def test_tags(lib):
    a, b = "a" * 64, "b" * 64
    lib.add_paper(make_paper(a, title="A"))
    lib.add_paper(make_paper(b, title="B"))
    assert lib.add_tags(a, ["ml", "Reading List", "ml"]) == ["ml", "Reading List"]
    lib.add_tags(b, ["ML"])  # same tag, case-insensitively
    assert lib.all_tags() == [("ml", 2), ("Reading List", 1)]
    assert [p.title for p in lib.list_papers(tag="ml")] == ["B", "A"]
    assert [p.title for p in lib.list_papers(tag="reading list")] == ["A"]
    assert lib.list_papers(tag="nope") == []
    assert lib.remove_tags(a, ["ml", "not-there"]) == ["Reading List"]
    assert [p.title for p in lib.list_papers(tag="ml")] == ["B"]
    lib.remove_tags(a, ["reading list"])
    assert lib.all_tags() == [("ml", 1)]
    with pytest.raises(BadInput):
        lib.add_tags(a, [" "])


# ---------------------------------------------------------------- search

def test_search_ranks_by_bm25_and_marks_matches(lib):
    lib.add_paper(make_paper("a" * 64, title="Dense", texts=[
        "Attention attention attention: attention is what the attention layer computes.",
        "Nothing relevant here at all."]))
    lib.add_paper(make_paper("b" * 64, title="Sparse", texts=[
        "A long paragraph about many things, one of which is attention, among convolution, "
        "recurrence, pooling, normalisation, dropout, regularisation and optimisation."]))
    hits = lib.search("attention")
    assert [h.title for h in hits] == ["Dense", "Sparse"]
    assert hits[0].score > hits[1].score
    assert "**attention**" in hits[0].snippet.lower() or "**Attention**" in hits[0].snippet
    assert hits[0].paragraph == 0 and hits[0].page == 1 and hits[0].section == "Introduction"
    assert lib.search("attention", limit=1)[0].title == "Dense"
    assert [h.title for h in lib.search("attention", paper_id="b")] == ["Sparse"]
    assert lib.search("attentions")  # porter stemming
    assert lib.search("convolution recurrence")[0].title == "Sparse"  # AND of words
    assert lib.search("convolution banana") == []
    assert {h.title for h in lib.search("convolution OR relevant")} == {"Dense", "Sparse"}
    assert [h.title for h in lib.search("attention -dropout")] == ["Dense"]
    assert lib.search('"attention layer computes"')[0].title == "Dense"
    assert lib.search('"layer attention computes"') == []
    assert lib.search("regularis*")[0].title == "Sparse"


def test_search_section_titles_and_tag_filter(lib):
    lib.add_paper(make_paper("a" * 64, title="One", tags=["x"]))
    lib.add_paper(make_paper("b" * 64, title="Two"))
    assert {h.title for h in lib.search("results")} == {"One", "Two"}  # matches section title
    assert [h.title for h in lib.search("results", tag="x")] == ["One"]
    assert lib.search("results", tag="nope") == []


NASTY = ['"', '""', "'", "-", "--", ":", "*", "**", "AND", "OR", "NOT", "NEAR", "a AND", "OR b",
         "(", ")", "((a)", "NEAR(a b, 2)", "title:attention", "^start", "col:*", "a*b", "a\"b\"c",
         "😀 emoji", "中文检索", "naïve café", "\x00", "\n\t", "", "   ", "x" * 5000, "- - -",
         "attention -", '"unterminated', "a OR OR b", "-only", "{a b}", "a + b", "[1]", "¶12",
         "SELECT * FROM papers; --", "'); DROP TABLE papers; --", "\\", "%_%"]


@pytest.mark.parametrize("q", NASTY)
def test_nasty_queries_never_raise(lib, q):
    lib.add_paper(make_paper("a" * 64))
    hits = lib.search(q)
    assert isinstance(hits, list)
    assert isinstance(lib.rank_paragraphs("a" * 64, q), list)
    assert lib.list_papers()  # nothing dropped


def test_search_unicode(lib):
    lib.add_paper(make_paper("a" * 64, texts=["Naïve café results in 中文 text.", "Other."]))
    assert lib.search("naive cafe")  # diacritics folded
    assert lib.search("中文")
    assert lib.search("state-of-the-art") == []


def test_rank_paragraphs_for_routing(lib):
    texts = ["The dataset has 10k dialogues collected from crowd workers.",
             "We train a transformer encoder with a learning rate of 3e-4.",
             "The dataset and the dataset statistics are in Table 2; dataset splits follow prior work."]
    pid, _ = lib.add_paper(make_paper("a" * 64, texts=texts))
    lib.add_paper(make_paper("b" * 64, texts=["dataset dataset dataset"]))
    ranked = lib.rank_paragraphs(pid[:6], "How big is the dataset?")
    assert [i for i, _ in ranked] == [2, 0]  # only this paper, best first
    assert ranked[0][1] > ranked[1][1] > 0
    assert lib.rank_paragraphs(pid, "What learning rate do they use for the dataset?", limit=1)[0][0] in (1, 2)
    assert {i for i, _ in lib.rank_paragraphs(pid, "learning rate dialogues")} == {0, 1}
    assert lib.rank_paragraphs(pid, "???") == []


# ---------------------------------------------------------------- notes

def test_notes_crud_and_order(lib):
    pid, _ = lib.add_paper(make_paper("a" * 64, pages=10))
    n3 = lib.add_note(pid, "on page three", page=3, quote="quoted\ntext")
    n1 = lib.add_note(pid[:5], "on page one", page=1)
    g = lib.add_note(pid, "general thought")
    n3b = lib.add_note(pid, "later on page three", page=3)
    assert [n.id for n in lib.notes(pid)] == [g.id, n1.id, n3.id, n3b.id]
    assert n3.quote == "quoted\ntext" and n3.page == 3 and n3.created and n3.paper_id == pid
    assert lib.get_note(n3.id) == n3
    up = lib.update_note(n1.id, text="**edited**", page=7)
    assert (up.text, up.page, up.quote) == ("**edited**", 7, None) and up.updated >= up.created
    assert [n.id for n in lib.notes(pid)] == [g.id, n3.id, n3b.id, n1.id]
    assert lib.update_note(n3.id, quote="").quote is None
    assert lib.update_note(n3.id, page=0).page is None
    lib.delete_note(n3b.id)
    assert n3b.id not in [n.id for n in lib.notes(pid)]
    with pytest.raises(NotFound):
        lib.get_note(n3b.id)
    with pytest.raises(NotFound):
        lib.delete_note(n3b.id)
    with pytest.raises(NotFound):
        lib.update_note(99999, text="x")


@pytest.mark.parametrize("kwargs", [dict(text=""), dict(text="  \n "), dict(text="ok", page=0),
                                    dict(text="ok", page=-1), dict(text="ok", page=11),
                                    dict(text="ok", page="3")])
def test_bad_notes_are_refused(lib, kwargs):
    pid, _ = lib.add_paper(make_paper("a" * 64, pages=10))
    with pytest.raises(BadInput) as e:
        lib.add_note(pid, **kwargs)
    assert "\n" not in str(e.value)
    assert lib.notes(pid) == []


def test_note_for_missing_paper(lib):
    with pytest.raises(NotFound):
        lib.add_note("abc", "text")


def test_note_survives_reopen_and_other_connection(tmp_path):
    with Library.open(tmp_path / "l") as lib:
        pid, _ = lib.add_paper(make_paper("a" * 64))
        n = lib.add_note(pid, "saved", page=2)
        # another process/connection sees it at once: it is committed
        other = sqlite3.connect(lib.db_path)
        assert other.execute("SELECT text FROM notes WHERE id = ?", [n.id]).fetchone()[0] == "saved"
        other.close()
    with Library.open(tmp_path / "l") as lib:
        assert [x.text for x in lib.notes(pid)] == ["saved"]


def test_errors_are_one_line_reader_errors(lib):
    for call in (lambda: lib.resolve_id(""), lambda: lib.get_paper("zz"),
                 lambda: lib.add_note("zz", "t"), lambda: lib.get_note(5)):
        with pytest.raises(ReaderError) as e:
            call()
        assert "\n" not in str(e.value) and str(e.value)


def test_odd_text_is_stored_safely(lib):
    p = make_paper("a" * 64, title="Nul\x00 title \ud800", texts=["bad \ud83d surrogate and nul\x00 here", "ok"])
    pid, _ = lib.add_paper(p)
    got = lib.get_paper(pid)
    assert "\x00" not in got.title and got.title.startswith("Nul title")
    assert got.paragraphs[0].text.startswith("bad ") and "\x00" not in got.paragraphs[0].text
    assert lib.search("surrogate") and lib.integrity_check() == "ok"


def test_note_with_odd_characters(lib):
    pid, _ = lib.add_paper(make_paper("a" * 64))
    n = lib.add_note(pid, "nul\x00 and \udc80 surrogate ✓ 😀", quote="q\x00uote")
    assert lib.get_note(n.id).text.startswith("nul and ") and "😀" in n.text and n.quote == "quote"


# ---------------------------------------------------------------- composition

def test_library_is_a_thin_facade_over_parts_sharing_one_database(lib, pdf):
    from reader_app.library.highlights import Highlights
    from reader_app.library.maintenance import Maintenance
    from reader_app.library.notes import Notes
    from reader_app.library.papers import Papers
    from reader_app.library.ranking import Ranking
    from reader_app.library.search import Search
    from reader_app.library.store import AssistantStore
    from reader_app.library.tags import Tags
    from reader_app.library.vectors import Vectors

    parts = {"paper_store": Papers, "tag_store": Tags, "note_store": Notes, "highlight_store": Highlights,
             "assistant_store": AssistantStore, "search_index": Search, "ranker": Ranking,
             "maintenance": Maintenance, "vector_store": Vectors}
    for attr, cls in parts.items():
        assert type(getattr(lib, attr)) is cls, attr
    # each Library method of a part's name calls that part (same signature and docstring)
    delegated = {name for name, f in vars(Library).items() if callable(f) and hasattr(f, "__wrapped__")}
    assert {"add_paper", "add_note", "add_highlight", "add_qa", "search", "rank_paragraphs", "backup",
            "add_tags"} <= delegated
    for name in delegated:
        wrapped = vars(Library)[name].__wrapped__
        owner = [cls for cls in parts.values() if getattr(cls, wrapped.__name__, None) is wrapped]
        assert len(owner) == 1, name
    # the parts share one connection: what one part writes, the others and the facade see
    pid, _ = lib.paper_store.add_paper(make_paper("a" * 64, tags=["nlp"]), pdf)
    note = lib.note_store.add_note(pid[:8], "a note on page 2", page=2)
    assert lib.notes(pid) == [note]
    assert lib.tag_store.add_tags(pid, ["Attention"]) == ["Attention", "nlp"]
    assert lib.get_paper(pid).tags == ["Attention", "nlp"]
    assert [h.paper_id for h in lib.search_index.search("attention")] == [pid]
    assert lib.ranker.rank_paragraphs(pid, "attention") == lib.rank_paragraphs(pid, "attention")
    with pytest.raises(BadInput, match="past the end"):  # every part checks pages the same way
        lib.highlight_store.add_highlight(pid, 99, [(1, 2, 3, 4)])
    lib.close()
    assert lib.db is None
    for call in (lambda: lib.note_store.notes(pid), lambda: lib.paper_store.list_papers(),
                 lambda: lib.search_index.search("attention")):
        with pytest.raises(BadInput, match="closed"):
            call()
