"""Quick answers while a paper is being prepared (issue J): a DoubleDipper question is
answered at once from the paper's best passages, then the full answer replaces it when the
preparation completes; "Full answer now" does not wait; the setting turns it off.  A real
SQLite library, the real Assistant and preparation, a slow scripted FakeEngine."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

from PySide6.QtCore import Qt  # noqa: E402

from reader_app import settings  # noqa: E402
from reader_app.library import Library  # noqa: E402
from reader_app.ui.ask.quick_answer import QUICK_NOTE  # noqa: E402
from tests.fakes import FakeEngine  # noqa: E402
from tests.panel_helpers import make_panel, responder  # noqa: E402

QUESTION = "What corpus is the model trained on?"


def _preparing_panel(qtbot, panel_env, quick=True):
    settings.set_value("prepare_on_open", True)
    settings.set_value("quick_answer", quick)
    engines = []

    def factory(**_kw):
        engines.append(FakeEngine(responder(), delay=0.02))
        return engines[-1]

    panel = make_panel(qtbot, panel_env.services(engine_factory=factory), panel_env.paper_id)
    ap = panel.ask_panel
    ap.set_mode("doubledipper")
    qtbot.waitUntil(lambda: ap.prepare_status.state == "preparing", timeout=10000)
    answers = []
    ap.answered.connect(answers.append)
    return panel, ap, answers, engines


def _stored_modes(env):
    lib = Library.open(env.library_path)
    try:
        return sorted(a.mode for a in lib.qa_history(env.paper_id))
    finally:
        lib.close()


def test_quick_answer_first_then_the_full_answer_when_the_paper_is_prepared(qtbot, panel_env):
    panel, ap, answers, engines = _preparing_panel(qtbot, panel_env)
    ap.question.setPlainText(QUESTION)
    qtbot.mouseClick(ap.ask_button, Qt.LeftButton)
    assert ap.quick_bar.isVisibleTo(ap) and ap.quick_bar.label.text() == QUICK_NOTE
    qtbot.waitUntil(lambda: len(answers) == 1, timeout=20000)
    quick = answers[0]
    assert quick.mode == "quick" and quick.answerable and "PubMed" in quick.answer
    assert ap.prepare_status.state != "ready"  # answered before the paper was prepared
    assert ap.quick_bar.isVisibleTo(ap) and ap.quick_bar.button.isEnabled()
    assert "PubMed" in ap.answer_view.toPlainText()
    assert ap.chips.chips and ap.chips.chips[0].text() == "p. 2 ¶3"  # the paper's own numbering
    assert ap.history.count() == 1 and "[quick]" in ap.history.item(0).text()
    # the quick prompt held passages, not the paper with demonstrations
    # (passages travel in the suffix; the prefix holds the recycled examples, recycled.py)
    quick_prompts = [s for _p, s, _kw in engines[0].calls if '<paper title="' in s]
    assert len(quick_prompts) == 1

    # preparation resumes, completes, and the full answer to the same question follows by itself
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=60000)
    full = answers[1]
    assert ap.prepare_status.state == "ready"
    assert full.mode == "doubledipper" and full.question == QUESTION and "PubMed" in full.answer
    assert ap.current_answer is full and not ap.quick_bar.isVisibleTo(ap)
    texts = [ap.history.item(i).text() for i in range(ap.history.count())]
    assert len(texts) == 2 and "[quick]" not in texts[0] and "[quick]" in texts[1]
    assert _stored_modes(panel_env) == ["doubledipper", "quick"]  # both kept
    # picking the quick one from the history shows it (no second full answer is pending)
    ap.history.itemClicked.emit(ap.history.item(1))
    assert ap.current_answer is quick and not ap.quick_bar.isVisibleTo(ap)
    qtbot.wait(300)
    assert len(answers) == 2


def test_full_answer_now_does_not_wait_for_the_preparation(qtbot, panel_env):
    panel, ap, answers, _engines = _preparing_panel(qtbot, panel_env)
    ap.question.setPlainText(QUESTION)
    ap.ask()
    qtbot.waitUntil(lambda: len(answers) == 1, timeout=20000)
    assert answers[0].mode == "quick"
    qtbot.mouseClick(ap.quick_bar.button, Qt.LeftButton)
    assert ap.busy and not ap.quick_bar.isVisibleTo(ap)
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=60000)
    assert answers[1].mode == "doubledipper" and answers[1].question == QUESTION
    qtbot.waitUntil(lambda: ap.prepare_status.state == "ready", timeout=60000)
    qtbot.wait(300)
    assert len(answers) == 2  # asked once, not again when the preparation completed


def test_setting_off_no_quick_answer(qtbot, panel_env):
    panel, ap, answers, engines = _preparing_panel(qtbot, panel_env, quick=False)
    ap.question.setPlainText(QUESTION)
    ap.ask()
    assert not ap.quick_bar.isVisibleTo(ap)
    qtbot.waitUntil(lambda: len(answers) == 1, timeout=60000)
    assert answers[0].mode == "doubledipper"
    assert not any('<paper title="' in s for _p, s, _kw in engines[0].calls)  # no passage prompt


def test_no_quick_answer_once_prepared_or_in_another_mode(qtbot, panel_env):
    panel, ap, answers, _engines = _preparing_panel(qtbot, panel_env)
    ap.set_mode("zero-shot-evidence")
    ap.question.setPlainText(QUESTION)
    ap.ask()
    qtbot.waitUntil(lambda: len(answers) == 1, timeout=20000)
    assert answers[0].mode == "zero-shot-evidence"
    ap.set_mode("doubledipper")
    qtbot.waitUntil(lambda: ap.prepare_status.state == "ready", timeout=60000)
    ap.question.setPlainText(QUESTION)
    ap.ask()
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=20000)
    assert answers[1].mode == "doubledipper" and not ap.quick_bar.isVisibleTo(ap)


def test_settings_dialog_has_the_quick_answer_checkbox(qtbot, panel_env):
    from reader_app.ui.window.settings_dialog import SettingsDialog

    assert settings.DEFAULTS["quick_answer"] is True
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    assert dialog.quick_answer.isChecked()
    dialog.quick_answer.setChecked(False)
    dialog.save()
    assert settings.get("quick_answer") is False
    again = SettingsDialog()
    qtbot.addWidget(again)
    assert not again.quick_answer.isChecked()
