"""import-zotero against real Zotero databases built from Zotero's own schema files, with
real PDFs and annotation rects computed with PyMuPDF on the page."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pymupdf
import pytest

from conftest import run_cli
from zotero_builder import ZoteroBuilder, pdf_rects

from reader_app.core.errors import BadInput, Cancelled
from reader_app.importers.zotero import import_zotero
from reader_app.library import Library
from reader_app.pdf.annotations import read_annotations_file

ACL = "2020.acl-main.447.pdf"
EACL = "2023.eacl-main.121.pdf"
ARXIV = "2304.02623v1.pdf"


def _words(pdf, page_index: int, n: int = 3, skip: int = 40) -> str:
    """``n`` consecutive words from the middle of a page's first lines (found on one line)."""
    doc = pymupdf.open(str(pdf))
    words = doc[page_index].get_text("words", sort=True)
    doc.close()
    for i in range(skip, len(words) - n):
        chunk = words[i:i + n]
        if len({(w[5], w[6]) for w in chunk}) == 1 and all(w[4].isalpha() and len(w[4]) > 2 for w in chunk):
            return " ".join(w[4] for w in chunk)
    raise AssertionError("no words")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """Zotero's prefs (a profile with a base directory for relative linked files)."""
    h = tmp_path / "home"
    prof = h / ".zotero" / "zotero" / "abcd.default"
    prof.mkdir(parents=True)
    base = tmp_path / "papers-base"
    base.mkdir()
    (prof / "prefs.js").write_text(f'user_pref("extensions.zotero.baseAttachmentPath", "{base}");\n'
                                   'user_pref("extensions.zotero.useDataDir", false);\n', encoding="utf-8")
    monkeypatch.setenv("HOME", str(h))
    return base


@pytest.fixture
def zotero(tmp_path, papers_dir, home):
    """A Zotero library: stored, absolute-linked and relative-linked PDFs, nested
    collections, tags, HTML notes (one with a script and a remote image), annotations of
    every type, an item without PDF, one whose file is gone, one in the trash."""
    shutil.copy(papers_dir / ARXIV, home / ARXIV)
    b = ZoteroBuilder(tmp_path / "Zotero")
    nlp = b.collection("NLP")
    models = b.collection("Models", nlp)
    acl = papers_dir / ACL
    item, key = b.item("conferencePaper", {
        "title": "S2ORC: The Semantic Scholar Open Research Corpus", "date": "2020-07-00 July 2020",
        "DOI": "10.18653/v1/2020.acl-main.447", "proceedingsTitle": "Proceedings of ACL",
        "url": "https://aclanthology.org/2020.acl-main.447", "abstractNote": "Zotero's abstract."},
        creators=["Kyle Lo", "Lucy Lu Wang", "Mark Neumann"], tags=["corpus", "to read"], collections=[models])
    att, _ = b.stored_pdf(item, acl)
    b.web_link(item)
    b.note(item, '<div data-schema-version="8"><h1>Summary</h1><p>A <b>big</b> corpus, see '
                 '<a href="https://allenai.org">AI2</a>.</p><script>alert("x")</script>'
                 '<p><img src="https://tracker.example/pixel.png" alt="chart"></p></div>')
    words = _words(acl, 0)
    hl, hl_key = b.annotation(att, "highlight", {"pageIndex": 0, "rects": pdf_rects(acl, 0, words)},
                              text=words, comment="key claim", color="#5fb236", author="Kyle")
    words2 = _words(acl, 1)
    b.annotation(att, "underline", {"pageIndex": 1, "rects": pdf_rects(acl, 1, words2)}, text=words2)
    b.annotation(att, "note", {"pageIndex": 0, "rects": [[50, 700, 72, 722]]}, comment="check the numbers")
    b.annotation(att, "note", {"pageIndex": 0, "rects": [[50, 600, 72, 622]]}, comment="  ")
    b.annotation(att, "highlight", {"pageIndex": 1, "rects": pdf_rects(acl, 1, words2)}, color="not-a-colour")
    b.annotation(att, "image", {"pageIndex": 0, "rects": [[50, 50, 300, 300]]})
    b.annotation(att, "ink", {"pageIndex": 0, "width": 2, "paths": [[10, 10, 20, 20]]})
    b.annotation(att, "highlight", {"pageIndex": 0, "rects": [[5000, 5000, 5100, 5100]]}, text="off")
    b.annotation(att, "highlight", {"pageIndex": 99, "rects": [[10, 10, 20, 20]]}, text="no page")
    b.annotation(att, "highlight", "{not json", text="broken")
    b.annotation(att, "highlight", {"pageIndex": 0, "rects": [["a", "b"]]}, text="bad rect")

    other, _ = b.item("journalArticle", {"title": "EACL paper", "date": "2023"}, creators=["Single"],
                      collections=[nlp])
    b.linked_pdf(other, str(papers_dir / EACL))
    rel, _ = b.item("preprint", {"title": "Relative linked", "date": "2023-04-05"}, collections=[nlp])
    b.linked_pdf(rel, f"attachments:{ARXIV}")
    b.item("book", {"title": "A book without a PDF"})
    gone, _ = b.item("journalArticle", {"title": "File is gone"})
    b.stored_pdf(gone, papers_dir / "missing.pdf", name="gone.pdf")
    trashed, _ = b.item("journalArticle", {"title": "In the trash"})
    b.stored_pdf(trashed, papers_dir / "papermage.pdf")
    b.trash(trashed)
    b.commit()
    b.keys = {"item": item, "key": key, "att": att, "hl": hl, "hl_key": hl_key, "words": words, "words2": words2}
    return b


