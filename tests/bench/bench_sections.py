"""Structure benchmark: section recall / precision, metadata accuracy and ingest ratio.

For each paper of ../shared/papers-pwl (gold: its ``sections-gold.json``) and
../shared/papers (gold: tests/gold/papers-sections.json) it prints:

  recall     gold top-level headings found: some detected section title contains the
             heading, ignoring case, punctuation, ligatures (NFKC), quotes and hyphens
  precision  detected top-level titles that are gold headings (a title counts when it
             contains a gold heading); titles the gold leaves out by rule (Abstract,
             Acknowledgements, References, Notes, Contents, a bare "Appendix") are not
             counted either way
  ratio      CPU time of a whole process calling extract_paper / of one calling raw
             ``page.get_text()`` on every page (papers read through OCR are budgeted
             separately: their rows are marked ``ocr`` with the import's wall time)

and, for papers-pwl, title / first-author / year accuracy against tests/gold/pwl-metadata.json.

Usage: python tests/bench/bench_sections.py [--set pwl|papers|both] [--only SUBSTR] [-v]
       python tests/bench/bench_sections.py --metadata-only   (title / first author / year
       per paper, without the section table and ingest timing)
       python tests/bench/bench_sections.py --scan   (OCR budget: a 12-page scan made by
       rasterising a shared paper, imported with OCR; target < 60 s on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

from tests.gold import gold_heading, make_scan, matches, meta_scores, norm  # noqa: E402


RAW = "import sys, pymupdf; d = pymupdf.open(sys.argv[1]); [p.get_text() for p in d]"
EXTRACT = "import sys; from reader_app.pdf import extract_paper; extract_paper(sys.argv[1])"


def _process_cpu(code: str, pdf: Path) -> float:
    """CPU seconds (user + sys) of a whole ``python -c code pdf`` process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-c", code, str(pdf)], cwd=ROOT, env=env, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def score_sections(titles: list[str], gold: list[str]) -> tuple[int, int, int]:
    """(gold found, detected counted, detected that are gold) for one paper."""
    found = sum(1 for g in gold if any(matches(t, g) for t in titles))
    counted = [t for t in titles if gold_heading(t)]
    good = sum(1 for t in counted if any(matches(t, g) for g in gold))
    return found, len(counted), good


def run_set(name: str, pdfs: list[Path], gold: dict, meta_gold: dict | None, verbose: bool) -> dict:
    from reader_app.pdf import extract_paper

    print(f"\n== {name}: {len(pdfs)} papers ==")
    hdr = f"{'paper':44} {'pages':>5} {'gold':>4} {'found':>5} {'det':>4} {'ok':>4} {'recall':>6} {'prec':>6} {'ratio':>6}"
    print(hdr)
    print("-" * len(hdr))
    recalls, precs, ratios, ocr_rows = [], [], [], []
    metas = []
    tot_ok = tot_det = 0
    for pdf in pdfs:
        w = time.perf_counter()
        paper = extract_paper(pdf)
        wall = time.perf_counter() - w
        top = [s.title for s in paper.sections if s.level == 1]
        g = gold.get(pdf.name)
        ocr = bool(getattr(paper, "ocr_pages", None))
        ratio = _process_cpu(EXTRACT, pdf) / max(_process_cpu(RAW, pdf), 1e-3) if not ocr else 0.0
        mark = f" ocr {len(paper.ocr_pages)}p {wall:.1f}s" if ocr else ""
        if g is None:
            print(f"{pdf.name[:44]:44} {paper.pages:5d}  (no gold){mark}")
            continue
        found, det, ok = score_sections(top, g)
        rec = found / len(g) if g else 1.0  # nothing to find (false finds count in precision)
        prec = ok / det if det else (1.0 if not g else 0.0)
        recalls.append(rec)
        tot_ok, tot_det = tot_ok + ok, tot_det + det
        precs.append(prec)
        (ocr_rows if ocr else ratios).append(ratio)
        print(f"{pdf.name[:44]:44} {paper.pages:5d} {len(g):4d} {found:5d} {det:4d} {ok:4d} {rec:6.2f} {prec:6.2f} {ratio:6.2f}{mark}")
        if verbose:
            miss = [x for x in g if not any(matches(t, x) for t in top)]
            extra = [t for t in top if gold_heading(t) and not any(matches(t, x) for x in g)]
            if miss:
                print(f"    missed: {miss}")
            if extra:
                print(f"    extra:  {extra}")
        if meta_gold is not None and pdf.name in meta_gold:
            m = meta_scores(paper, meta_gold[pdf.name])
            metas.append(m)
            if verbose and not all(m):
                print(f"    meta: title {paper.title!r} authors {paper.authors[:3]} year {paper.year}")
    print("-" * len(hdr))
    out = {"recall": statistics.mean(recalls) if recalls else 0.0,
           "precision": statistics.mean(precs) if precs else 0.0,
           "pooled precision": tot_ok / tot_det if tot_det else 0.0}
    print(f"{name}: mean recall {out['recall']:.3f}   mean precision {out['precision']:.3f} "
          f"(pooled {out['pooled precision']:.3f} = {tot_ok}/{tot_det})   "
          f"papers with gold headings and none found: "
          f"{sum(1 for r, p in zip(recalls, pdfs) if r == 0 and gold.get(p.name))}")
    if ratios:
        print(f"{name}: ingest ratio (extract CPU / raw get_text CPU, born-digital): median "
              f"{statistics.median(ratios):.2f}, max {max(ratios):.2f} (target <= 3)")
    if ocr_rows:
        print(f"{name}: {len(ocr_rows)} papers read with OCR (budgeted separately)")
    if metas:
        n = len(metas)
        for i, what in enumerate(("title", "first author", "year")):
            print(f"{name}: {what} accuracy {sum(m[i] for m in metas)}/{n} = {sum(m[i] for m in metas) / n:.2f}")
            out[what] = sum(m[i] for m in metas) / n
    return out


