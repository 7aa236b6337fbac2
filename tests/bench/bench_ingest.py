"""Ingest benchmark: importing a paper vs raw PyMuPDF text extraction, whole processes.

For each paper in ../shared/papers it times, in the same run and interleaved:
  raw   python -c "import pymupdf; [p.get_text() for p in pymupdf.open(FILE)]"
  ours  python -m reader_app add FILE --library TMP --json   (the real import: extraction
        in a child process, copy into the library, SQLite writes); falls back to a
        process calling reader_app.pdf.extract_paper when the CLI cannot add.
Each figure is the best of --repeat runs (wall clock, and CPU time of the process tree,
which is steadier on a shared machine). Target (issue A): ours / raw <= 3.

Usage: python tests/bench/bench_ingest.py [--repeat N] [PDF ...]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

RAW = "import sys, pymupdf; d = pymupdf.open(sys.argv[1]); [p.get_text() for p in d]"
EXTRACT = "import sys; from reader_app.pdf import extract_paper; extract_paper(sys.argv[1])"


def _run(cmd: list[str], env: dict) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("pdfs", nargs="*")
    args = ap.parse_args()
    pdfs = [Path(p) for p in args.pdfs] or sorted((SHARED / "papers").glob("*.pdf"))
    if not pdfs:
        print("no PDFs (../shared/papers missing)")
        return 1

    from reader_app.pdf import extract_paper

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    py = sys.executable
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        use_cli = True
        for pdf in pdfs:
            raw_w, raw_c, ours_w, ours_c = [], [], [], []
            for i in range(args.repeat):
                w, c, rc = _run([py, "-c", RAW, str(pdf)], env)
                raw_w.append(w), raw_c.append(c)
                lib = Path(tmp) / f"lib-{pdf.stem}-{i}"  # fresh library: never a duplicate
                if use_cli:
                    w, c, rc = _run([py, "-m", "reader_app", "add", str(pdf), "--library", str(lib), "--json"], env)
                    if rc != 0:
                        print(f"(CLI add failed with exit {rc}; timing a process calling extract_paper instead)")
                        use_cli = False
                if not use_cli:
                    w, c, rc = _run([py, "-c", EXTRACT, str(pdf)], env)
                ours_w.append(w), ours_c.append(c)
            t = time.perf_counter()
            paper = extract_paper(pdf)
            inproc = time.perf_counter() - t
            rows.append((pdf.name, min(raw_w), min(ours_w), min(raw_c), min(ours_c), inproc, paper))

    what = "reader-app add" if use_cli else "extract_paper process"
    print(f"ours = `{what}`; best of {args.repeat}; wall = elapsed seconds, cpu = user+sys of the process tree\n")
    hdr = f"{'paper':28} {'pages':>5} {'paras':>5} {'raw wall':>8} {'ours wall':>9} {'ratio':>6} {'raw cpu':>7} {'ours cpu':>8} {'ratio':>6} {'extract':>7}"
    print(hdr)
    print("-" * len(hdr))
    wall_ratios, cpu_ratios = [], []
    for name, rw, ow, rc, oc, inproc, p in rows:
        wr, cr = ow / rw, oc / max(rc, 1e-6)
        wall_ratios.append(wr), cpu_ratios.append(cr)
        print(f"{name[:28]:28} {p.pages:5d} {len(p.paragraphs):5d} {rw:8.2f} {ow:9.2f} {wr:6.2f} {rc:7.2f} {oc:8.2f} {cr:6.2f} {inproc:7.2f}")
    print("-" * len(hdr))
    print(f"wall ratio: median {statistics.median(wall_ratios):.2f}, max {max(wall_ratios):.2f}   "
          f"cpu ratio: median {statistics.median(cpu_ratios):.2f}, max {max(cpu_ratios):.2f}   (target <= 3)")
    print()
    for name, *_, p in rows:
        kinds = {k: sum(1 for q in p.paragraphs if q.kind == k) for k in ("body", "heading", "caption", "footnote", "reference")}
        print(f"{name}: {p.title!r}")
        print(f"  arXiv {p.arxiv_id}  DOI {p.doi}  year {p.year}  authors {len(p.authors)}  kinds {kinds}")
        print("  sections: " + " | ".join(("  " * (s.level - 1)) + s.title for s in p.sections))
        if p.warnings:
            print(f"  warnings: {p.warnings}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
