"""Screenshot of the confidence badge by an answer (docs/confidence-badge.png).

    xvfb-run -a -s "-screen 0 1600x1000x24" env QT_QPA_PLATFORM=xcb \\
        python tests/bench/shot_confidence.py [--out docs/confidence-badge.png]

Imports a shared paper into a temporary library, asks two questions in the Ask tab and
grabs the window after the second.  The model is a scripted FakeEngine that quotes the
paragraph sharing most words with the question and reports token probabilities: sure of the
first answer, unsure of the second, so the picture shows a low-confidence badge ("check the
cited paragraph") and, in the history, the first answer.  The badge's levels come from
assistant/confidence.py as for a real model; the wording of the answers is the script's.
Prints each answer with its confidence.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO)]
SHARED = REPO.parent / "shared" / "papers"
PAPER = "2304.02623v1.pdf"
QUESTIONS = ("How can AI help researchers with the citations of scientific papers?",
             "What are the risks of using AI tools for writing papers?")


def quote_best(prefix: str, suffix: str) -> str:
    """Cite the numbered paragraph sharing most words with the question; quote its start."""
    words = (lambda t: set(re.findall(r"[a-z]{4,}", t.lower())))
    question = words(suffix.split("Question:")[-1])
    lines = re.findall(r"^\[(\d+)\] (.+)$", prefix, re.M) or [("1", "The paper does not say.")]
    n, text = max(lines, key=lambda nl: (len(words(nl[1]) & question), -int(nl[0])))
    first = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))[0]
    return f"{n}]\nAnswer: {' '.join(first.split()[:24]).rstrip('.,;:')}.\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "confidence-badge.png"))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="shot-confidence-"))
    for var, sub in (("READER_APP_CONFIG_DIR", "config"), ("READER_APP_CACHE_DIR", "cache")):
        os.environ[var] = str(tmp / sub)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtWidgets import QApplication

    from reader_app.app import Services
    from reader_app import settings
    from reader_app.library import Library
    from reader_app.pdf import extract_paper_isolated
    from tests.bench.shots import open_window, wait
    from tests.fakes import FakeEngine

    settings.save({"answer_style": "capable", "prepare_on_open": False, "quick_answer": False,
                   "ask_mode": "zero-shot-evidence"})
    lib_path = tmp / "library"
    with Library.open(lib_path) as lib:
        pid = lib.add_paper(extract_paper_isolated(str(SHARED / PAPER)), str(SHARED / PAPER))[0]

    sure = {"p": 0.97}
    app = QApplication.instance() or QApplication(sys.argv[:1])
    services = Services(lib_path, ui_settings=QSettings(str(tmp / "ui.ini"), QSettings.Format.IniFormat),
                        engine_factory=lambda **_kw: FakeEngine(quote_best, delay=0.01,
                                                                logprob=lambda _t: math.log(sure["p"])))
    win = open_window(services)

    win.open_paper(pid)
    wait(win.paperShown)
    panel = win.side_panel.ask_panel
    win.side_panel.show_tab("ask")
    wait(ms=500)
    answers = []
    panel.answered.connect(answers.append)
    for p, question in zip((0.97, 0.35), QUESTIONS):
        sure["p"] = p
        n = len(answers)
        panel.question.setPlainText(question)
        panel.ask()
        wait(until=lambda n=n: len(answers) > n, ms=60000)
        if len(answers) == n:
            print("no answer", file=sys.stderr)
            return 2
        a = answers[-1]
        print(f"Q: {a.question}\nA: {a.answer}\n   confidence {a.confidence} "
              f"({panel.confidence_badge.level}: {panel.confidence_badge.text()!r})")
        wait(ms=300)
    panel.question.setFocus(Qt.FocusReason.OtherFocusReason)
    wait(ms=400)
    ok = win.grab().save(args.out, "PNG")
    print("saved" if ok else "could not save", args.out)
    win.close()
    services.shutdown()
    return 0 if ok and panel.confidence_badge.level == "low" else 1


if __name__ == "__main__":
    sys.exit(main())
