"""Big-PDF benchmark (issue D §5): a 2,000-page PDF next to a 30-page paper, same run.

    QT_QPA_PLATFORM=offscreen python tests/bench/bench_bigpdf.py [--pages 2000] [--runs 5]

Generates (PyMuPDF, into a temporary folder, never kept) a PDF of ``--pages`` pages of
realistic prose (headings, paragraphs, page numbers) and cuts a shared paper to 30 pages,
then prints, measured in this one run:

(a) the time from "open paper" to its first page drawn sharp in the real window
    (``MainWindow`` + ``PdfView`` with its out-of-process render helper), median of
    ``--runs`` openings, for both files, and the ratio big / small.  Goal: < 1 s.
(b) the peak RSS of the GUI process and of the render helper after opening each file
    (each file in a fresh GUI process, so the peaks are its own), and the ratios.
(c) ``reader-app add`` wall time and peak RSS (largest process of its tree) for both.

Each GUI measurement runs this script again as ``--child LIBRARY PAPER_ID``, which prints
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests")]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ui import make_30_pages, wait_until  # noqa: E402  (shared with the 30-page UI bench)
SHARED = REPO.parent / "shared" / "papers"

WORDS = (
    "the model attention layer training data set we propose method results show that our approach "
    "improves accuracy baseline over previous work evaluation benchmark language tokens sequence "
    "encoder decoder transformer paper section figure table experiments performance loss function "
    "gradient optimization learning rate batch size parameters network neural representation semantic "
    "context retrieval question answer evidence paragraph summary of in for with on is are by this"
).split()


def make_big_pdf(path: str | os.PathLike, pages: int = 2000, seed: int = 7) -> Path:
    """A ``pages``-page PDF of prose: a numbered heading, ~46 wrapped lines in paragraphs
    and a page number on each page (different text on every page).  ~3 s for 2,000 pages.

    Pages share one resource dictionary (Helvetica) and get hand-written content streams:
    ``insert_text`` per page would take 4x as long.
    """
    import pymupdf

    rng = random.Random(seed)
    doc = pymupdf.open()
    first = doc.new_page(width=612, height=792)
    first.insert_text((72, 60), " ", fontname="helv", fontsize=10)  # creates the font resource
    resources = doc.xref_get_key(first.xref, "Resources")[1]
    width = {w: pymupdf.get_text_length(w + " ", fontname="helv", fontsize=10) for w in WORDS}
    for i in range(pages):
        page = first if i == 0 else doc.new_page(width=612, height=792)
        chapter, part = i // 10 + 1, i % 10
        title = f"{chapter} Results on part {chapter}" if part == 0 else f"{chapter}.{part} Analysis of case {i + 1}"
        out = [f"BT /helv 14 Tf 72 732 Td ({title}) Tj ET", "BT /helv 10 Tf 13 TL 72 705 Td"]
        rows = 0
        while rows < 46:
            words = [rng.choice(WORDS) for _ in range(13 * min(46 - rows, rng.randint(4, 9)))]
            line, x = [words[0].capitalize()], 15.0 + width[words[0]]
            for w in words[1:]:
                if x + width[w] > 468:
                    out.append("(" + " ".join(line) + ") '")
                    line, x, rows = [], 0.0, rows + 1
                line.append(w)
                x += width[w]
            out += ["(" + " ".join(line) + ".) '", "() '"]
            rows += 2
        out.append(f"ET BT /helv 9 Tf 300 30 Td ({i + 1}) Tj ET")
        xref = doc.get_new_xref()
        doc.update_object(xref, "<<>>")
        doc.update_stream(xref, "\n".join(out).encode())
        doc.xref_set_key(page.xref, "Contents", f"{xref} 0 R")
        doc.xref_set_key(page.xref, "Resources", resources)
    doc.save(str(path), garbage=1, deflate=True)
    doc.close()
    return Path(path)




def vm_hwm_mb(pid: int | str = "self") -> float:
    """Peak resident set size of a live process, MB (Linux /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run_add(pdf: Path, library: Path) -> tuple[float, float, dict]:
    """``reader-app add PDF`` as a user runs it: (wall s, peak RSS MB of its process tree, JSON)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "reader_app", "add", str(pdf), "--library", str(library), "--json"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    # wait4's ru_maxrss: the largest process of the tree (the CLI and the extraction child it reaps)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    peak = usage.ru_maxrss / 1024
    if proc.returncode != 0:
        raise SystemExit(f"reader-app add failed ({proc.returncode}): {err.decode()[-500:]}")
    return wall, peak, json.loads(out)[0]




def child(library: str, paper_id: str, runs: int) -> int:
    """One GUI process: open ``paper_id`` ``runs`` times; print first-page ms and peak RSS."""
    from PySide6.QtCore import QSettings

    from fakes import FakeEngine
    from reader_app.app import Services, make_application
    from reader_app.pdf import render
    from reader_app.ui.window.main_window import MainWindow

    app = make_application()
    tmp = Path(tempfile.mkdtemp(prefix="bench-bigpdf-ui-"))
    services = Services(library, ui_settings=QSettings(str(tmp / "ui.ini"), QSettings.Format.IniFormat),
                        engine_factory=lambda **_kw: FakeEngine("Answer: yes"))
    win = MainWindow(services)
    win.resize(1400, 900)
    win.show()
    t = time.perf_counter()  # let start-up settle and the render helper start
    wait_until(app, lambda: time.perf_counter() - t > 3.0 and render._helper is not None
               and win.library_pane.papers.get(paper_id) is not None, 60)
    helper_pid = render._helper.proc.pid
    rss_before = vm_hwm_mb()
    helper_before = vm_hwm_mb(helper_pid)
    shown: list[float] = []
    win.pdf_view.firstPageShown.connect(lambda: shown.append(time.perf_counter()))
    firsts, pages = [], 0
    for _ in range(runs):
        win.pdf_view.close_document()
        win.paper = None
        app.processEvents()
        n = len(shown)
        t0 = time.perf_counter()
        win.open_paper(paper_id, page=1)
        wait_until(app, lambda: len(shown) > n, 60)
        firsts.append((shown[-1] - t0) * 1000)
        pages = win.pdf_view.page_count()
        t = time.perf_counter()  # the paper's text and side panel finish loading
        wait_until(app, lambda: time.perf_counter() - t > 1.0, 10)
    # scroll to the end and back: the view's cache and the helper stay bounded
    view = win.pdf_view
    for target in (pages // 2, pages, 1):
        view.go_to(target)
        wait_until(app, lambda: not view.renders.busy() and list(view.renders), 60)
    print(json.dumps({"first_ms": firsts, "pages": pages, "gui_peak_mb": vm_hwm_mb(),
                      "gui_before_mb": rss_before, "helper_peak_mb": vm_hwm_mb(helper_pid),
                      "helper_before_mb": helper_before}), flush=True)
    win.close()
    services.shutdown()
    return 0


def raw_first_page_ms(pdf: Path, scale: float = 1.6, runs: int = 5) -> float:
    import pymupdf

    times = []
    for _ in range(runs):
        t = time.perf_counter()
        d = pymupdf.open(pdf)
        d[0].get_pixmap(matrix=pymupdf.Matrix(scale, scale), alpha=False)
        times.append((time.perf_counter() - t) * 1000)
        d.close()
    return sorted(times)[len(times) // 2]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--paper", default=str(SHARED / "2206.10883v3.pdf"), help="a shared paper (cut to 30 pages)")
    ap.add_argument("--child", nargs=2, metavar=("LIBRARY", "PAPER_ID"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child[0], args.child[1], args.runs)
    if not Path(args.paper).exists():
        print(f"skip: {args.paper} not present")
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-bigpdf-") as tmp_s:
        tmp = Path(tmp_s)
        t = time.perf_counter()
        big = make_big_pdf(tmp / f"big-{args.pages}.pdf", args.pages)
        gen_s = time.perf_counter() - t
        small = make_30_pages(Path(args.paper), tmp / "thirty-pages.pdf")
        library = tmp / "library"
        rows = {}
        for name, pdf in (("30 pages", small), (f"{args.pages} pages", big)):
            wall, peak, res = run_add(pdf, library)
            rows[name] = {"pdf": pdf, "add_s": wall, "add_peak_mb": peak, "id": res["id"],
                          "mb": pdf.stat().st_size / 1e6, "raw_ms": raw_first_page_ms(pdf)}
        env = dict(os.environ, PYTHONPATH=str(REPO))
        for name, row in rows.items():
            proc = subprocess.run([sys.executable, __file__, "--runs", str(args.runs), "--child", str(library), row["id"]],
                                  cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode != 0 or not lines:
                raise SystemExit(f"GUI run failed for {name}: {proc.stderr[-800:]}")
            row.update(json.loads(lines[-1]))

    s, b = rows["30 pages"], rows[f"{args.pages} pages"]
    med = {k: sorted(r["first_ms"])[len(r["first_ms"]) // 2] for k, r in rows.items()}
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; generated {args.pages} pages "
          f"({b['mb']:.1f} MB) in {gen_s:.1f} s")
    print(f"{'':12} {'pages':>6} {'first page (median)':>20} {'raw PyMuPDF':>12} {'GUI peak':>9} {'helper peak':>12} "
          f"{'add':>7} {'add peak':>9}")
    for name, r in rows.items():
        print(f"{name:12} {r['pages']:6d} {med[name]:17.0f} ms {r['raw_ms']:9.0f} ms {r['gui_peak_mb']:6.0f} MB "
              f"{r['helper_peak_mb']:9.0f} MB {r['add_s']:6.1f}s {r['add_peak_mb']:6.0f} MB")
        print(f"{'':12} first-page runs: {', '.join(f'{x:.0f}' for x in r['first_ms'])} ms")
    print(f"ratio {args.pages} / 30 pages: first page {med[f'{args.pages} pages'] / med['30 pages']:.2f}x, "
          f"GUI peak RSS {b['gui_peak_mb'] / s['gui_peak_mb']:.2f}x, helper peak RSS "
          f"{b['helper_peak_mb'] / s['helper_peak_mb']:.2f}x, add time {b['add_s'] / s['add_s']:.1f}x, "
          f"add peak RSS {b['add_peak_mb'] / s['add_peak_mb']:.2f}x")
    print(f"goal: first page of the {args.pages}-page file < 1000 ms: "
          f"{'met' if med[f'{args.pages} pages'] < 1000 else 'NOT met'} ({med[f'{args.pages} pages']:.0f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
