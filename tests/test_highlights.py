"""Highlights: the PDF's own annotations read on import and reextract, highlights kept in the
library (v5), the CLI, Markdown and annotated-PDF export, on a real shared paper."""

from __future__ import annotations

import pymupdf
import pytest

from reader_app.core.errors import BadInput
from reader_app.library import Library, schema
from reader_app.pdf import extract_paper, extract_paper_isolated
from reader_app.pdf.annotations import find_text, read_annotations_file, write_annotated

from tests.conftest import run_cli

PAPER = "2304.02623v1.pdf"  # 4 pages


def _add(page, kind: str, words: str, color, note: str = "", author: str = ""):
    rects = page.search_for(words)
    assert rects, words
    annot = getattr(page, f"add_{kind}_annot")(quads=[r.quad for r in rects])
    annot.set_colors(stroke=color)
    annot.set_info(content=note, title=author)
    annot.update()


@pytest.fixture
def annotated(tmp_path, papers_dir):
    """The shared paper with the marks another reader would leave: four kinds of markup
    over known words, a sticky note and a free-text note."""
    doc = pymupdf.open(papers_dir / PAPER)
    p1, p2 = doc[0], doc[1]
    _add(p1, "highlight", "Allen Institute for AI", (1, 0.83, 0), "who made it", "Ann Reader")
    _add(p1, "underline", "Massachusetts Institute of Technology", (0, 0, 1))
    _add(p2, "strikeout", "Expository", (1, 0, 0))
    _add(p2, "squiggly", "writing", (0, 0.7, 0))
    p1.add_text_annot((40, 40), "Read this first — ünïcode")
    p2.add_freetext_annot(pymupdf.Rect(300, 700, 500, 740), "a box of text")
    path = tmp_path / "annotated.pdf"
    doc.save(path)
    return path


def test_import_reads_the_pdfs_annotations_and_reextract_adds_no_duplicate(tmp_path, annotated):
    with Library.open(tmp_path / "lib") as lib:
        pid, _ = lib.add_paper(extract_paper_isolated(str(annotated)), str(annotated))
        marks = lib.highlights(pid)
        kinds = {h.kind: h for h in marks}
        assert set(kinds) == {"highlight", "underline", "strikeout", "squiggly", "text", "freetext"}
        hl = kinds["highlight"]
        assert "Allen Institute for AI" in hl.text and hl.note == "who made it" and hl.author == "Ann Reader"
        assert hl.color_name == "yellow" and hl.source == "pdf" and hl.page == 1
        assert "Massachusetts Institute of Technology" in kinds["underline"].text
        assert kinds["underline"].color == "#0000ff"
        assert kinds["strikeout"].page == 2 and "Expository" in kinds["strikeout"].text
        assert kinds["text"].note == "Read this first — ünïcode" and kinds["text"].text == ""
        assert kinds["freetext"].note == "a box of text"
        assert [h.page for h in marks] == sorted(h.page for h in marks)  # page order

        # reextract (a fresh extraction replaces the old): nothing twice
        lib.replace_extraction(pid, extract_paper(str(annotated)))
        assert len(lib.highlights(pid)) == len(marks)
        # a deleted imported one stays deleted; a recoloured one keeps its colour
        lib.delete_highlight(kinds["squiggly"].id)
        lib.update_highlight(hl.id, color="purple", note="mine now")
        lib.replace_extraction(pid, extract_paper(str(annotated)))
        again = {h.kind: h for h in lib.highlights(pid)}
        assert "squiggly" not in again and len(again) == len(marks) - 1
        assert again["highlight"].color_name == "purple" and again["highlight"].note == "mine now"

        # an annotated copy carries those changes: the deleted one gone, the recoloured one purple
        from reader_app.commands.highlights import export_annotated

        out = tmp_path / "copy.pdf"
        export_annotated(lib, [pid], str(out))
        copied = {h.kind: h for h in read_annotations_file(out)[0]}
        assert "squiggly" not in copied and set(copied) == set(again)
        assert copied["highlight"].color_name == "purple" and copied["highlight"].note == "mine now"
        assert copied["underline"].color == kinds["underline"].color
        assert {h.kind for h in read_annotations_file(annotated)[0]} == set(kinds)  # the original is as it was


def test_highlight_crud_and_bad_input(tmp_path, papers_dir):
    src = papers_dir / PAPER
    with Library.open(tmp_path / "lib") as lib:
        pid, _ = lib.add_paper(extract_paper(str(src)), str(src))
        boxes, words = find_text(src, 1, "Allen   Institute\nfor AI")  # whitespace does not matter
        assert words.endswith("Allen Institute for AI,") and len(boxes) == 1
        h = lib.add_highlight(pid, 1, boxes, text=words, color="green", note="a *note*")
        assert (h.page, h.color, h.source, h.note) == (1, "#5fb236", "user", "a *note*")
        assert h.created and h.created == h.updated
        h2 = lib.update_highlight(h.id, color="#123ABC")
        assert h2.color == "#123abc" and h2.updated >= h.updated
        with pytest.raises(BadInput, match="past the end"):
            lib.add_highlight(pid, 99, boxes)
        with pytest.raises(BadInput, match="unknown colour"):
            lib.update_highlight(h.id, color="chartreuse-ish")
        with pytest.raises(BadInput, match="at least one box"):
            lib.add_highlight(pid, 1, [])
        with pytest.raises(BadInput, match="text not found on page 2"):
            find_text(src, 2, "words that are not in this paper")
        with pytest.raises(BadInput, match="out of range"):
            find_text(src, 9, "Allen")
        lib.delete_highlight(h.id)
        assert lib.highlights(pid) == []


