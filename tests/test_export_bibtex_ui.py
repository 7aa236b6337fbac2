"""The library pane's "Copy BibTeX" action: real window, real library, the system clipboard."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("pytestqt")
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

from PySide6.QtCore import QItemSelectionModel, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402

from test_bibtex import braces_balance, parse_bib  # noqa: E402


def _add_special_paper(library_path):
    from reader_app.core.model import Paper, Paragraph, Section
    from reader_app.library import Library

    with Library.open(library_path) as lib:
        paper = Paper(id="a" * 64, title="Aardvarks & 100% {Burrows}", authors=["Zoë van Zimmer"], year=1999,
                      doi="10.1234/aard_1", pages=1, sections=[Section(0, "Intro", 1, 1)],
                      paragraphs=[Paragraph(0, "Aardvarks dig burrows at night.", 1, (50, 60, 300, 90), 0, "Intro")])
        pid, _ = lib.add_paper(paper)
    return pid


def _action(menu, prefix):
    [act] = [a for a in menu.actions() if a.text().startswith(prefix)]
    return act


def _row(pane, pid):
    return pane.row_ids().index(pid)


def test_copy_bibtex_from_the_context_menu(qtbot, ui_env):
    other = _add_special_paper(ui_env.library_path)
    win = ui_env.window()
    pane = win.library_pane
    qtbot.waitUntil(lambda: len(pane.row_ids()) == 2, timeout=30000)
    QGuiApplication.clipboard().setText("something else")
    real = pane.papers[ui_env.paper_id]
    assert real.title and real.authors  # the shared paper's own metadata

    pane.table.selectRow(_row(pane, ui_env.paper_id))
    menu = pane.context_menu(ui_env.paper_id)
    _action(menu, "Copy BibTeX").trigger()
    text = QGuiApplication.clipboard().text()
    [e] = parse_bib(text)
    assert e["title"] == "{" + real.title + "}" and braces_balance(text)
    assert e["type"] == "article" and e["eprint"] == "2304.02623"  # arXiv paper
    last, first = real.authors[0].split()[-1], " ".join(real.authors[0].split()[:-1])
    assert e["author"].startswith(f"{last}, {first} and ")
    assert re.fullmatch(r"[a-z]+2023[a-z]+", e["key"])
    assert "Copied BibTeX" in win.statusBar().currentMessage() and "Beyond" in win.statusBar().currentMessage()

    # a right click outside the selection copies just that row, escaped
    menu = pane.context_menu(other)
    assert _action(menu, "Copy BibTeX").text() == "Copy BibTeX"
    _action(menu, "Copy BibTeX").trigger()
    [e] = parse_bib(QGuiApplication.clipboard().text())
    assert e["key"] == "vanzimmer1999aardvarks" and e["type"] == "misc"
    assert e["title"] == r"{Aardvarks \& 100\% \textbraceleft{}Burrows\textbraceright{}}"
    assert e["author"] == "van Zimmer, Zoë" and e["doi"] == "10.1234/aard_1"


def test_copy_bibtex_for_a_selection_and_by_shortcut(qtbot, ui_env):
    other = _add_special_paper(ui_env.library_path)
    win = ui_env.window()
    pane = win.library_pane
    qtbot.waitUntil(lambda: len(pane.row_ids()) == 2, timeout=30000)
    pane.table.selectAll()
    assert set(pane.selected_ids()) == {other, ui_env.paper_id}
    menu = pane.context_menu(other)
    act = _action(menu, "Copy BibTeX")
    assert act.text() == "Copy BibTeX (2 papers)"
    assert _action(menu, "Export to Markdown").text() == "Export to Markdown (2 papers)…"
    act.trigger()
    entries = parse_bib(QGuiApplication.clipboard().text())
    assert len(entries) == 2 and len({x["key"] for x in entries}) == 2
    assert "2 papers" in win.statusBar().currentMessage()

    QGuiApplication.clipboard().setText("")
    pane.table.selectionModel().clearSelection()
    pane.table.selectionModel().select(pane.proxy.index(_row(pane, other), 0),
                                       QItemSelectionModel.SelectionFlag.Select
                                       | QItemSelectionModel.SelectionFlag.Rows)
    pane.table.setFocus()
    qtbot.waitUntil(pane.table.hasFocus, timeout=5000)
    qtbot.keyClick(pane.table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    [e] = parse_bib(QGuiApplication.clipboard().text())
    assert e["key"] == "vanzimmer1999aardvarks"

    # nothing selected: nothing copied, a hint instead
    pane.table.selectionModel().clearSelection()
    assert pane.copy_bibtex(pane.selected_ids()) == ""
    assert "Select a paper" in win.statusBar().currentMessage()
