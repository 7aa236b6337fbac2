"""The side panel (Ask / Summary / Notes) against a real SQLite library and the real
Assistant, with a scripted FakeEngine standing in for the model."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("pytestqt")

# the offscreen platform plugin warns about every top-level widget with a layout
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

from reader_app.core.errors import ModelError  # noqa: E402
from reader_app.core.model import Answer, Citation, Timings  # noqa: E402
from reader_app.library import Library  # noqa: E402
from reader_app.ui.background.ops import wait_for_ops  # noqa: E402
from tests.panel_helpers import ask, load_paper, make_panel, responder, wait_job  # noqa: E402
from tests.panel_helpers import db_notes as _db_notes  # noqa: E402


def test_ask_streams_and_citation_chip_jumps(qtbot, panel_env):
    services = panel_env.services(respond=responder())
    panel = make_panel(qtbot, services, panel_env.paper_id)
    ap = panel.ask_panel
    snapshots = []

    def follow(job):  # connected after the panel's own slot: each snapshot shows the view after an update
        job.update.connect(lambda *_fields: snapshots.append(ap.answer_view.toPlainText()))

    answer = ask(qtbot, panel, "What corpus is the model trained on?", on_job=follow)

    assert answer.answerable and "PubMed" in answer.answer
    assert len(snapshots) >= 5  # streamed piece by piece ...
    grown = [s for s in snapshots if s]
    assert grown and all(len(a) <= len(b) for a, b in zip(grown, grown[1:]))  # ... growing
    assert "PubMed corpus" in ap.answer_view.toPlainText()
    assert not ap.unanswerable_label.isVisibleTo(ap)
    assert "cached tokens" in ap.timings_label.text() or "prompt tokens" in ap.timings_label.text()

    chips = ap.chips.chips
    assert chips, "no citation chip"
    chip = chips[0]
    para = panel_env.paper.paragraphs[2]  # the PubMed paragraph
    assert chip.text() == f"p. {para.page} ¶{chip.paragraph}"
    assert chip.verified and "not verified" not in chip.toolTip()
    with qtbot.waitSignal(panel.citationActivated) as blocker:
        qtbot.mouseClick(chip, Qt.LeftButton)
    page, bbox = blocker.args
    assert page == para.page
    assert tuple(bbox) == pytest.approx(para.bbox)

    # stored in the library's Q&A history and listed in the panel
    assert ap.history.count() == 1
    lib = Library.open(panel_env.library_path)
    try:
        hist = lib.qa_history(panel_env.paper_id)
    finally:
        lib.close()
    assert [a.question for a in hist] == ["What corpus is the model trained on?"]


def test_history_is_read_back_and_shown(qtbot, panel_env):
    services = panel_env.services(respond=responder())
    panel = make_panel(qtbot, services, panel_env.paper_id)
    ask(qtbot, panel, "What corpus is the model trained on?")
    panel.close()

    other = make_panel(qtbot, panel_env.services(respond=responder()), panel_env.paper_id)
    ap = other.ask_panel
    assert ap.history.count() == 1
    item = ap.history.item(0)
    assert "What corpus" in item.text()
    ap.history.itemClicked.emit(item)
    assert "PubMed" in ap.answer_view.toPlainText()
    assert ap.chips.chips and ap.chips.chips[0].page == 2


def test_unanswerable_answer_is_styled(qtbot, panel_env):
    services = panel_env.services(respond=responder(answer="a quantum flux capacitor"))
    panel = make_panel(qtbot, services, panel_env.paper_id)
    answer = ask(qtbot, panel, "Which hardware accelerator was used?")
    ap = panel.ask_panel
    assert answer.answerable is False
    assert ap.unanswerable_label.isVisibleTo(ap)
    assert "does not seem to answer" in ap.unanswerable_label.text()
    assert all(not c.verified for c in ap.chips.chips)


def test_unverified_citation_chip_looks_different(qtbot, panel_env):
    services = panel_env.services()
    panel = make_panel(qtbot, services, panel_env.paper_id)
    cites = [Citation(3, 2, "2 Data", "We train...", (72.0, 100.0, 300.0, 160.0), True),
             Citation(5, 3, "3 Results", "The model...", (72.0, 180.0, 300.0, 240.0), False)]
    panel.ask_panel.show_answer(Answer(panel_env.paper_id, "q?", "PubMed", True, cites, "doubledipper",
                                       "fake-model", Timings(ttft_s=0.4, cached_tokens=1234)))
    ok, unverified = panel.ask_panel.chips.chips
    assert (ok.text(), unverified.text()) == ("p. 2 ¶3", "p. 3 ¶5")
    assert "dashed" in unverified.styleSheet() and "dashed" not in ok.styleSheet()
    assert unverified.toolTip().startswith("not verified")
    assert panel.ask_panel.timings_label.text().startswith("0.4 s to first token")
    assert "1,234 cached tokens" in panel.ask_panel.timings_label.text()
    with qtbot.waitSignal(panel.citationActivated) as blocker:
        qtbot.mouseClick(unverified, Qt.LeftButton)
    assert blocker.args[0] == 3 and tuple(blocker.args[1]) == (72.0, 180.0, 300.0, 240.0)


def test_stop_cancels_the_answer(qtbot, panel_env):
    long_answer = "1]\nAnswer: " + " ".join(f"word{i}" for i in range(200))
    services = panel_env.services(respond=long_answer, delay=0.02)
    panel = make_panel(qtbot, services, panel_env.paper_id)
    ap = panel.ask_panel
    ap.question.setPlainText("Tell me everything.")
    qtbot.mouseClick(ap.ask_button, Qt.LeftButton)
    job = ap.job
    with qtbot.waitSignal(job.update, timeout=20000):
        pass
    assert ap.stop_button.isEnabled() and not ap.ask_button.isEnabled()
    assert ap.stop_button.isVisible() and not ap.ask_button.isVisible(), "Stop takes Ask's place"
    with qtbot.waitSignal(job.cancelled, timeout=10000):
        qtbot.mouseClick(ap.stop_button, Qt.LeftButton)
    assert ap.job is None and job.outcome == "cancelled"
    assert ap.timings_label.text() == "Stopped."
    assert "word199" not in ap.answer_view.toPlainText()
    assert not ap.stop_button.isEnabled()
    ap.question.setPlainText("again")
    assert ap.ask_button.isEnabled() and ap.ask_button.isVisible() and not ap.stop_button.isVisible()


def test_switching_papers_drops_the_running_answer(qtbot, panel_env):
    long_answer = "1]\nAnswer: " + " ".join(f"word{i}" for i in range(200))
    panel = make_panel(qtbot, panel_env.services(respond=long_answer, delay=0.02), panel_env.paper_id)
    ap = panel.ask_panel
    ap.question.setPlainText("Tell me everything.")
    qtbot.mouseClick(ap.ask_button, Qt.LeftButton)
    job = ap.job
    with qtbot.waitSignal(job.update, timeout=20000):
        pass
    panel.set_paper(None)
    assert ap.job is None and not ap.busy and job.is_cancelled
    assert wait_job(qtbot, job).outcome == "cancelled"
    qtbot.wait(100)
    # nothing of the dropped answer reaches the panel afterwards, not even "Stopped."
    assert ap.answer_view.toPlainText() == "" and ap.timings_label.text() == ""
    assert ap.history.count() == 0 and ap.current_answer is None


def test_ask_about_selection_quotes_the_selection(qtbot, panel_env):
    engine_calls = []

    def factory(**_kw):
        from tests.fakes import FakeEngine

        e = FakeEngine(responder())
        engine_calls.append(e)
        return e

    services = panel_env.services(engine_factory=factory)
    panel = make_panel(qtbot, services, panel_env.paper_id)
    ap = panel.ask_panel
    assert not ap.selection_button.isEnabled()
    panel.set_selection("Sentences shorter than five words are dropped.", 2)
    assert ap.selection_button.isEnabled()
    with qtbot.waitSignal(ap.answered, timeout=20000) as blocker:
        qtbot.mouseClick(ap.selection_button, Qt.LeftButton)
    answer = blocker.args[0]
    assert answer.question == "What does this passage mean?"  # the passage is a field, not question text
    assert answer.selection.text == "Sentences shorter than five words are dropped." and answer.selection.page == 2
    suffix = engine_calls[0].calls[-1][1]
    assert "Sentences shorter than five words" in suffix and "(p. 2)" in suffix  # quoted in the prompt
    assert "Passage (p. 2)" in ap.question_label.toolTip()
    stored = services.library().qa_history(panel_env.paper_id)[-1]
    assert stored.question == answer.question and stored.selection == answer.selection


def test_no_model_says_how_to_fix_and_notes_still_work(qtbot, panel_env):
    def no_model(**_kw):
        raise ModelError("no model available: the embedded model is not installed")

    services = panel_env.services(engine_factory=no_model)
    panel = make_panel(qtbot, services, panel_env.paper_id)
    ap = panel.ask_panel
    ap.question.setPlainText("Anything?")
    qtbot.mouseClick(ap.ask_button, Qt.LeftButton)
    assert wait_job(qtbot, ap.job, 10000).outcome == "failed"
    assert ap.notice.isVisibleTo(ap)
    text = ap.notice.text()
    assert text.startswith("No model") and "Settings" in text and "reader-app models add" in text
    assert panel.worker.model_state == "error"
    assert ap.ask_button.isEnabled() is False or ap.question.isEnabled()

    # choosing another model in Settings clears the advice
    from reader_app.ui.background.llm_worker import EngineConfig

    panel.worker.configure(EngineConfig(model="another.gguf"))
    assert not ap.notice.isVisibleTo(ap) and panel.worker.model_state == "none"

    notes = panel.notes_panel
    notes.editor.setPlainText("Still works without a model")
    with qtbot.waitSignal(panel.notesChanged, timeout=5000):
        qtbot.mouseClick(notes.save_button, Qt.LeftButton)
    assert wait_for_ops()
    assert [n.text for n in notes.notes] == ["Still works without a model"]


def test_summaries_stream_cache_and_cite(qtbot, panel_env):
    services = panel_env.services(respond=responder())
    panel = make_panel(qtbot, services, panel_env.paper_id)
    sp = panel.summary_panel
    keys = list(sp.cards)
    assert keys == ["tldr", 0, 1, 2]
    assert [sp.cards[k].title.text() for k in keys] == ["TL;DR", "1 Introduction", "2 Data", "3 Results"]
    card = sp.cards[1]
    seen = []
    qtbot.mouseClick(card.button, Qt.LeftButton)
    job = card.job
    assert sp.jobs == {1: job}
    job.summary.connect(lambda *_u: seen.append(card.text.text()))  # after the card's own slot
    assert wait_job(qtbot, job).outcome == "finished" and card.job is None and not sp.jobs
    assert len(seen) > 3 and not any(s.startswith("## ") for s in seen)
    assert len(set(seen)) > 3 and all(len(a) <= len(b) for a, b in zip(seen, seen[1:-1]))  # it grows as it streams
    assert "PubMed" in card.text.text() and card.button.text() == "Regenerate"
    assert card.chips.chips and card.chips.chips[0].text().startswith("p. ")
    with qtbot.waitSignal(panel.citationActivated) as blocker:
        qtbot.mouseClick(card.chips.chips[0], Qt.LeftButton)
    assert blocker.args[0] in (1, 2, 3)

    # cached in the library: a new panel shows it without asking the model
    other = make_panel(qtbot, panel_env.services(engine_factory=_must_not_load), panel_env.paper_id)
    again = other.summary_panel.cards[1]
    assert "PubMed" in again.text.text() and again.button.text() == "Regenerate"
    assert other.worker.model_state == "none"


def test_summary_cards_use_the_paper_the_window_loaded(qtbot, panel_env):
    """The window passes its loaded Paper: the panel reads only the cached summaries."""
    from reader_app.ui.panel.side_panel import SidePanel

    paper = load_paper(panel_env.library_path, panel_env.paper_id)
    paper.sections[1].title = "2 Data, as the window has it"
    for p in paper.paragraphs:
        p.section = paper.sections[p.section_index].title if p.section_index is not None else p.section
    panel = SidePanel(panel_env.services(respond=responder()))
    qtbot.addWidget(panel)
    panel.set_paper(panel_env.paper_id, paper=paper)
    assert wait_for_ops()
    assert [c.title.text() for c in panel.summary_panel.cards.values()][2] == "2 Data, as the window has it"


def _must_not_load(**_kw):
    raise AssertionError("the model should not be loaded to show cached summaries")


def test_summarise_all_and_stop(qtbot, panel_env):
    services = panel_env.services(respond=responder(), delay=0.01)
    panel = make_panel(qtbot, services, panel_env.paper_id)
    sp = panel.summary_panel
    jobs = sp.generate_all()
    assert len(jobs) == 4 and sp.stop_button.isEnabled() and set(sp.jobs.values()) == set(jobs)
    assert sp.status.text().startswith("Summarising")
    qtbot.waitUntil(lambda: any(j.outcome == "finished" for j in jobs), timeout=20000)
    sp.stop()
    qtbot.waitUntil(lambda: not sp.jobs, timeout=10000)
    assert all(j.done for j in jobs)
    done = [k for k, c in sp.cards.items() if c.state == "done"]
    assert 1 <= len(done) < 4
    assert all(c.state in ("done", "empty") for c in sp.cards.values())
    assert not sp.stop_button.isEnabled() and sp.status.text() == ""


def test_regenerate_asks_the_model_again(qtbot, panel_env):
    calls = []

    def respond(prefix, suffix):
        calls.append(suffix)
        first, text = re.search(r"\[(\d+)\] ([^.]+)", prefix).groups()
        # words of the paper: an invented summary (or a number it does not hold) is dropped
        return f"{['First', 'Second'][len(calls) - 1]} version: {text.lower()} [{first}]."

    panel = make_panel(qtbot, panel_env.services(respond=respond), panel_env.paper_id)
    card = panel.summary_panel.cards["tldr"]
    qtbot.mouseClick(card.button, Qt.LeftButton)
    wait_job(qtbot, card.job)
    assert card.text.text().startswith("First version") and card.button.text() == "Regenerate"
    qtbot.mouseClick(card.button, Qt.LeftButton)
    wait_job(qtbot, card.job)
    assert card.text.text().startswith("Second version")
    lib = Library.open(panel_env.library_path)
    try:
        stored = [s for s in lib.summaries(panel_env.paper_id) if s["section_key"].startswith("tldr")]
    finally:
        lib.close()
    assert len(stored) == 1 and stored[0]["summary"].startswith("Second version")


def test_no_paper_disables_the_panel(qtbot, panel_env):
    panel = make_panel(qtbot, panel_env.services(respond=responder()), panel_env.paper_id)
    ask(qtbot, panel, "What corpus is the model trained on?")
    panel.set_paper(None)
    ap, notes, sp = panel.ask_panel, panel.notes_panel, panel.summary_panel
    assert not ap.question.isEnabled() and not ap.ask_button.isEnabled()
    assert ap.history.count() == 0 and ap.answer_view.toPlainText() == "" and not ap.chips.chips
    assert not notes.editor.isEnabled() and not notes.tags_edit.isEnabled() and notes.view.toPlainText() == ""
    assert not sp.cards and not sp.all_button.isEnabled()


def test_progress_names_model_load_examples_and_answer(qtbot, panel_env):
    panel = make_panel(qtbot, panel_env.services(respond=responder()), panel_env.paper_id)
    labels = []

    def follow(job):
        job.progress.connect(lambda _d, _t, label: labels.append(label))

    ask(qtbot, panel, "What corpus is the model trained on?", on_job=follow)
    assert labels[0].startswith("Loading")
    assert any(lb.startswith("Writing example question 1") for lb in labels)
    assert labels[-1] == "Answering"
    labels.clear()
    ask(qtbot, panel, "What accuracy does the model reach?", on_job=follow)  # examples are cached now
    assert not any(lb.startswith("Writing example") for lb in labels) and labels[-1] == "Answering"


def test_answer_saved_as_a_note_on_the_cited_page(qtbot, panel_env):
    panel = make_panel(qtbot, panel_env.services(respond=responder()), panel_env.paper_id)
    ap = panel.ask_panel
    ask(qtbot, panel, "What corpus is the model trained on?")
    assert ap.note_button.isVisibleTo(ap)
    with qtbot.waitSignal(panel.notesChanged, timeout=5000):
        qtbot.mouseClick(ap.note_button, Qt.LeftButton)
    assert wait_for_ops()
    assert not ap.note_button.isEnabled()
    (note,) = _db_notes(panel_env)
    assert note.page == 2 and note.quote.startswith("We train the model on the PubMed corpus")
    assert note.text.startswith("**Q:** What corpus is the model trained on?")
    assert "PubMed corpus of 1.2 million abstracts" in note.text and "(p. 2 ¶" in note.text
    assert "Which" not in panel.notes_panel.view.toPlainText()
    assert "What corpus is the model trained on?" in panel.notes_panel.view.toPlainText()


def test_section_page_link_requests_the_page(qtbot, panel_env):
    panel = make_panel(qtbot, panel_env.services(), panel_env.paper_id)
    card = panel.summary_panel.cards[2]  # "3 Results", page 3
    link = next(w for w in card.findChildren(QLabel) if "page:3" in w.text())
    with qtbot.waitSignal(panel.pageRequested) as blocker:
        link.linkActivated.emit("page:3")
    assert blocker.args == [3]


def test_mode_picker_reaches_the_assistant_and_is_remembered(qtbot, panel_env, monkeypatch):
    from reader_app import settings as assistant_settings
    from reader_app.assistant.service import Assistant
    from reader_app.ui.panel.side_panel import SidePanel
    from tests.fakes import FakeEngine

    modes = []
    real_ask = Assistant.ask

    def spy(self, paper, question, mode="doubledipper", *args, **kwargs):
        modes.append(mode)
        return real_ask(self, paper, question, mode, *args, **kwargs)

    monkeypatch.setattr(Assistant, "ask", spy)
    engines = []

    def factory(**_kw):
        engines.append(FakeEngine(responder()))
        return engines[-1]

    services = panel_env.services(engine_factory=factory)
    panel = make_panel(qtbot, services, panel_env.paper_id)
    ap = panel.ask_panel
    combo = ap.mode_combo
    assert ap.mode == "doubledipper" and combo.currentText() == "DoubleDipper"  # the default
    assert [combo.itemData(i) for i in range(combo.count())] == ["doubledipper", "zero-shot", "zero-shot-evidence"]
    assert "slow" in combo.toolTip() and "example" in combo.toolTip()
    combo.setCurrentIndex(combo.findData("zero-shot"))
    assert assistant_settings.get("ask_mode") == "zero-shot"

    answer = ask(qtbot, panel, "What corpus is the model trained on?")
    assert modes == ["zero-shot"] and answer.mode == "zero-shot"
    # zero-shot writes no example questions: one model run, primed with "Answer:"
    (call,) = engines[0].calls
    assert call[1].endswith("Answer:")
    assert "[Zero-shot]" in ap.history.item(0).text()
    lib = Library.open(panel_env.library_path)
    try:
        assert [a.mode for a in lib.qa_history(panel_env.paper_id)] == ["zero-shot"]
    finally:
        lib.close()

    # a new panel (say, the next session) starts with the remembered mode
    again = SidePanel(services)
    qtbot.addWidget(again)
    assert again.ask_panel.mode == "zero-shot"
    combo.setCurrentIndex(combo.findData("zero-shot-evidence"))
    ask(qtbot, panel, "What accuracy does the model reach?")
    assert modes == ["zero-shot", "zero-shot-evidence"]
