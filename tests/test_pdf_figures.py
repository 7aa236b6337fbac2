"""Text inside figures and tables becomes kind "figure"; prose never does."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pymupdf
import pytest

from reader_app.core.model import PARAGRAPH_KINDS
from reader_app.pdf import extract_paper

SENT_END = re.compile(r"[.!?][\"'”’)\]]*$")

PROSE = (
    "Our method reads the paper once and answers questions about it with evidence. "
    "We describe the pipeline in detail and report how each stage affects the answers "
    "that researchers receive while reading, including the errors that remain."
)
BOX = (
    "Key finding: the assistant answers most questions correctly when it can cite the "
    "paragraphs it used, and it says so plainly when the paper does not contain an answer."
)


def _prose(text: str) -> bool:
    return len(text.split()) >= 25 and bool(SENT_END.search(text.strip()))


@lru_cache(maxsize=None)
def _paper(path: str):
    return extract_paper(path)


def _find(paper, start: str):
    hits = [p for p in paper.paragraphs if p.text.startswith(start)]
    assert hits, (start, [p.text[:40] for p in paper.paragraphs])
    return hits[0]


# -- synthetic pages -----------------------------------------------------------------
def _write(page, rect, text, size=10.0):
    rc = page.insert_textbox(pymupdf.Rect(*rect), text, fontsize=size, fontname="helv")
    assert rc >= 0, (text[:30], rc)


def _body_page(doc, y=72):
    page = doc.new_page(width=612, height=792)
    for i in range(4):  # body text on every page sets the body style and text column
        _write(page, (72, y + i * 70, 540, y + i * 70 + 60), PROSE)
    return page


def _synthetic(tmp_path: Path, framed_lines: bool = False) -> Path:
    doc = pymupdf.open()
    # page 1: prose, then a diagram of labelled boxes with arrows, then its caption
    page = _body_page(doc)
    for i, label in enumerate(("Encoder", "Retriever", "Reader")):
        x = 100 + i * 150
        page.draw_rect(pymupdf.Rect(x, 380, x + 100, 420), color=(0, 0, 0.6), width=1)
        page.insert_text((x + 10, 404), label, fontsize=10, fontname="helv")
        if i:
            page.draw_line((x - 50, 400), (x, 400), color=(0, 0, 0), width=1)
        page.draw_line((x + 50, 420), (x + 50, 440), color=(0, 0, 0), width=1)  # down to the input box
    page.draw_rect(pymupdf.Rect(90, 440, 510, 470), color=(0.5, 0.5, 0.5), width=0.5)
    page.insert_text((110, 459), "Input PDF pages 12", fontsize=9, fontname="helv")
    _write(page, (72, 490, 540, 520), "Figure 1: The pipeline of the assistant, from pages to answers.")
    _write(page, (72, 540, 540, 600), PROSE)
    # page 2: prose, a booktabs table (3 rules) under its caption, prose, a framed prose box
    page = _body_page(doc)
    _write(page, (72, 350, 540, 370), "Table 1: Accuracy of the reader on three data sets.")
    for y in (380, 400, 470):
        page.draw_line((120, y), (490, y), color=(0, 0, 0), width=0.6)
    rows = (("Model", "QASPER", "SciQ", "Avg"), ("Baseline", "41.2", "55.0", "48.1"),
            ("Ours", "47.9", "61.3", "54.6"), ("Oracle", "80.0", "90.5", "85.3"))
    for j, row in enumerate(rows):
        for k, cell in enumerate(row):  # one cell at a time, in columns
            page.insert_text((130 + k * 100, 395 + j * 22 + (6 if j else 0)), cell, fontsize=10, fontname="helv")
    _write(page, (72, 490, 540, 550), PROSE)
    box = pymupdf.Rect(80, 570, 532, 650)
    if framed_lines:  # the frame as four lines: two rules of the same width
        for a, b in ((box.tl, box.tr), (box.bl, box.br), (box.tl, box.bl), (box.tr, box.br)):
            page.draw_line(a, b, color=(0, 0, 0), width=0.8)
    else:
        page.draw_rect(box, color=(0, 0, 0), fill=(0.93, 0.95, 1.0), width=0.8)
    for k in range(3):  # an icon in the box's corner: the box now looks like a drawing
        page.draw_circle((500 + k * 8, 585 + k * 4), 3 + k, color=(0.8, 0.2, 0.2), width=0.8)
    _write(page, (90, 580, 490, 640), BOX)
    # page 3: an algorithm block between rules stays body
    page = _body_page(doc)
    for y in (350, 368, 450):
        page.draw_line((72, y), (540, y), color=(0, 0, 0), width=0.6)
    page.insert_text((72, 362), "Algorithm 1 Answering a question", fontsize=10, fontname="helv")
    _write(page, (72, 372, 540, 445), "We first retrieve the paragraphs that share the most words "
           "with the question, then ask the model to name its evidence before it answers, and finally "
           "we check that every cited paragraph exists in the paper.")
    path = tmp_path / ("synthetic-lines.pdf" if framed_lines else "synthetic.pdf")
    doc.save(path)
    return path


@pytest.mark.parametrize("framed_lines", [False, True])
def test_synthetic_figure_table_and_prose(tmp_path, framed_lines):
    paper = extract_paper(_synthetic(tmp_path, framed_lines))
    for label in ("Encoder", "Retriever", "Reader", "Input PDF pages 12"):
        hits = [p for p in paper.paragraphs if label in p.text]
        assert len(hits) == 1 and hits[0].kind == "figure", (label, [(p.text[:40], p.kind) for p in hits])
    table = [p for p in paper.paragraphs if p.page == 2 and re.match(r"(Model|Baseline|Ours|Oracle)\b", p.text)]
    assert table and all(p.kind == "figure" for p in table), [(p.text, p.kind) for p in table]
    assert _find(paper, "Figure 1:").kind == "caption"
    assert _find(paper, "Table 1:").kind == "caption"
    assert _find(paper, "Key finding").kind == "body"  # the framed prose box
    assert _find(paper, "We first retrieve").kind == "body"  # the ruled algorithm's text
    assert all(p.kind == "body" for p in paper.paragraphs if p.text == PROSE)
    assert sum(p.text == PROSE for p in paper.paragraphs) == 14
    assert "figure" in PARAGRAPH_KINDS
    figure_texts = {p.text for p in paper.paragraphs if p.kind == "figure"}
    assert figure_texts.isdisjoint(p.text for p in paper.body_paragraphs())


def test_page_without_graphics_has_no_figure_text(tmp_path):
    doc = pymupdf.open()
    page = _body_page(doc)
    page.insert_text((72, 410), "Region A", fontsize=10, fontname="helv")  # short, but no drawing near it
    doc.save(tmp_path / "plain.pdf")
    paper = extract_paper(tmp_path / "plain.pdf")
    assert not [p for p in paper.paragraphs if p.kind == "figure"]


# -- the shared papers ---------------------------------------------------------------
S2ORC_FIGURE_TEXT = [
    "Papers w/ Corpus body text", "Citation contexts", "Total papers 81.1M", "Statistic GROBID LATEX",
    "Domain Dataset Reference Task SCIBERT S2", "Region A", "Region B", "Filter Number of PDFs",
    "Filter Number of papers", "ELMO (Peters et al., 2018a)", "Web Text Corpus (2.8B)",
    "Evaluated task Title Authors", "Language model Training data",
]


def test_s2orc_tables_and_figures(papers_dir):
    paper = _paper(str(papers_dir / "2020.acl-main.447.pdf"))
    for start in S2ORC_FIGURE_TEXT:
        p = _find(paper, start)
        assert p.kind == "figure", (start, p.kind)
    prose = [p for p in paper.paragraphs if _prose(p.text)]
    assert len(prose) >= 90
    assert not [p.text[:60] for p in prose if p.kind == "figure"]
    assert not [p.text for p in paper.paragraphs if p.kind == "figure" and p.page in (1, 3, 8, 9)]
    # equations and list items are not figures
    assert _find(paper, "Stitle = J C").kind == "body"
    assert _find(paper, "3) Filter paper clusters").kind == "body"
    # figure text leaves the paragraphs the assistant and the summaries read
    body = {p.text for p in paper.body_paragraphs()}
    assert "Region A" not in body and "Total papers 81.1M" not in body


def test_papermage_table_and_code(papers_dir):
    paper = _paper(str(papers_dir / "papermage.pdf"))
    for start in ("Use case Description Examples", "Layout Structure", "Segments doc into visual block regions.",
                  "Full Grobid Subset Model"):
        assert _find(paper, start).kind == "figure", start
    # code listings on drawn background bands are not figures
    assert _find(paper, "1 >>> from papermage import Document").kind == "body"
    assert _find(paper, "1 >>> import papermage as pm").kind == "body"
    # prose in the text columns stays body
    assert _find(paper, "Research papers and textbooks are central").kind == "body"
    assert _find(paper, "Despite growing interest").kind == "body"


def test_ruled_form_is_not_a_table(papers_dir):
    """Multi-LexSum's datasheet separates questions with full-width rules: not a table."""
    paper = _paper(str(papers_dir / "2206.10883v3.pdf"))
    assert _find(paper, "Is there a label or target associated with each instance?").kind == "body"
    assert _find(paper, "Yes. The dataset is split into train/dev/test").kind == "body"
    assert _find(paper, "Dataset Samples Docs Words").kind == "figure"
    # a bold table cell read as a heading is table text, and does not end the table
    assert _find(paper, "Hold-out").kind == "figure"
    assert _find(paper, "K-fold 20%").kind == "figure"
    assert _find(paper, "D Negative social impact").kind == "heading"


