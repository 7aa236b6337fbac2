"""``highlight --text`` finds the words the page shows, on a 1997 conference paper (ACM STOC,
Ghostscript bitmap fonts: it looks like a scan) whose own text layer PyMuPDF's visual sort
reads across both columns, with ligatures ("ﬁ") and words hyphenated across lines."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from conftest import run_cli

from reader_app.pdf.annotations import find_text

PAPER = Path(__file__).resolve().parents[1].parent / "shared" / "papers-pwl" / "pwl__consistent-hashing-and-random-trees.pdf"
needs_paper = pytest.mark.skipif(not PAPER.is_file(), reason="../shared/papers-pwl not available")


@needs_paper
def test_words_across_a_line_break_in_a_two_column_page():
    doc = pymupdf.open(PAPER)
    visual = " ".join(w[4] for w in doc[0].get_text("words", sort=True))
    doc.close()
    assert "range of the function changes" not in visual  # the visual order interleaves the columns
    boxes, words = find_text(PAPER, 1, "range of the\nfunction changes")
    assert words == "range of the function changes." and len(boxes) == 2
    assert boxes[0][0] > 200 > boxes[1][0] and boxes[1][1] > boxes[0][1]  # end of one line, start of the next
    _, words = find_text(PAPER, 1, "make efficient use")  # typed "fi", the PDF has the ligature
    assert words == "make efﬁcient use"
    _, words = find_text(PAPER, 1, "caching protocols for distributed networks")  # "net-" / "works"
    assert words == "caching protocols for distributed net- works"


@needs_paper
def test_cli_highlight_on_the_scan_like_paper(tmp_path):
    lib = tmp_path / "lib"
    r = run_cli("add", PAPER, "--json", library=lib, timeout=300)
    assert r.code == 0, r
    pid = r.json()[0]["id"]
    r = run_cli("highlight", pid, "--page", "1", "--text", "of the function changes", "--json", library=lib)
    assert r.code == 0, r
    assert r.json()["text"] == "of the function changes." and len(r.json()["quads"]) == 2
    r = run_cli("highlight", pid, "--page", "1", "--text", "words that are not on the page", library=lib)
    assert r.code == 2 and "text not found on page 1" in r.err