def test_import_items_metadata_tags_notes_and_annotations(tmp_path, zotero):
    zotero.close()
    with Library.open(tmp_path / "lib") as lib:
        r = import_zotero(lib, tmp_path / "Zotero")
        assert r["items"] == 5 and r["imported"] == 3, r
        assert r["skipped"] == {"no PDF": 1, "missing file": 1}
        assert {s["title"] for s in r["skipped_items"]} == {"A book without a PDF", "File is gone"}
        assert r["annotations"] == {"added": 4}
        assert r["annotations_skipped"] == {"image": 1, "ink": 1, "off the page": 2, "malformed position": 2,
                                            "empty note": 1}
        assert r["notes"] == {"added": 1} and r["notes_cleaned"] == {"remote image": 1, "script": 1}
        papers = {p.title: p for p in lib.list_papers()}
        assert set(papers) == {"S2ORC: The Semantic Scholar Open Research Corpus", "EACL paper", "Relative linked"}
        s2 = papers["S2ORC: The Semantic Scholar Open Research Corpus"]
        assert s2.authors == ["Kyle Lo", "Lucy Lu Wang", "Mark Neumann"] and s2.year == 2020
        assert s2.doi == "10.18653/v1/2020.acl-main.447"
        assert lib.get_paper(s2.id).abstract == "Zotero's abstract."
        assert s2.tags == ["corpus", "NLP/Models", "to read"]
        assert papers["EACL paper"].tags == ["NLP"] and papers["EACL paper"].authors == ["Single"]
        assert papers["Relative linked"].year == 2023 and papers["Relative linked"].pages > 0
        note = lib.notes(s2.id)[0].text
        assert "# Summary" in note and "**big**" in note and "[AI2](https://allenai.org)" in note
        assert "alert" not in note and "tracker.example" not in note and "remote image not imported" in note

        marks = lib.highlights(s2.id)
        hl = next(h for h in marks if h.kind == "highlight")
        assert hl.text == zotero.keys["words"] and hl.note == "key claim" and hl.color == "#5fb236"
        assert hl.author == "Kyle" and hl.source == "zotero" and hl.page == 1
        assert next(h for h in marks if h.kind == "highlight" and h.page == 2).color == "#ffd400"
        under = next(h for h in marks if h.kind == "underline")
        assert under.page == 2 and under.text == zotero.keys["words2"]
        sticky = next(h for h in marks if h.kind == "text")
        assert sticky.note == "check the numbers"
        # the boxes lie over the same words on the page (PyMuPDF's own search)
        doc = pymupdf.open(lib.get_paper(s2.id).file)
        hit = doc[0].search_for(zotero.keys["words"])[0]
        doc.close()
        box = pymupdf.Rect(hl.quads[0])
        assert abs(box.x0 - hit.x0) < 1 and abs(box.y0 - hit.y0) < 1 and abs(box.x1 - hit.x1) < 1
        # Zotero's extra metadata is kept beside the paper
        from reader_app.library.import_links import ImportLinks
        data = ImportLinks(lib, "zotero").paper_data(s2.id)
        assert data["publication"] == "Proceedings of ACL" and data["url"].startswith("https://aclanthology.org")


