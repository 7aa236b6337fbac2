"""Make docs/highlights.png: the window with highlights on the page and listed in the Notes tab.

    READER_APP_CONFIG_DIR=$(mktemp -d) QT_QPA_PLATFORM=xcb \
        xvfb-run -a -s "-screen 0 1600x1000x24" python docs/make_highlights_png.py [OUT.png]

A copy of a shared paper gets a highlight and a sticky note "from another reader" (PyMuPDF);
it is imported into a fresh library (its annotations come along), then two passages are
selected and highlighted in the window, one with a note; the Notes tab lists all of them.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PAPER = ROOT.parent / "shared" / "papers" / "2304.02623v1.pdf"


def main() -> int:
    import pymupdf

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from reader_app.app import Services
    from reader_app.library import Library
    from reader_app.pdf import extract_paper_isolated
    from reader_app.ui.reader import highlights
    from reader_app.ui.window.main_window import MainWindow

    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "highlights.png").resolve()
    tmp = Path(tempfile.mkdtemp(prefix="hl-shot-"))
    doc = pymupdf.open(PAPER)
    page = doc[0]
    rects = page.search_for("sensemaking process over a set of source documents")
    annot = page.add_highlight_annot(quads=[r.quad for r in rects])
    annot.set_colors(stroke=(0.18, 0.66, 0.9))
    annot.set_info(content="Scope of the paper", title="M. Colleague")
    annot.update()
    page.add_text_annot((560, 250), "Compare with the CHI 2023 workshop paper")
    annotated = tmp / "beyond-summarization.pdf"
    doc.save(annotated)
    with Library.open(tmp / "library") as lib:
        pid, _ = lib.add_paper(extract_paper_isolated(str(annotated)), str(annotated))

    app = QApplication.instance() or QApplication(sys.argv)
    services = Services(tmp / "library", ui_settings=QSettings(str(tmp / "ui.ini"), QSettings.Format.IniFormat))
    win = MainWindow(services)
    win.resize(1600, 1000)
    win.show()
    win.splitter.setSizes([260, 840, 500])

    def select(page_no: int, phrase: str) -> None:
        view = win.pdf_view
        words = [w.text.casefold() for w in view.doc.words(page_no)]
        want = phrase.casefold().split()
        i = next(i for i in range(len(words)) if words[i:i + len(want)] == want)
        view.select_words(page_no, i, i + len(want) - 1)

    def mark() -> None:
        select(1, "we argue that developing AI supports for expository writing has unique and exciting "
                  "research challenges")
        highlights.highlight_selection(win, "yellow")
        QTimer.singleShot(400, mark2)

    def mark2() -> None:
        select(1, "We characterize expository writing as evidence-based and knowledge-generating:")
        highlights.highlight_selection(win, "green", note="**Key claim**: check it against the user study")
        QTimer.singleShot(400, mark3)

    def mark3() -> None:
        select(1, "large language models (LLMs)")
        highlights.highlight_selection(win, "purple")
        QTimer.singleShot(1500, save)

    def save() -> None:
        win.side_panel.show_tab("notes")
        win.pdf_view.go_to(1, 40)
        QTimer.singleShot(1200, lambda: (win.grab().save(str(out), "PNG"), print(out), app.quit()))

    win.pdf_view.firstPageShown.connect(lambda: QTimer.singleShot(500, mark))
    win.open_paper(pid)
    QTimer.singleShot(120_000, app.quit)
    app.exec()
    services.shutdown() if hasattr(services, "shutdown") else None
    return 0 if out.exists() else 2


if __name__ == "__main__":
    os.environ.setdefault("READER_APP_CONFIG_DIR", tempfile.mkdtemp(prefix="hl-shot-config-"))
    raise SystemExit(main())
