"""Import time of a paper carrying 1,000 annotations against the same paper without them.

    PYTHONPATH=. python tests/bench/bench_highlights.py [PAPER.pdf ...] [--n 1000] [--runs 5]

For each paper: a copy with N highlight annotations (on words spread over its pages) is
made with PyMuPDF; both are imported (isolated extraction + Library.add_paper, as
``reader-app add`` does) into fresh libraries, ``runs`` times; the medians and their ratio
are printed (issue L: the ratio should stay <= 2).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from reader_app.library import Library  # noqa: E402
from reader_app.pdf import extract_paper_isolated  # noqa: E402

PAPERS = ROOT.parent / "shared" / "papers"


def annotate(src: Path, out: Path, n: int) -> int:
    import pymupdf  # the benchmark makes its input; the app reads it through reader_app.pdf

    doc = pymupdf.open(src)
    pages = list(doc)
    words = [(page.number, w) for page in pages for w in page.get_text("words")]
    step = max(1, len(words) // n)
    made = 0
    for pno, w in words[::step][:n]:
        annot = pages[pno].add_highlight_annot(pymupdf.Rect(w[:4]))
        annot.set_info(content=f"note {made}", title="bench")
        annot.update()
        made += 1
    doc.save(out)
    return made


def import_time(pdf: Path, tmp: Path, runs: int) -> tuple[float, int]:
    times, found = [], 0
    for i in range(runs):
        folder = tmp / f"lib-{pdf.stem}-{i}"
        t = time.perf_counter()
        with Library.open(folder) as lib:
            paper = extract_paper_isolated(str(pdf))
            pid, _ = lib.add_paper(paper, str(pdf))
            found = len(lib.highlights(pid))
        times.append(time.perf_counter() - t)
    return statistics.median(times), found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("papers", nargs="*")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    papers = [Path(p) for p in args.papers] or [PAPERS / "2304.02623v1.pdf", PAPERS / "papermage.pdf"]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print(f"{'paper':28} {'pages':>5} {'annots':>6} {'plain s':>8} {'annot s':>8} {'ratio':>6} {'kept':>5}")
        for src in papers:
            annotated = tmp / f"{src.stem}-annotated.pdf"
            made = annotate(src, annotated, args.n)
            plain, _ = import_time(src, tmp, args.runs)
            with_annots, kept = import_time(annotated, tmp, args.runs)
            with Library.open(tmp / "pages") as lib:
                pages = lib.get_paper(lib.add_paper(extract_paper_isolated(str(src)), str(src))[0],
                                      with_paragraphs=False).pages
            print(f"{src.name[:28]:28} {pages:5d} {made:6d} {plain:8.3f} {with_annots:8.3f} "
                  f"{with_annots / plain:6.2f} {kept:5d}")


if __name__ == "__main__":
    main()