def test_rerun_adds_only_what_changed_and_keeps_the_readers_work(tmp_path, zotero, papers_dir):
    zotero.commit()
    k = zotero.keys
    with Library.open(tmp_path / "lib") as lib:
        import_zotero(lib, tmp_path / "Zotero")
        again = import_zotero(lib, tmp_path / "Zotero")
        assert again["imported"] == 0 and again["unchanged"] == 3 and not again.get("annotations")
        pid = next(p.id for p in lib.list_papers() if p.title.startswith("S2ORC"))
        # the reader works here: deletes the sticky note, recolours the underline, edits the note
        marks = lib.highlights(pid)
        lib.delete_highlight(next(h.id for h in marks if h.kind == "text"))
        lib.update_highlight(next(h.id for h in marks if h.kind == "underline"), color="red")
        lib.add_highlight(pid, 1, [(10, 10, 50, 20)], text="mine")
        lib.add_tags(pid, ["local tag"])
        # ... and in Zotero: a new title, a changed comment, a new annotation and note
        zotero.set_field(k["item"], "title", "S2ORC (renamed in Zotero)")
        zotero.touch(k["item"])
        zotero.conn.execute("UPDATE itemAnnotations SET comment = 'changed claim' WHERE itemID = ?", [k["hl"]])
        zotero.touch(k["hl"])
        acl = papers_dir / ACL
        w = _words(acl, 2)
        zotero.annotation(k["att"], "highlight", {"pageIndex": 2, "rects": pdf_rects(acl, 2, w)}, text=w)
        zotero.note(k["item"], "<p>second note</p>")
        zotero.commit()
        r = import_zotero(lib, tmp_path / "Zotero")
        assert r["updated"] == 1 and r["unchanged"] == 2 and r["imported"] == 0, r
        assert r["annotations"] == {"added": 1, "updated": 1, "unchanged": 2, "kept": 1}, r
        assert r["notes"] == {"added": 1, "unchanged": 1}
        p = lib.get_paper(pid)
        assert p.title == "S2ORC (renamed in Zotero)" and "local tag" in p.tags
        marks = lib.highlights(pid)
        assert len(marks) == 5 and not any(h.kind == "text" for h in marks)  # deleted here: stays deleted
        assert next(h for h in marks if h.kind == "underline").color_name == "red"
        assert any(h.note == "changed claim" for h in marks) and any(h.text == "mine" for h in marks)
        assert len(lib.list_papers()) == 3 and len(lib.notes(pid)) == 2


def test_round_trip_markdown_and_annotated_pdf(tmp_path, zotero):
    zotero.close()
    lib = tmp_path / "lib"
    r = run_cli("import-zotero", tmp_path / "Zotero", "--collection", "Models", "--json", library=lib,
                env={"HOME": str(tmp_path / "home")}, timeout=300)
    assert r.code == 0, r
    assert r.json()["items"] == 1 and r.json()["imported"] == 1
    pid = run_cli("list", "--json", library=lib).json()[0]["id"]
    shown = run_cli("show", pid, "--json", library=lib).json()
    assert shown["publication"] == "Proceedings of ACL" and shown["url"] == "https://aclanthology.org/2020.acl-main.447"
    out = tmp_path / "md"
    assert run_cli("export", pid, "--out", out, library=lib).code == 0
    md = next(out.glob("*.md")).read_text(encoding="utf-8")
    section = md.split("## Highlights", 1)[1]
    assert zotero.keys["words"] in section and "key claim" in section and "*From Zotero — Kyle*" in section
    copy = tmp_path / "annotated.pdf"
    r = run_cli("export", pid, "--annotated-pdf", copy, "--json", library=lib)
    assert r.code == 0 and r.json()["annotations"] == 4, r
    found, _ = read_annotations_file(copy)
    hl = next(h for h in found if h.kind == "highlight" and h.page == 1)
    assert hl.text == zotero.keys["words"] and hl.note == "key claim" and hl.color == "#5fb236"
    r = run_cli("import-zotero", tmp_path / "Zotero", "--collection", "Nope", library=lib,
                env={"HOME": str(tmp_path / "home")})
    assert r.code == 2 and "no Zotero collection named 'Nope'" in r.err