def run_metadata(name: str, pdfs: list[Path], meta_gold: dict | None) -> dict:
    """Title, first author and year only (no section table, no ingest timing)."""
    from reader_app.pdf import extract_paper

    print(f"\n== {name}: {len(pdfs)} papers, metadata ==")
    metas, out = [], {}
    for pdf in pdfs:
        paper = extract_paper(pdf)
        gold = (meta_gold or {}).get(pdf.name)
        first = paper.authors[0] if paper.authors else None
        if gold is None:
            print(f"{pdf.name[:44]:44} year {paper.year}  arXiv {paper.arxiv_id}  first author {first!r}")
            continue
        m = meta_scores(paper, gold)
        metas.append(m)
        wrong = [f"{what} {got!r} (gold {want!r})" for ok, what, got, want in zip(
            m, ("title", "first author", "year"), (paper.title, first, paper.year),
            (gold["title"], (gold["authors"] or [None])[0], gold["year"])) if not ok]
        print(f"{pdf.name[:44]:44} {'ok' if all(m) else '; '.join(wrong)}")
    for i, what in enumerate(("title", "first author", "year")):
        if metas:
            got = sum(m[i] for m in metas)
            print(f"{name}: {what} accuracy {got}/{len(metas)} = {got / len(metas):.2f}")
            out[what] = got / len(metas)
    return out


def bench_scan(pages: int = 12) -> None:
    """A 12-page scan (200 dpi, no text layer) made from a shared paper, imported with OCR."""
    import pymupdf

    from reader_app.pdf import extract_paper
    from reader_app.pdf.ocr import ocr_available

    if not ocr_available():
        print("OCR unavailable (tesseract not installed): scan benchmark skipped")
        return
    src = SHARED / "papers-pwl" / "pwl__tor-the-second-generation-onion-router.pdf"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scan.pdf"
        make_scan(src, out, pages)
        t = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu0 = time.process_time()
        paper = extract_paper(out)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = time.process_time() - cpu0 + (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    words = sum(len(p.text.split()) for p in paper.paragraphs)
    print(f"\n== scan: {pages} pages rasterised at 200 dpi from {src.name} ==")
    print(f"import with OCR: {wall:.1f} s wall ({wall / pages:.2f} s/page), OCR'd pages {len(paper.ocr_pages)}, "
          f"{words} words, {len(paper.sections)} sections (target < 60 s on 2 cores)")
    print(f"CPU time, this process and its tesseract processes: {cpu:.1f} s, so {cpu / 2:.1f} s of wall "
          f"time at least on 2 idle cores (machine load now {os.getloadavg()[0]:.1f})")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=("pwl", "papers", "both"), default="both")
    ap.add_argument("--only", default="")
    ap.add_argument("--scan", action="store_true")
    ap.add_argument("--metadata-only", action="store_true", help="title / first author / year only")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.scan:
        bench_scan()
        return 0
    gold_dir = ROOT / "tests" / "gold"
    if args.set in ("pwl", "both"):
        d = SHARED / "papers-pwl"
        gold = json.loads((d / "sections-gold.json").read_text())
        mfile = gold_dir / "pwl-metadata.json"
        meta = json.loads(mfile.read_text()) if mfile.exists() else None
        pdfs = [p for p in sorted(d.glob("*.pdf")) if args.only in p.name]
        if args.metadata_only:
            run_metadata("papers-pwl", pdfs, meta)
        else:
            run_set("papers-pwl", pdfs, gold, meta, args.verbose)
    if args.set in ("papers", "both"):
        d = SHARED / "papers"
        gfile = gold_dir / "papers-sections.json"
        gold = json.loads(gfile.read_text()) if gfile.exists() else {}
        pdfs = [p for p in sorted(d.glob("*.pdf")) if args.only in p.name]
        if args.metadata_only:
            run_metadata("papers", pdfs, None)
        else:
            run_set("papers", pdfs, gold, None, args.verbose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
