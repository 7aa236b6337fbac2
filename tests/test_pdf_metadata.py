"""The year a paper prints: date lines, years standing alone, page 2, never a citation's year."""

from __future__ import annotations

from pathlib import Path

import pymupdf

from reader_app.pdf import extract_paper
from reader_app.pdf.lines import Line
from reader_app.pdf.metadata import find_year

SCAN_DATE = {"creationDate": "D:20000629112620-04'00'"}  # what a digitising library writes
BODY = ("A number of mainly independent sequential processes with restricted means of communication "
        "with each other can be made in such a way that at any moment one and only one of them is "
        "engaged in the critical section of its cycle. ")


def _paper(path: Path, page1: list[tuple[float, float, str, float]], page2: list[tuple[float, float, str, float]]
           = (), meta: dict = SCAN_DATE) -> Path:
    """A born-digital paper: (x, y, text, size) pieces of text, a title, an author and
    body paragraphs on page 1 and, when given, page 2."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 90), "Solution of a Problem in Concurrent Control", fontsize=18, fontname="hebo")
    page.insert_text((72, 120), "Edsger W. Dijkstra", fontsize=11)
    page.insert_textbox(pymupdf.Rect(72, 300, 540, 560), BODY * 4, fontsize=10)
    for x, y, text, size in page1:
        page.insert_text((x, y), text, fontsize=size)
    if page2:
        p2 = doc.new_page()
        p2.insert_textbox(pymupdf.Rect(72, 72, 540, 500), BODY * 5, fontsize=10)
        for x, y, text, size in page2:
            p2.insert_text((x, y), text, fontsize=size)
    doc.set_metadata(meta)
    doc.save(path)
    return path


def test_a_year_standing_alone_under_the_title_block_beats_the_scan_date(tmp_path):
    pdf = _paper(tmp_path / "p.pdf", [(280, 150, "1965", 11)])
    assert extract_paper(pdf).year == 1965


def test_a_footer_date_set_in_pieces_is_read_whole(tmp_path):
    # a journal footer whose words sit a little off one baseline, as an OCR layer has them:
    # MuPDF gives "Volume 8 / Number 9 /", "September," and "1965" as three lines
    pdf = _paper(tmp_path / "p.pdf", [(72, 740, "Volume 8 / Number 9 /", 8), (160, 740, "September,", 8),
                                      (212, 741.5, "1965", 8)])
    assert extract_paper(pdf).year == 1965


def test_a_copyright_line_on_page_2_when_page_1_prints_no_year(tmp_path):
    pdf = _paper(tmp_path / "p.pdf", [], [(72, 760, "Copyright 2004 by the authors. All rights reserved.", 8)],
                 {"creationDate": "D:20090324113315-06'00'"})
    assert extract_paper(pdf).year == 2004


def test_the_running_head_of_page_2_but_not_its_text(tmp_path):
    meta = {"creationDate": "D:19990512050727"}
    head = (72, 40, "Journal of the ACM, Vol. 32, No. 2, April 1985.", 8)
    cited = (72, 560, "as in the Proceedings of the Symposium on Operating Systems Principles, 1979.", 10)
    assert extract_paper(_paper(tmp_path / "a.pdf", [], [head, cited], meta)).year == 1985
    assert extract_paper(_paper(tmp_path / "b.pdf", [], [cited], meta)).year == 1999


def test_the_file_date_when_the_paper_prints_no_year(tmp_path):
    pdf = _paper(tmp_path / "p.pdf", [], [], {"creationDate": "D:20090324113315-06'00'"})
    assert extract_paper(pdf).year == 2009


def test_a_year_in_a_citation_or_a_page_range_is_not_the_papers():
    meta = {"creationDate": "D:20130512111229-07'00'"}
    for line in ("[12] L. Lamport. Time, clocks. Communications of the ACM, July 1978.",
                 "as shown by (Chandy and Lamport, 1985) in Transactions on Computer Systems",
                 "first studied by Fischer et al. in Journal of the ACM, April 1985",
                 "Journal of Foo 12, pages 1999-2005"):
        assert find_year(None, f"Copysets\n{line}\nAbstract", meta) == 2013, line
    # the paper's own venue line still counts
    assert find_year(None, "Theoretical Computer Science 321 (2004) 5-12", meta) == 2004


def _line(text: str, x0: float, y0: float, size: float = 10.0) -> Line:
    return Line(page=1, block=0, x0=x0, y0=y0, x1=x0 + 5.5 * len(text), y1=y0 + size, text=text, size=size, bold=0.0)


def test_a_lone_year_must_stand_alone_in_print_size():
    meta = {"creationDate": "D:20130512111229-07'00'"}
    body = [_line("Random replication is widely used in data center storage", 72, 300 + 12 * i) for i in range(20)]
    tick = _line("2000", 400, 120, size=5)  # a figure's tick label
    wrapped = [_line("comments must reach the agency by September 21,", 72, 690), _line("2020.", 72, 702)]
    lines = body + [tick] + wrapped
    text = "\n".join(l.text for l in lines)
    assert find_year(None, text, meta, lines, 792.0) == 2013
    thesis = _line("2012", 296, 697)  # a thesis's title page: the year centred at the foot
    assert find_year(None, text + "\n2012", meta, body + [thesis], 792.0) == 2012


def test_a_scanned_page_does_not_take_the_scan_date():
    assert find_year(None, "Solution of a Problem\nE. W. Dijkstra", SCAN_DATE, scanned=True) is None
    assert find_year(None, "Solution of a Problem\nE. W. Dijkstra", SCAN_DATE) == 2000
    # a received / revised date is the best a scan can do when nothing else is printed
    text = "Received June 13, 1964; revised April 3, 1965\nSolution of a Problem"
    assert find_year(None, text, SCAN_DATE, scanned=True) == 1965


def test_an_arxiv_id_and_a_printed_date_line():
    assert find_year("2304.02623", "arXiv:2304.02623v1 [cs.CL] 5 Apr 2023", SCAN_DATE) == 2023
    assert find_year(None, "SOSP'03, October 19-22, 2003, Bolton Landing", SCAN_DATE) == 2003
    assert find_year(None, "Received June 13, 1984\nVol. 31, No. 2, October 1985", SCAN_DATE) == 1985


def test_a_dated_line_on_page_2():
    meta = {"creationDate": "D:20090324113315-06'00'"}
    title = [_line("Tor: The Second-Generation Onion Router", 72, 90, 18)]
    for dated in ("Dated: 12/05/2004", "This version: May 2004", "Draft of October 7, 2004"):
        assert find_year(None, title[0].text, meta, title, 792.0, [_line(dated, 72, 400)]) == 2004, dated
    assert find_year(None, title[0].text, meta, title, 792.0, [_line("the 2004 election results", 72, 400)]) == 2009