def test_interrupted_import_resumes_without_duplicates(tmp_path, zotero):
    zotero.close()
    calls = []

    def stop_after_two(done, total, label):
        calls.append(done)
        if done == 2:
            raise Cancelled("stopped")

    with Library.open(tmp_path / "lib") as lib:
        r = import_zotero(lib, tmp_path / "Zotero", on_progress=stop_after_two)
        assert r["stopped"] and r["imported"] == 2
        r = import_zotero(lib, tmp_path / "Zotero")
        assert not r["stopped"] and r["imported"] == 1 and r["unchanged"] == 2
        assert len(lib.list_papers()) == 3


def test_bad_databases_get_one_line(tmp_path, papers_dir, home):
    lib = tmp_path / "lib"
    env = {"HOME": str(tmp_path / "home")}
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_cli("import-zotero", empty, library=lib, env=env)
    assert r.code == 2 and "no zotero.sqlite in" in r.err and len(r.err.strip().splitlines()) == 1
    r = run_cli("import-zotero", tmp_path / "nowhere", library=lib, env=env)
    assert r.code == 2 and "no such folder" in r.err
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "zotero.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x17" * 5000)
    r = run_cli("import-zotero", corrupt, library=lib, env=env)
    assert r.code == 2 and "not a readable Zotero database" in r.err and "Traceback" not in r.err
    other = tmp_path / "other"
    other.mkdir()
    sqlite3.connect(str(other / "zotero.sqlite")).execute("CREATE TABLE x (y)").connection.commit()
    r = run_cli("import-zotero", other, library=lib, env=env)
    assert r.code == 2 and "is not a Zotero database" in r.err


def test_newer_schema_locked_wal_and_bad_files(tmp_path, papers_dir, home):
    """A database from a newer Zotero, still open in Zotero (exclusive lock, changes in the
    WAL), with an encrypted and an unreadable PDF: what is known is imported."""
    b = ZoteroBuilder(tmp_path / "Zotero")
    b.conn.execute("UPDATE version SET version = 999 WHERE schema = 'userdata'")
    b.conn.execute("CREATE TABLE futureThings (x)")
    enc = tmp_path / "enc.pdf"
    doc = pymupdf.open(str(papers_dir / ACL))
    doc.save(str(enc), encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="o", user_pw="secret")
    doc.close()
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.4\nnot really a pdf\n" * 10)
    for title, path in (("Encrypted", enc), ("Junk", junk)):
        item, _ = b.item("journalArticle", {"title": title})
        b.linked_pdf(item, str(path))
    b.annotation(b.stored_pdf(None, papers_dir / EACL)[0], "highlight",
                 {"pageIndex": 0, "rects": pdf_rects(papers_dir / EACL, 0, _words(papers_dir / EACL, 0))})
    b.close()
    # Zotero running: WAL mode, an exclusive lock, the last item only in the WAL
    zot = sqlite3.connect(str(tmp_path / "Zotero" / "zotero.sqlite"), isolation_level=None)
    zot.execute("PRAGMA journal_mode = WAL")
    zot.execute("PRAGMA wal_autocheckpoint = 0")
    zot.execute("PRAGMA locking_mode = EXCLUSIVE")
    zb = ZoteroBuilder.__new__(ZoteroBuilder)
    zb.conn, zb.dir, zb.rng, zb.stamp = zot, tmp_path / "Zotero", __import__("random").Random(5), iter(range(500, 900))
    zb.types = dict(zot.execute("SELECT typeName, itemTypeID FROM itemTypes"))
    zb.fields = dict(zot.execute("SELECT fieldName, fieldID FROM fields"))
    zb.ctypes = dict(zot.execute("SELECT creatorType, creatorTypeID FROM creatorTypes"))
    zot.execute("BEGIN")
    wal_item, _ = zb.item("journalArticle", {"title": "Only in the WAL"})
    zb.linked_pdf(wal_item, str(papers_dir / "1903.10676.pdf"))
    zot.execute("COMMIT")
    assert (tmp_path / "Zotero" / "zotero.sqlite-wal").stat().st_size > 0
    try:
        with Library.open(tmp_path / "lib") as lib:
            before = (tmp_path / "Zotero" / "zotero.sqlite").read_bytes()
            r = import_zotero(lib, tmp_path / "Zotero")
            assert (tmp_path / "Zotero" / "zotero.sqlite").read_bytes() == before  # never written
            assert any("newer Zotero" in w for w in r["warnings"]), r
            assert r["skipped"] == {"encrypted": 1, "unreadable": 1}, r
            assert r["imported"] == 2 and r["annotations"] == {"added": 1}
            titles = {p.title for p in lib.list_papers()}
            assert "Only in the WAL" in titles
    finally:
        zot.close()


