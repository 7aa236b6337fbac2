"""Preparation benchmarks (not a test): prints figures measured in this run.

(a) preparation time per shared paper (``reader-app prepare``, a new process each);
(b) first question after preparation / first question without, each in a NEW process
    (``reader-app ask --json`` TTFT, which includes writing demonstrations when they
    are not stored yet)                                   target <= 0.10, and <= 2 s
(c) the GUI's longest stall while a paper prepares (the Ask panel preparing with the
    real model in its own process; a 5 ms timer measures the gaps)   target <= 50 ms

    python tests/bench/bench_prepare.py [--papers N] [--model PATH] [--skip gui] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
PAPERS = REPO.parent / "shared" / "papers"
QUESTION = "What is the main contribution of this paper?"


def cli(args: list[str], env: dict) -> dict | list:
    proc = subprocess.run([sys.executable, "-m", "reader_app", *args, "--json"], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=3600)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed: {proc.stderr[-1500:]}")
    out = proc.stdout.strip()
    return json.loads(out) if not out.startswith("{") or "\n{" not in out else [json.loads(x) for x in out.splitlines()]


def make_library(folder: Path, pdfs: list[Path]) -> list[str]:
    from reader_app.library import Library
    from reader_app.pdf import extract_paper_isolated

    lib = Library.open(folder)
    ids = []
    try:
        for pdf in pdfs:
            ids.append(lib.add_paper(extract_paper_isolated(str(pdf)), str(pdf))[0])
    finally:
        lib.close()
    return ids


def bench_papers(pdfs: list[Path], engine_args: list[str], work: Path, ttft_papers: int) -> list[dict]:
    base = work / "library"
    ids = make_library(base, pdfs)
    rows = []
    for i, (pdf, pid) in enumerate(zip(pdfs, ids)):
        cold_lib, prep_lib = work / f"cold-{pid[:8]}", work / f"prep-{pid[:8]}"
        shutil.copytree(base, cold_lib)
        shutil.copytree(base, prep_lib)
        env = dict(os.environ, PYTHONPATH=str(REPO))
        cold_env = dict(env, READER_APP_CACHE_DIR=str(work / f"cache-cold-{pid[:8]}"))
        prep_env = dict(env, READER_APP_CACHE_DIR=str(work / f"cache-prep-{pid[:8]}"))
        t0 = time.perf_counter()
        prepared = cli(["prepare", pid[:12], "--library", str(prep_lib), *engine_args], prep_env)
        prep_wall = time.perf_counter() - t0
        prepared = prepared[0] if isinstance(prepared, list) else prepared
        row = {"paper": pdf.name, "windows": prepared["windows"], "prefix_tokens": prepared["prefix_tokens"],
               "prepare_s": prepared["seconds"], "prepare_wall_s": round(prep_wall, 1)}
        if i < ttft_papers:
            cold = cli(["ask", pid[:12], QUESTION, "--library", str(cold_lib), *engine_args], cold_env)
            warm = cli(["ask", pid[:12], QUESTION, "--library", str(prep_lib), *engine_args], prep_env)
            row.update({"ttft_unprepared_s": cold["timings"]["ttft_s"], "ttft_prepared_s": warm["timings"]["ttft_s"],
                        "ratio": round(warm["timings"]["ttft_s"] / max(cold["timings"]["ttft_s"], 1e-9), 4),
                        "cached_tokens": warm["timings"]["cached_tokens"],
                        "prompt_tokens": warm["timings"]["prompt_tokens"]})
        rows.append(row)
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def bench_gui_stall(pdf: Path, model: str | None, work: Path, limit_s: float) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["READER_APP_CACHE_DIR"] = str(work / "cache-gui")
    os.environ["READER_APP_CONFIG_DIR"] = str(work / "config-gui")
    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from reader_app.app import Services
    from reader_app import settings
    from reader_app.ui.panel.side_panel import SidePanel

    app = QApplication.instance() or QApplication([])
    (pid,) = make_library(work / "library-gui", [pdf])
    settings.set_value("prepare_on_open", True)
    if model:
        settings.set_value("model", model)
    services = Services(work / "library-gui", ui_settings=QSettings(str(work / "ui.ini"), QSettings.IniFormat))
    panel = SidePanel(services)
    panel.resize(420, 720)
    panel.show()
    clock = QElapsedTimer()
    gaps: list[float] = []
    last = [0.0]

    def tick():
        now = clock.nsecsElapsed() / 1e6
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    status = panel.ask_panel.prepare_status
    start = time.perf_counter()
    clock.start()
    timer.start()
    panel.set_paper(pid)
    while status.state != "ready" and time.perf_counter() - start < limit_s:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    seconds = time.perf_counter() - start
    services.shutdown()
    steady = gaps[5:] or gaps
    return {"paper": pdf.name, "state": status.state, "progress": status.bar.value(), "seconds": round(seconds, 1),
            "longest_stall_ms": round(max(steady) - 5, 1), "ticks": len(gaps)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=7, help="first N of the shared papers (sorted by name)")
    ap.add_argument("--model", default=None, help="NAME or PATH (default: the embedded model)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--gui-seconds", type=float, default=120, help="watch the GUI for at most this long")
    ap.add_argument("--ttft-papers", type=int, default=7, help="compare first-question TTFT on the first N")
    ap.add_argument("--skip", choices=("papers", "gui"), action="append", default=[])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    pdfs = sorted(PAPERS.glob("*.pdf"))[: args.papers]
    if not pdfs:
        raise SystemExit(f"no papers in {PAPERS}")
    engine_args = (["--model", args.model] if args.model else []) + (["--threads", str(args.threads)]
                                                                     if args.threads else [])
    result: dict = {"model": args.model or "embedded"}
    with tempfile.TemporaryDirectory(prefix="reader-app-bench-prepare-") as tmp:
        work = Path(tmp)
        if "papers" not in args.skip:
            result["papers"] = bench_papers(pdfs, engine_args, work, args.ttft_papers)
        if "gui" not in args.skip:
            result["gui"] = bench_gui_stall(pdfs[0], args.model, work, args.gui_seconds)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for r in result.get("papers", []):
        line = (f"{r['paper']:28s} prepare {r['prepare_s']:7.1f} s ({r['windows']} windows, {r['prefix_tokens']} "
                "prefix tokens)")
        if "ratio" in r:
            line += (f"; first-question TTFT {r['ttft_unprepared_s']:.2f} s unprepared, {r['ttft_prepared_s']:.2f} s "
                     f"prepared = {r['ratio']}")
        print(line)
    if "gui" in result:
        g = result["gui"]
        print(f"GUI while preparing {g['paper']} ({g['seconds']} s, {g['state']} {g['progress']}%): longest stall "
              f"{g['longest_stall_ms']} ms (target <= 50)")


if __name__ == "__main__":
    main()