def test_no_column_prose_becomes_figure(papers_dir):
    """In every shared paper, a prose paragraph set in the text column stays body, and
    each paper with tables or plots gets figure paragraphs."""
    found = {}
    for path in sorted(papers_dir.glob("*.pdf")):
        paper = _paper(str(path))
        figs = [p for p in paper.paragraphs if p.kind == "figure"]
        found[path.name] = len(figs)
        lefts: dict[int, set] = {}
        for p in paper.paragraphs:
            if p.kind == "body" and _prose(p.text):
                lefts.setdefault(round(p.bbox[0]), set()).add(p.page)
        edges = [x for x, pages in lefts.items() if len(pages) >= 3]
        wrong = [p.text[:60] for p in figs if _prose(p.text) and any(abs(p.bbox[0] - e) <= 2 for e in edges)]
        assert not wrong, (path.name, wrong)
    assert all(n > 0 for n in found.values()), found


def test_detector_failure_keeps_the_import(tmp_path, monkeypatch):
    """The detector refines kinds; if it breaks on an odd file the paper still imports."""
    from reader_app.pdf import figures

    def broken(*args, **kwargs):
        raise ValueError("odd drawing")

    monkeypatch.setattr(figures, "mark", broken)
    monkeypatch.setattr(figures, "page_graphics", broken)
    paper = extract_paper(_synthetic(tmp_path))
    assert paper.paragraphs and all(p.kind != "figure" for p in paper.paragraphs)
    assert any(p.text == PROSE and p.kind == "body" for p in paper.paragraphs)