def test_find_profile_from_prefs(tmp_path, monkeypatch, home):
    from reader_app.library.zotero_db import find_profile

    data = tmp_path / "elsewhere"
    ZoteroBuilder(data).close()
    prefs = next((tmp_path / "home").rglob("prefs.js"))
    prefs.write_text(prefs.read_text() + f'user_pref("extensions.zotero.dataDir", "{data}");\n'
                     'user_pref("extensions.zotero.useDataDir", true);\n')
    prof = find_profile()
    assert prof.data_dir == data.resolve() and prof.base_dir == home
    with pytest.raises(BadInput, match="no zotero.sqlite"):
        find_profile(tmp_path / "home")


def test_a_renamed_column_of_a_newer_zotero_leaves_out_only_that_part(tmp_path, small_pdf, home):
    b = ZoteroBuilder(tmp_path / "Zotero")
    item, _ = b.item("journalArticle", {"title": "Still imported"}, creators=["Ann Author"], tags=["kept"])
    att, _ = b.stored_pdf(item, small_pdf)
    b.annotation(att, "highlight", {"pageIndex": 0, "rects": pdf_rects(small_pdf, 0, "small but valid")})
    b.conn.execute("ALTER TABLE itemAnnotations RENAME COLUMN comment TO commentText")
    b.conn.execute("UPDATE version SET version = 130 WHERE schema = 'userdata'")
    b.close()
    with Library.open(tmp_path / "lib") as lib:
        r = import_zotero(lib, tmp_path / "Zotero")
        assert r["imported"] == 1 and not r.get("annotations")
        assert any("could not read Zotero's annotations" in w for w in r["warnings"]), r
        assert any("newer Zotero (schema 130" in w for w in r["warnings"])
        p = lib.list_papers()[0]
        assert p.title == "Still imported" and p.authors == ["Ann Author"] and p.tags == ["kept"]


def test_an_unreadable_wal_is_a_warning_not_a_failure(tmp_path, small_pdf, home, monkeypatch):
    """Zotero on Windows keeps the -wal file locked: the committed part is imported and the
    summary says what was left out."""
    from reader_app.library import zotero_db

    b = ZoteroBuilder(tmp_path / "Zotero")
    item, _ = b.item("journalArticle", {"title": "In the main file"})
    b.stored_pdf(item, small_pdf)
    b.close()
    (tmp_path / "Zotero" / "zotero.sqlite-wal").write_bytes(b"")
    real = zotero_db.shutil.copyfile

    def locked(src, dst, *a, **k):
        if str(src).endswith("-wal"):
            raise PermissionError(13, "The process cannot access the file because it is being used")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(zotero_db.shutil, "copyfile", locked)
    with Library.open(tmp_path / "lib") as lib:
        r = import_zotero(lib, tmp_path / "Zotero")
    assert r["imported"] == 1
    assert any("cannot read zotero.sqlite-wal" in w and "close Zotero" in w for w in r["warnings"]), r
