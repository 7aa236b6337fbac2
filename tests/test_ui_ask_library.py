"""The Ask tab across papers (issue J): the scope picker sends a question to
``LlmWorker.ask_library``; chips name their papers and a chip of another paper opens it;
bad input gets one line in the panel.  A real SQLite library, the real Assistant, a
scripted FakeEngine."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("pytestqt")

pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

from PySide6.QtCore import Qt  # noqa: E402

from reader_app import settings  # noqa: E402
from reader_app.core.model import Scope  # noqa: E402
from reader_app.library import Library  # noqa: E402
from reader_app.ui.ask.ask_scope import NO_SELECTION  # noqa: E402
from reader_app.ui.background.ops import wait_for_ops  # noqa: E402
from tests.panel_helpers import make_panel, responder, wait_job  # noqa: E402
from tests.scripted_answers import cite_needles  # noqa: E402
from tests.test_library_qa import topic_paper  # noqa: E402

PROTEIN = "a" * 64
QUESTION = "Which corpus of abstracts and how many protein structures are used for training?"
ANSWER = "The PubMed corpus of 1.2 million abstracts and 12,000 protein structures"


def _library_with_protein_paper(env, tags=()):
    lib = Library.open(env.library_path)
    try:
        lib.add_paper(topic_paper(PROTEIN))
        if tags:
            lib.add_tags(PROTEIN, list(tags))
    finally:
        lib.close()


def _spy_library_requests(worker):
    calls = []
    original = worker.ask_library

    def spy(question, scope=None, **kw):
        calls.append((question, scope))
        return original(question, scope, **kw)

    worker.ask_library = spy
    return calls


def _ask_and_wait(qtbot, ap, question, timeout=20000):
    ap.question.setPlainText(question)
    with qtbot.waitSignal(ap.answered, timeout=timeout) as blocker:
        qtbot.mouseClick(ap.ask_button, Qt.LeftButton)
    return blocker.args


def test_whole_library_question_cites_two_papers_and_a_chip_of_another_paper_opens_it(qtbot, panel_env):
    _library_with_protein_paper(panel_env)
    settings.set_value("answer_style", "capable")
    services = panel_env.services(respond=cite_needles("PubMed corpus", "12,000 protein", answer=ANSWER))
    panel = make_panel(qtbot, services, panel_env.paper_id)
    ap = panel.ask_panel
    calls = _spy_library_requests(panel.worker)
    assert ap.scope_picker.currentText() == "This paper" and ap.mode_combo.isEnabled()
    assert ap.scope_picker.set_kind("library")
    assert not ap.mode_combo.isEnabled()  # modes are for one paper's prompt
    assert "whole library" in ap.question.placeholderText()

    (answer,) = _ask_and_wait(qtbot, ap, QUESTION)

    assert calls == [(QUESTION, Scope())]
    assert answer.mode == "library" and answer.answerable
    assert {c.paper_id for c in answer.citations if c.verified} == {panel_env.paper_id, PROTEIN}
    assert not ap.passages.isVisibleTo(ap)  # the chips suffice
    assert ap.scope_note.isVisibleTo(ap)
    assert ap.scope_note.text() == "Across the whole library · cites 2 papers"
    assert not ap.note_button.isVisibleTo(ap)
    chips = {c.paper_id: c for c in ap.chips.chips}
    assert set(chips) == {panel_env.paper_id, PROTEIN}
    protein = chips[PROTEIN]
    assert protein.text() == "Protein Folding with… p. 2 ¶3"
    assert chips[panel_env.paper_id].text().startswith("A Small Test Paper p. 2 ¶")
    assert "Protein Folding with Graphs" in protein.toolTip()

    # a chip of another paper asks the window to open that paper at the paragraph
    with qtbot.waitSignal(panel.paperCitationActivated) as blocker:
        qtbot.mouseClick(protein, Qt.LeftButton)
    assert blocker.args == [PROTEIN, 2, 2]  # paper, page, paragraph index (¶3)
    # a chip of the open paper scrolls the view, as before
    own = chips[panel_env.paper_id]
    with qtbot.waitSignal(panel.citationActivated) as blocker:
        qtbot.mouseClick(own, Qt.LeftButton)
    assert blocker.args[0] == 2 and tuple(blocker.args[1]) == pytest.approx(panel_env.paper.paragraphs[2].bbox)

    # kept in the history of the first paper it cites, tagged [library]
    assert ap.history.count() == 1 and "[library]" in ap.history.item(0).text()

    # the window opens the other paper: the answer stays, its chips now route the other way
    panel.set_paper(PROTEIN)
    assert wait_for_ops()
    assert ap.current_answer is answer and len(ap.chips.chips) == 2
    own = next(c for c in ap.chips.chips if c.paper_id == panel_env.paper_id)
    with qtbot.waitSignal(panel.paperCitationActivated) as blocker:
        qtbot.mouseClick(own, Qt.LeftButton)
    assert blocker.args[0] == panel_env.paper_id


def test_selected_papers_and_tags_scope_the_question(qtbot, panel_env):
    _library_with_protein_paper(panel_env, tags=["bio"])
    services = panel_env.services(respond=cite_needles("12,000 protein", answer="12,000 protein structures"))
    panel = make_panel(qtbot, services, panel_env.paper_id)
    ap = panel.ask_panel
    calls = _spy_library_requests(panel.worker)
    assert ap.scope_picker.findText("Tag: bio (1)") >= 0  # the library's tags, read when the paper opened

    # "Selected papers" with nothing selected: one line, nothing asked, the question kept
    selected: list[str] = []
    panel.set_library_selection(lambda: list(selected))
    ap.scope_picker.set_kind("selected")
    ap.question.setPlainText("How many protein structures are used?")
    assert ap.ask() is None
    assert ap.notice.isVisibleTo(ap) and ap.notice.text() == NO_SELECTION
    assert ap.question.toPlainText() == "How many protein structures are used?" and calls == []

    selected[:] = [PROTEIN]
    (answer,) = _ask_and_wait(qtbot, ap, "How many protein structures are used?")
    assert calls[-1][1] == Scope(paper_ids=(PROTEIN,))
    assert answer.citations and {c.paper_id for c in answer.citations} == {PROTEIN}
    assert ap.scope_note.text().startswith("Across 1 selected paper")
    assert not ap.notice.isVisibleTo(ap)

    assert ap.scope_picker.set_kind("tag", "bio")
    assert "tagged 'bio'" in ap.question.placeholderText()
    (answer,) = _ask_and_wait(qtbot, ap, "How many protein structures are used?")
    assert calls[-1][1] == Scope(tag="bio") and answer.citations[0].paper_id == PROTEIN


def test_bad_input_gets_one_line_and_the_panel_keeps_working(qtbot, panel_env):
    _library_with_protein_paper(panel_env, tags=["bio"])
    services = panel_env.services(respond=responder())
    panel = make_panel(qtbot, services, panel_env.paper_id)
    ap = panel.ask_panel

    def fails(question):
        ap.question.setPlainText(question)
        qtbot.mouseClick(ap.ask_button, Qt.LeftButton)
        job = wait_job(qtbot, ap.job)
        assert job.outcome == "failed"
        message = job.message
        assert ap.notice.isVisibleTo(ap) and ap.notice.text() == message
        assert "\n" not in message and "Traceback" not in message and "Internal error" not in message
        assert ap.question.toPlainText() == question  # nothing lost: ask it again after a fix
        assert not ap.busy and ap.ask_button.isEnabled()
        return message

    ap.scope_picker.set_kind("library")
    assert "only common words" in fails("What is the of it?")
    # a tag none of whose papers matches
    ap.scope_picker.set_kind("tag", "bio")
    assert fails("What corpus of abstracts?") == "no paper in papers tagged 'bio' matches this question"
    # a tag that lost its papers meanwhile
    lib = Library.open(panel_env.library_path)
    lib.remove_tags(PROTEIN, ["bio"])
    lib.close()
    assert fails("How many protein structures?") == "no paper in papers tagged 'bio' matches this question"

    # an empty library
    ap.scope_picker.set_kind("library")
    lib = Library.open(panel_env.library_path)
    lib.remove_paper(PROTEIN)
    lib.close()
    panel.set_paper(None)
    lib = Library.open(panel_env.library_path)
    lib.remove_paper(panel_env.paper_id)
    lib.close()
    assert ap.question.isEnabled()  # no paper open: the library can still be asked
    assert fails("What corpus of abstracts?") == "no paper in the whole library matches this question"


def test_a_paper_removed_while_its_question_waits_is_one_line(qtbot, panel_env):
    services = panel_env.services(respond=responder())
    panel = make_panel(qtbot, services, panel_env.paper_id)
    ap, worker = panel.ask_panel, panel.worker
    gate = threading.Event()
    worker.call(lambda ctx: gate.wait(10), label="Busy")  # the question waits behind this
    ap.question.setPlainText("What corpus is the model trained on?")
    job = ap.ask()
    assert job is not None and job is ap.job
    lib = Library.open(panel_env.library_path)
    lib.remove_paper(panel_env.paper_id)
    lib.close()
    with qtbot.waitSignal(job.failed, timeout=20000) as blocker:
        gate.set()
    message = blocker.args[0]
    assert ap.notice.text() == message == "this paper is no longer in the library"
    assert not ap.busy


def _second_pdf(tmp_path):
    """A 2-page PDF about reading assistants, its second page holding the cited paragraph."""
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Reading Assistants Revisited\n\n1 Introduction\n\n"
                               "Readers skim papers quickly and often lose track of citations.", fontsize=11)
    doc[0].insert_text((72, 200), "This page is about something else entirely.", fontsize=11)
    doc.new_page().insert_text((72, 300), "2 Writing support\n\nAI writing support helps researchers "
                               "summarize related work and track citations while writing papers.\n"
                               "Language models generate text that writers revise, and reading tools\n"
                               "show the context of each citation to researchers while they read.", fontsize=11)
    path = tmp_path / "revisited.pdf"
    doc.save(path)
    return path


def test_in_the_window_a_chip_of_another_paper_opens_it_at_the_paragraph(qtbot, ui_env, monkeypatch):
    from reader_app.pdf import extract_paper_isolated
    from tests.scripted_answers import cite_each_paper

    pdf = _second_pdf(ui_env.tmp_path)
    lib = Library.open(ui_env.library_path)
    try:
        other_id, _ = lib.add_paper(extract_paper_isolated(str(pdf)), str(pdf))
    finally:
        lib.close()
    monkeypatch.setenv("READER_APP_CONFIG_DIR", str(ui_env.tmp_path / "config"))  # settings stay in this test
    settings.set_value("answer_style", "capable")
    win = ui_env.window(respond=cite_each_paper(words=10))
    qtbot.waitUntil(lambda: len(win.library_pane.row_ids()) == 2, timeout=30000)
    with qtbot.waitSignal(win.paperShown, timeout=30000):
        win.open_paper(ui_env.paper_id)
    ap = win.side_panel.ask_panel
    win.library_pane.table.selectAll()
    assert sorted(win.side_panel.ask_panel.scope_picker.selection_source()) == sorted([ui_env.paper_id, other_id])
    ap.scope_picker.set_kind("selected")
    (answer,) = _ask_and_wait(qtbot, ap, "How does AI writing support help researchers track citations?")
    assert {c.paper_id for c in answer.citations if c.verified} == {ui_env.paper_id, other_id}, (answer.answer, answer.citations)
    cited = next(c for c in answer.citations if c.paper_id == other_id)
    assert cited.page == 2
    chip = next(c for c in ap.chips.chips if c.paper_id == other_id)
    with qtbot.waitSignal(win.paperShown, timeout=30000, check_params_cb=lambda pid: pid == other_id):
        qtbot.mouseClick(chip, Qt.LeftButton)
    qtbot.waitUntil(lambda: win.pdf_view.highlight is not None, timeout=10000)
    page, bbox = win.pdf_view.highlight
    assert win.paper.id == other_id and page == 2
    assert tuple(bbox) == pytest.approx(cited.bbox)
    assert ap.current_answer is answer  # the answer stays: its other chip leads back
    back = next(c for c in ap.chips.chips if c.paper_id == ui_env.paper_id)
    with qtbot.waitSignal(win.paperShown, timeout=30000, check_params_cb=lambda pid: pid == ui_env.paper_id):
        qtbot.mouseClick(back, Qt.LeftButton)
