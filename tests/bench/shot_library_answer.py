"""Screenshot of a question asked across the library (docs/library-answer.png).

    xvfb-run -a -s "-screen 0 1600x1000x24" env QT_QPA_PLATFORM=xcb \\
        python tests/bench/shot_library_answer.py [--out docs/library-answer.png]

Imports two shared papers into a temporary library, opens the first, asks a question with
the Ask tab's scope set to "Whole library", and clicks the answer's chip of the OTHER paper,
which opens that paper at the cited paragraph.  The model is a scripted FakeEngine
(tests/scripted_answers.py: it quotes the best-matching paragraph of each of the two papers
in its prompt), so the picture shows the window, not the embedded model's wording.
Prints the question, the answer and its citations.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO)]
SHARED = REPO.parent / "shared" / "papers"
PAPERS = ("2304.02623v1.pdf", "2302.07302v1.pdf")
QUESTION = "How can AI support help researchers with the citations and writing of scientific papers?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "docs" / "library-answer.png"))
    ap.add_argument("--question", default=QUESTION)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="shot-library-"))
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
    from tests.scripted_answers import cite_each_paper

    settings.save({"answer_style": "capable", "prepare_on_open": False})
    lib_path = tmp / "library"
    lib = Library.open(lib_path)
    ids = []
    for name in PAPERS:
        paper = extract_paper_isolated(str(SHARED / name))
        ids.append(lib.add_paper(paper, str(SHARED / name))[0])
    lib.close()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    services = Services(lib_path, ui_settings=QSettings(str(tmp / "ui.ini"), QSettings.Format.IniFormat),
                        engine_factory=lambda **_kw: FakeEngine(cite_each_paper(), delay=0.01))
    win = open_window(services)

    win.open_paper(ids[0])
    wait(win.paperShown)
    panel = win.side_panel.ask_panel
    win.side_panel.show_tab("ask")
    wait(ms=500)
    assert panel.scope_picker.set_kind("library")
    answers = []
    panel.answered.connect(answers.append)
    panel.question.setPlainText(args.question)
    panel.ask()
    wait(until=lambda: bool(answers), ms=120000)
    if not answers:
        print("no answer", file=sys.stderr)
        return 2
    answer = answers[0]
    print("Q:", answer.question)
    print("A:", answer.answer)
    for c in answer.citations:
        print(f"  [{'verified' if c.verified else 'not verified'}] {c.paper_title[:50]} p. {c.page} ¶{c.paragraph}")
    other = next((c for c in panel.chips.chips if c.paper_id and c.paper_id != ids[0]), None)
    if other is not None:  # a chip of the other paper opens it at the cited paragraph
        other.click()
        wait(win.paperShown)
        wait(ms=1200)
    panel.question.setFocus(Qt.FocusReason.OtherFocusReason)
    wait(ms=400)
    ok = win.grab().save(args.out, "PNG")
    print("saved" if ok else "could not save", args.out)
    win.close()
    services.shutdown()
    return 0 if ok and len({c.paper_id for c in answer.citations if c.verified}) == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
