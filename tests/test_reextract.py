"""reader-app reextract: extraction runs again on stored PDFs; notes, tags, Q&A and summaries stay."""

from __future__ import annotations

import pytest

from conftest import PAPERS
from reader_app.core.model import Answer, Paper, Paragraph, Timings
from reader_app.library import Library

PDF = PAPERS / "2304.02623v1.pdf"
pytestmark = pytest.mark.skipif(not PDF.exists(), reason="shared papers not present")


def _degrade(lib: Library, pid: str) -> None:
    """What an older extractor might have stored: one paragraph, no sections, a file-name title."""
    old = Paper(title="2304.02623v1", pages=4,
                paragraphs=[Paragraph(0, "all the text in one lump", 1, (0, 0, 10, 10))])
    lib.replace_extraction(pid, old)


def test_reextract_keeps_notes_tags_answers_and_summaries(cli):
    r = cli("add", PDF, "--tag", "writing", "--json")
    assert r.code == 0, r
    pid = r.json()[0]["id"]
    assert cli("note", pid[:10], "check the survey numbers", "--page", "3").code == 0
    with Library.open(cli.library) as lib:
        sections = len(lib.sections(pid))
        lib.add_qa(Answer(pid, "What is expository writing?", "Writing that explains.", True, [], "zero-shot",
                          "m", Timings()))
        lib.put_summary(pid, "m", "tldr", {"title": "TL;DR", "summary": "AI support for writers."})
        _degrade(lib, pid)
        assert lib.get_paper(pid).title == "2304.02623v1" and not lib.sections(pid)

    r = cli("reextract", pid[:12], "--json")
    assert r.code == 0, r
    [row] = r.json()
    assert row["id"] == pid and row["sections_before"] == 0 and row["sections"] == sections
    assert row["title"].startswith("Beyond Summarization")

    with Library.open(cli.library) as lib:
        paper = lib.get_paper(pid)
        assert len(paper.sections) == sections and len(paper.paragraphs) > 20
        assert paper.tags == ["writing"]
        [note] = lib.notes(pid)
        assert note.page == 3 and note.text == "check the survey numbers"
        assert [a.question for a in lib.qa_history(pid)] == ["What is expository writing?"]
        assert [s["summary"] for s in lib.summaries(pid)] == ["AI support for writers."]
        assert lib.search("expository")  # the full-text index follows the new paragraphs
        assert not lib.search("lump")

    show = cli("show", pid[:12], "--json").json()
    assert show["ocr"] is False and show["ocr_pages"] == []


def test_reextract_all_and_bad_arguments(cli):
    assert cli("add", PDF, "--json").code == 0
    r = cli("reextract", "--all", "--json")
    assert r.code == 0 and len(r.json()) == 1, r
    for args in ((), ("--all", "abc")):
        r = cli("reextract", *args)
        assert r.code == 2 and r.err.startswith("reader-app: error:") and len(r.err.strip().splitlines()) == 1, r
    r = cli("reextract", "ffffffffff")
    assert r.code == 2 and "no paper" in r.err and "Traceback" not in r.err, r
