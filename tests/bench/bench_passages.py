"""Enter-to-passages benchmark (not a test): prints figures measured in this run.

For each shared paper in a real library, the Ask panel gets a question by an Enter key
press; the time until the matching passages are on screen (``passagesShown`` and the
repaint that follows) is measured.  The model is a slow stand-in: passages must not
wait for it.                                                       target <= 0.2 s

    python tests/bench/bench_passages.py [--papers N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
PAPERS = REPO.parent / "shared" / "papers"
QUESTIONS = ["What is the main contribution of this paper?", "Which datasets are used in the experiments?",
             "How does the proposed method compare to the baselines?", "What are the limitations?"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tmp = Path(tempfile.mkdtemp(prefix="reader-app-bench-passages-"))
    os.environ["READER_APP_CONFIG_DIR"] = str(tmp / "config")
    os.environ["READER_APP_CACHE_DIR"] = str(tmp / "cache")
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from reader_app.app import Services
    from reader_app.library import Library
    from reader_app.pdf import extract_paper_isolated
    from reader_app.ui.background.ops import wait_for_ops
    from reader_app.ui.panel.side_panel import SidePanel
    from tests.fakes import FakeEngine

    app = QApplication.instance() or QApplication([])
    lib = Library.open(tmp / "library")
    ids = []
    for pdf in sorted(PAPERS.glob("*.pdf"))[: args.papers]:
        ids.append((pdf.name, lib.add_paper(extract_paper_isolated(str(pdf)), str(pdf))[0]))
    lib.close()
    services = Services(tmp / "library", ui_settings=QSettings(str(tmp / "ui.ini"), QSettings.IniFormat),
                        engine_factory=lambda **_kw: FakeEngine("1]\nAnswer: yes", delay=0.5))
    panel = SidePanel(services)
    panel.resize(420, 720)
    panel.show()
    ask = panel.ask_panel
    rows = []
    for name, pid in ids:
        panel.set_paper(pid)
        wait_for_ops()
        for q in QUESTIONS:
            shown: list[float] = []
            ask.passagesShown.connect(lambda _p, shown=shown: shown.append(time.perf_counter()))
            ask.question.setPlainText(q)
            start = time.perf_counter()
            QTest.keyClick(ask.question, Qt.Key_Return)
            while not shown and time.perf_counter() - start < 10:
                app.processEvents()
            ask.passages.repaint()  # on screen: painted
            end = time.perf_counter()
            ask.passagesShown.disconnect()
            rows.append({"paper": name, "question": q, "seconds": round(end - start, 4),
                         "passages": len(ask.passages.passages)})
            ask.stop()
            while ask.busy:
                app.processEvents()
    services.shutdown()
    times = [r["seconds"] for r in rows]
    result = {"questions": len(rows), "median_s": round(statistics.median(times), 4), "max_s": round(max(times), 4),
              "with_passages": sum(r["passages"] > 0 for r in rows), "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"Enter to passages on screen, {len(ids)} papers x {len(QUESTIONS)} questions: median "
              f"{result['median_s'] * 1000:.1f} ms, max {result['max_s'] * 1000:.1f} ms (target <= 200 ms); "
              f"{result['with_passages']}/{len(rows)} questions had passages")


if __name__ == "__main__":
    main()
