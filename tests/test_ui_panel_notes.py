"""The Notes tab: add (on the page, on a selection), edit and delete notes in a real
SQLite library, the tags editor, and the Markdown export of what was written."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

# the offscreen platform plugin warns about every top-level widget with a layout
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

from PySide6.QtCore import Qt, QUrl  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

from reader_app.library import Library  # noqa: E402
from reader_app.ui.background.ops import wait_for_ops  # noqa: E402
from tests.panel_helpers import db_notes as _db_notes  # noqa: E402
from tests.panel_helpers import make_panel  # noqa: E402


def test_notes_add_edit_delete_persist_and_export(qtbot, panel_env, monkeypatch, tmp_path):
    services = panel_env.services()
    panel = make_panel(qtbot, services, panel_env.paper_id)
    notes = panel.notes_panel
    panel.show_tab("notes")
    panel.set_current_page(3)
    assert notes.editor_title.text() == "New note on p. 3"

    notes.editor.setPlainText("Accuracy is **91%**; check the baseline.")
    with qtbot.waitSignal(panel.notesChanged, timeout=5000):
        qtbot.mouseClick(notes.save_button, Qt.LeftButton)
    assert wait_for_ops()

    panel.set_selection("We train the model on the PubMed corpus", 2)
    qtbot.mouseClick(notes.quote_button, Qt.LeftButton)
    assert notes.quote_label.isVisibleTo(notes) and "PubMed" in notes.quote_label.text()
    assert notes.editor_title.text() == "New note on p. 2"
    notes.editor.setPlainText("Which PubMed dump?")
    with qtbot.waitSignal(panel.notesChanged, timeout=5000):
        qtbot.mouseClick(notes.save_button, Qt.LeftButton)
    assert wait_for_ops()

    stored = _db_notes(panel_env)
    assert [(n.page, n.quote, n.text) for n in stored] == [
        (2, "We train the model on the PubMed corpus", "Which PubMed dump?"),
        (3, None, "Accuracy is **91%**; check the baseline."),
    ]
    view_text = notes.view.toPlainText()
    assert view_text.index("Page 2") < view_text.index("Which PubMed dump?") < view_text.index("Page 3")
    assert "“We train the model on the PubMed corpus”" in view_text
    html = notes.view.toHtml()
    page3_id, page2_id = stored[1].id, stored[0].id
    assert f'href="edit:{page3_id}"' in html and f'href="delete:{page2_id}"' in html
    with qtbot.waitSignal(notes.pageActivated) as blocker:
        notes.view.anchorClicked.emit(QUrl("page:3"))
    assert blocker.args == [3]

    # edit the page-3 note (its Edit link)
    notes.view.anchorClicked.emit(QUrl(f"edit:{page3_id}"))
    assert notes.save_button.text() == "Save" and "91%" in notes.editor.toPlainText()
    assert notes.editor_title.text() == "Editing note (p. 3)"
    notes.editor.setPlainText("Accuracy is 91%, four points over the baseline.")
    with qtbot.waitSignal(panel.notesChanged, timeout=5000):
        qtbot.mouseClick(notes.save_button, Qt.LeftButton)
    assert wait_for_ops()
    assert [n.text for n in _db_notes(panel_env)][1] == "Accuracy is 91%, four points over the baseline."

    # delete the page-2 note: answering No keeps it, Yes deletes it
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.No)
    notes.view.anchorClicked.emit(QUrl(f"delete:{page2_id}"))
    assert wait_for_ops() and len(_db_notes(panel_env)) == 2
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    with qtbot.waitSignal(panel.notesChanged, timeout=5000):
        notes.view.anchorClicked.emit(QUrl(f"delete:{page2_id}"))
    assert wait_for_ops()
    stored = _db_notes(panel_env)
    assert [(n.page, n.text) for n in stored] == [(3, "Accuracy is 91%, four points over the baseline.")]
    assert "PubMed dump" not in notes.view.toPlainText()

    # the Markdown export carries the note and its page
    from reader_app.export.markdown import export_papers

    lib = Library.open(panel_env.library_path)
    try:
        export_papers(lib, [panel_env.paper_id], tmp_path / "out")
    finally:
        lib.close()
    md = "\n".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out").glob("*.md"))
    assert "four points over the baseline" in md and "p. 3" in md


def test_tags_editor_persists(qtbot, panel_env):
    services = panel_env.services()
    panel = make_panel(qtbot, services, panel_env.paper_id)
    notes = panel.notes_panel
    notes.tags_edit.setText("to-read, NLP, to-read")
    with qtbot.waitSignal(panel.notesChanged, timeout=5000):
        notes.save_tags()
    assert wait_for_ops()
    lib = Library.open(panel_env.library_path)
    try:
        assert sorted(lib.get_paper(panel_env.paper_id, with_paragraphs=False).tags) == ["NLP", "to-read"]
    finally:
        lib.close()
    notes.tags_edit.setText("NLP")
    with qtbot.waitSignal(panel.notesChanged, timeout=5000):
        notes.save_tags()
    assert wait_for_ops()
    lib = Library.open(panel_env.library_path)
    try:
        assert lib.get_paper(panel_env.paper_id, with_paragraphs=False).tags == ["NLP"]
    finally:
        lib.close()


def test_a_failed_save_gives_the_text_back(qtbot, panel_env):
    panel = make_panel(qtbot, panel_env.services(), panel_env.paper_id)
    notes = panel.notes_panel
    panel.set_current_page(99)  # the paper has 4 pages: the library refuses the note
    notes.editor.setPlainText("An important thought")
    qtbot.mouseClick(notes.save_button, Qt.LeftButton)
    assert wait_for_ops()
    assert notes.editor.toPlainText() == "An important thought"
    assert notes.status.isVisibleTo(notes) and notes.status.text().startswith("Could not save")
    assert _db_notes(panel_env) == []
