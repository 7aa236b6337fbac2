"""Layout heuristics on PDFs built in the test (no shared data needed)."""

from __future__ import annotations

import pymupdf
import pytest

from reader_app.pdf import extract_paper

LOREM = (
    "The quick brown fox jumps over the lazy dog while the model reads every "
    "paragraph of the paper in order and keeps track of where it is"
)


def _column(page, x, y, width_chars, text, size=10, font="tiro"):
    """Write ``text`` as left-aligned lines of about ``width_chars`` characters."""
    words, line, lines = text.split(), "", []
    for w in words:
        if len(line) + len(w) + 1 > width_chars:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    lines.append(line)
    for ln in lines:
        page.insert_text((x, y), ln, fontsize=size, fontname=font)
        y += size * 1.25
    return y


def _two_column_paper(path, with_toc=False):
    doc = pymupdf.open()
    for n in range(1, 5):
        page = doc.new_page(width=612, height=792)
        page.insert_text((72, 40), "Running Head of the Conference 2024", fontsize=8)
        page.insert_text((300, 760), str(n), fontsize=9)
        y = 80
        if n == 1:
            page.insert_text((120, 90), "A Study of Synthetic Two Column Papers", fontsize=18, fontname="hebo")
            page.insert_text((200, 115), "Ada Lovelace, Alan Turing", fontsize=11)
            page.insert_text((72, 150), "Abstract", fontsize=11, fontname="hebo")
            y = _column(page, 72, 168, 48, "We describe the left column abstract. " + LOREM + ".")
            page.insert_text((72, y + 14), "1 Introduction", fontsize=12, fontname="hebo")
            y = _column(page, 72, y + 32, 48, "Intro paragraph starts in the left column. " + LOREM + " and it ends here.")
            # hyphenated line break
            page.insert_text((72, y + 4), "This sentence has a hyphen-", fontsize=10, fontname="tiro")
            page.insert_text((72, y + 16.5), "ated word across two lines.", fontsize=10, fontname="tiro")
            _column(page, 320, 168, 48, "RIGHTCOLUMN text continues the introduction on the right. " + LOREM + ".")
        elif n == 2:
            page.insert_text((72, y), "3.1 Numbered Subsection Title", fontsize=10, fontname="hebo")
            y = _column(page, 72, y + 18, 48, "Body under the numbered subsection. " + LOREM + ".")
            page.insert_text((72, y + 10), "RELATED WORK", fontsize=10, fontname="tiro")
            _column(page, 72, y + 28, 48, "Body under the caps heading. " + LOREM + ".")
            page.insert_text((320, 80), "4 Conclusion", fontsize=12, fontname="hebo")
            _column(page, 320, 98, 48, "We conclude in the right column. " + LOREM + ".")
            page.insert_text((320, 300), "Figure 1: A caption under a figure that shows nothing.", fontsize=9)
        else:
            if n == 3:
                page.insert_text((72, y), "References", fontsize=12, fontname="hebo")
                y += 18
            for i in range(6):
                page.insert_text((72, y), f"Author{i} A. and Other B. 20{10 + i}. A cited paper", fontsize=9)
                page.insert_text((82, y + 11), f"number {i} in Proceedings of Something.", fontsize=9)
                y += 26
    if with_toc:
        doc.set_toc([[1, "Abstract", 1], [1, "1 Introduction", 1], [2, "3.1 Numbered Subsection Title", 2],
                     [1, "RELATED WORK", 2], [1, "4 Conclusion", 2], [1, "References", 3]])
    doc.save(path)


@pytest.fixture(params=[False, True], ids=["layout", "outline"])
def synthetic(tmp_path, request):
    path = tmp_path / "paper.pdf"
    _two_column_paper(path, with_toc=request.param)
    return extract_paper(path), request.param


def test_structure(synthetic):
    p, with_toc = synthetic
    assert p.title == "A Study of Synthetic Two Column Papers"
    titles = [s.title for s in p.sections]
    assert titles == ["Abstract", "1 Introduction", "3.1 Numbered Subsection Title", "RELATED WORK",
                      "4 Conclusion", "References"]
    levels = {s.title: s.level for s in p.sections}
    assert levels["3.1 Numbered Subsection Title"] == 2 and levels["1 Introduction"] == 1
    pages = {s.title: s.page for s in p.sections}
    assert pages["References"] == 3 and pages["4 Conclusion"] == 2
    assert p.abstract.startswith("We describe the left column abstract.")


def test_reading_order_headers_hyphens(synthetic):
    p, _ = synthetic
    texts = [q.text for q in p.paragraphs]
    joined = "\n".join(texts)
    assert "Running Head" not in joined
    assert not any(t.strip().isdigit() for t in texts)
    assert "hyphenated word across two lines" in joined
    i_left = next(i for i, t in enumerate(texts) if t.startswith("Intro paragraph starts"))
    i_right = next(i for i, t in enumerate(texts) if t.startswith("RIGHTCOLUMN"))
    i_abs = next(i for i, t in enumerate(texts) if t.startswith("We describe"))
    assert i_abs < i_left < i_right
    # a paragraph is one unit: its wrapped lines are joined
    assert texts[i_left].endswith("and it ends here.")
    intro = next(s.index for s in p.sections if s.title == "1 Introduction")
    assert p.paragraphs[i_right].section_index == intro


def test_kinds(synthetic):
    p, _ = synthetic
    refs = [q for q in p.paragraphs if q.kind == "reference"]
    assert len(refs) == 12  # 6 entries on each of pages 3 and 4, each joined with its hanging line
    assert all(q.text.startswith("Author") and "Proceedings of Something." in q.text for q in refs)
    caps = [q for q in p.paragraphs if q.kind == "caption"]
    assert [q.text for q in caps] == ["Figure 1: A caption under a figure that shows nothing."]
    heads = {q.text for q in p.paragraphs if q.kind == "heading"}
    assert {"1 Introduction", "RELATED WORK", "References", "4 Conclusion"} <= heads


def test_ieee_style_roman_sections_and_sideways_page(tmp_path):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((150, 80), "Roman Numbered Sections in a Journal", fontsize=18, fontname="hebo")
    y = _column(page, 72, 120, 90, "Abstract—We study roman numerals. " + LOREM + ".")
    page.insert_text((72, y + 12), "I. INTRODUCTION", fontsize=10, fontname="tiro")
    y = _column(page, 72, y + 30, 90, "Introduction body. " + LOREM + ".")
    page.insert_text((72, y + 12), "A. First Subsection", fontsize=10, fontname="hebo")
    y = _column(page, 72, y + 30, 90, "Subsection body. " + LOREM + ".")
    page.insert_text((72, y + 12), "II. CONCLUSION", fontsize=10, fontname="tiro")
    _column(page, 72, y + 30, 90, "Conclusion body. " + LOREM + ".")
    side = doc.new_page()
    for i in range(12):  # a sideways table: every line rotated by 90 degrees
        side.insert_text((100 + 20 * i, 700), f"Row {i} of the sideways results table with numbers {i * 7}", fontsize=10, rotate=90)
    path = tmp_path / "ieee.pdf"
    doc.save(path)
    p = extract_paper(path)
    assert [(s.title, s.level) for s in p.sections] == [
        ("I. INTRODUCTION", 1), ("A. First Subsection", 2), ("II. CONCLUSION", 1)]
    assert p.abstract.startswith("We study roman numerals.")
    side_text = " ".join(q.text for q in p.paragraphs if q.page == 2)
    assert "Row 11 of the sideways results table" in side_text