def test_v4_library_upgrades_keeping_its_notes(tmp_path, papers_dir):
    src = papers_dir / PAPER
    with Library.open(tmp_path / "lib", migrate_to=4) as lib:
        pid, _ = lib.add_paper(extract_paper(str(src)), str(src))
        lib.add_note(pid, "kept across the upgrade", page=2)
        assert lib.schema_version == 4
    with Library.open(tmp_path / "lib") as lib:
        assert lib.schema_version == schema.CURRENT_VERSION
        assert [n.text for n in lib.notes(pid)] == ["kept across the upgrade"]
        assert lib.highlights(pid) == []
        lib.add_highlight(pid, 2, [(10, 10, 50, 20)], text="x")
        assert len(lib.highlights(pid)) == 1


def test_malformed_and_huge_annotations_are_skipped_with_a_count(tmp_path, papers_dir):
    doc = pymupdf.open(papers_dir / PAPER)
    page = doc[0]
    words = page.get_text("words")
    for w in words[:30]:
        page.add_highlight_annot(pymupdf.Rect(w[:4]))
    broken = page.add_highlight_annot(pymupdf.Rect(words[40][:4]))
    xref = broken.xref
    page = None
    doc.xref_set_key(xref, "QuadPoints", "[1 2 nonsense]")
    doc.xref_set_key(xref, "Rect", "(not a rect)")
    path = tmp_path / "broken.pdf"
    doc.save(path)
    found, skipped = read_annotations_file(path)
    assert len(found) == 30 and skipped == 1
    found, skipped = read_annotations_file(path, limit=10)  # the cap on a huge set
    assert len(found) == 10 and skipped == 21
    paper = extract_paper(str(path))
    assert len(paper.annotations) == 30
    assert any("skipped 1 PDF annotation" in w for w in paper.warnings)


def test_cli_highlight_list_export_and_reimport(tmp_path, papers_dir, annotated):
    lib_a, lib_b = tmp_path / "a", tmp_path / "b"
    r = run_cli("add", annotated, "--json", library=lib_a)
    assert r.code == 0, r
    pid = r.json()[0]["id"]
    r = run_cli("highlight", pid[:8], "--page", "3", "--text", "Related Work", "--color", "blue",
                "--note", "see also", "--json", library=lib_a)
    if r.code != 0:  # the heading's words differ: take the first words of page 3
        page3 = " ".join(w[4] for w in pymupdf.open(annotated)[2].get_text("words", sort=True)[:3])
        r = run_cli("highlight", pid[:8], "--page", "3", "--text", page3, "--color", "blue",
                    "--note", "see also", "--json", library=lib_a)
    assert r.code == 0, r
    mine = r.json()
    assert mine["color_name"] == "blue" and mine["page"] == 3 and mine["quads"]

    for args, message in ((("--page", "9", "--text", "x"), "page 9 is out of range"),
                          (("--page", "1", "--text", "no such words here"), "text not found on page 1"),
                          (("--page", "1", "--text", "Allen", "--color", "mauve"), "unknown colour")):
        r = run_cli("highlight", pid, *args, library=lib_a)
        assert r.code == 2 and message in r.err and "Traceback" not in r.err
        assert len(r.err.strip().splitlines()) == 1

    r = run_cli("highlights", pid, "--json", library=lib_a)
    rows = r.json()
    assert len(rows) == 7 and sum(x["source"] == "user" for x in rows) == 1
    r = run_cli("highlights", pid, library=lib_a)
    assert "blue highlight" in r.out and "from the PDF, Ann Reader" in r.out

    # Markdown: the highlights with quote, colour, page and note
    r = run_cli("export", pid, "--out", tmp_path / "md", library=lib_a)
    assert r.code == 0, r
    md = next((tmp_path / "md").glob("beyond*.md")).read_text(encoding="utf-8")
    section = md.split("## Highlights", 1)[1].split("## Notes", 1)[0]
    assert "### p. 1 · yellow" in section and "> " in section and "who made it" in section
    assert "### p. 3 · blue" in section and "see also" in section and "*From the PDF — Ann Reader*" in section

    # annotated PDF: the original stays as it was; another library finds the same text
    original = annotated.read_bytes()
    out = tmp_path / "annotated-copy.pdf"
    r = run_cli("export", pid, "--annotated-pdf", out, "--json", library=lib_a)
    assert r.code == 0 and r.json()["annotations"] == 1, r
    assert annotated.read_bytes() == original
    r = run_cli("export", pid, "--annotated-pdf", out, library=lib_a)
    assert r.code == 2 and "already exists" in r.err
    r = run_cli("add", out, "--json", library=lib_b)
    assert r.code == 0, r
    rows_b = run_cli("highlights", r.json()[0]["id"], "--json", library=lib_b).json()
    back = [x for x in rows_b if x["page"] == 3 and x["color_name"] == "blue"]
    assert back and back[0]["text"] == mine["text"] and back[0]["note"] == "see also"
    assert back[0]["author"] == "reader-app"

    r = run_cli("unhighlight", pid, str(mine["id"]), library=lib_a)
    assert r.code == 0, r
    r = run_cli("unhighlight", pid, "99999", library=lib_a)
    assert r.code == 2 and "no highlight with id 99999" in r.err


def test_write_annotated_refuses_to_replace_its_source(tmp_path, annotated):
    with pytest.raises(BadInput, match="cannot replace the original"):
        write_annotated(annotated, annotated, [])
