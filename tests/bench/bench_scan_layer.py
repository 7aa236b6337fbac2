"""Scan text layers (issue M): what checking a layer against OCR costs and what it drops.

  time      a genuine OCRmyPDF-style scan (a shared paper's first pages rendered to images,
            its own text laid over them invisibly at the same places) imported by this
            checkout and by another one (``--against DIR``, e.g. /work/main), alternating,
            each import in a fresh process; prints the wall times and their medians
  quality   how many of the layer's words a fresh OCR of the same pages reads (the layer is
            the paper's own text here, so this is fresh OCR's word recall): why the checked
            layer, not OCR, gives a page its text
  real      for each real scan with an invisible layer in ../shared/papers-pwl: layer lines
            checked, lines OCR does not see (left out), and those among them that hold words
            (named in the import's warning): the false alarms of the check

Usage: python tests/bench/bench_scan_layer.py [--pages 4] [--runs 3] [--against /work/main] [--skip-real]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

import pymupdf  # noqa: E402

from reader_app.pdf import extract, layercheck, ocr  # noqa: E402
from reader_app.pdf.lines import read_page  # noqa: E402

PAPER = SHARED / "papers-pwl" / "pwl__bitcoin.pdf"


def layered_scan(src: Path, out: Path, pages: int) -> None:
    doc, scan = pymupdf.open(src), pymupdf.open()
    for i in range(min(pages, doc.page_count)):
        spage = doc[i]
        page = scan.new_page(width=spage.rect.width, height=spage.rect.height)
        page.insert_image(page.rect, pixmap=spage.get_pixmap(dpi=200, colorspace=pymupdf.csGRAY))
        for block in spage.get_text("dict")["blocks"]:
            for line in block.get("lines", ()):
                for span in line["spans"]:
                    if span["text"].strip():
                        page.insert_text(span["origin"], span["text"], fontsize=span["size"], render_mode=3)
    scan.save(out)


def timed_import(checkout: Path, pdf: Path) -> tuple[float, str]:
    code = ("import sys, time; t = time.time(); from reader_app.pdf import extract_paper; "
            f"p = extract_paper({str(pdf)!r}); print(round(time.time() - t, 2), p.warnings)")
    out = subprocess.run([sys.executable, "-c", code], cwd=checkout, capture_output=True, text=True,
                         env={"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"}, check=True)
    secs, warnings = out.stdout.strip().split(" ", 1)
    return float(secs), warnings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--against", type=Path)
    ap.add_argument("--skip-real", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pdf = Path(tmp) / "layered.pdf"
        layered_scan(PAPER, pdf, args.pages)
        checkouts = [ROOT] + ([args.against.resolve()] if args.against else [])
        times: dict[Path, list[float]] = {c: [] for c in checkouts}
        for run in range(args.runs):
            for c in (checkouts if run % 2 == 0 else checkouts[::-1]):
                secs, warnings = timed_import(c, pdf)
                times[c].append(secs)
                print(f"run {run + 1}  {c}  {secs:6.2f} s  {warnings}")
        for c, ts in times.items():
            print(f"median {statistics.median(ts):6.2f} s  {c}  ({args.pages}-page layered scan)")

        doc = pymupdf.open(pdf)
        nums = list(range(1, doc.page_count + 1))
        lines, _ = ocr.ocr_pages(doc, nums)
        have = want = 0
        for num in nums:
            layer = Counter(t for ln in read_page(doc[num - 1], num, ocr_layer=True).lines
                            for t in layercheck.tokens(ln.text))
            seen = Counter(t for ln in lines.get(num, []) for t in layercheck.tokens(ln.text))
            want += sum(layer.values())
            have += sum((layer & seen).values())
        print(f"fresh OCR reads {have}/{want} = {have / max(want, 1):.3f} of the layer's words exactly")

    if args.skip_real:
        return
    print(f"{'real scan':55} pages  lines  left out  with words")
    for path in sorted((SHARED / "papers-pwl").glob("*.pdf")):
        doc = pymupdf.open(path)
        layers = {}
        for i in range(doc.page_count):
            pg = read_page(doc[i], i + 1)
            if extract._scanned(doc[i], pg) and "invisible" in pg.hidden:
                lp = read_page(doc[i], i + 1, ocr_layer=True)
                if ocr.usable(lp.raw_text):
                    layers[i + 1] = lp.lines
        if not layers:
            continue
        words: dict = {}
        ocr.ocr_pages(doc, sorted(layers), words=words)
        total = out = wordy = 0
        for num, layer in layers.items():
            _, hidden = layercheck.check(layer, words.get(num, []))
            total += len(layer)
            out += len(hidden)
            wordy += sum(1 for ln in hidden if layercheck.says_something(ln))
        print(f"{path.name[:55]:55} {len(layers):5}  {total:5}  {out:8}  {wordy:10}")


if __name__ == "__main__":
    start = time.time()
    main()
    print(f"({time.time() - start:.0f} s)")
