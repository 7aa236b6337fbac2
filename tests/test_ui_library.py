"""The library pane: table, sorting, tag filter, full-text search hits open the page."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

from PySide6.QtCore import Qt  # noqa: E402


def _add_second_paper(library_path):
    from reader_app.core.model import Paper, Paragraph, Section
    from reader_app.library import Library

    with Library.open(library_path) as lib:
        paper = Paper(id="a" * 64, title="Aardvark Studies", authors=["Zed Zimmer"], year=1999, pages=1,
                      sections=[Section(0, "Intro", 1, 1)],
                      paragraphs=[Paragraph(0, "Aardvarks dig burrows at night.", 1, (50, 60, 300, 90), 0, "Intro")])
        pid, _ = lib.add_paper(paper)
        lib.add_tags(pid, ["zoology"])
    return pid


def test_table_sorts_and_filters_by_tag(qtbot, ui_env):
    other = _add_second_paper(ui_env.library_path)
    win = ui_env.window()
    pane = win.library_pane
    qtbot.waitUntil(lambda: len(pane.row_ids()) == 2, timeout=30000)
    assert [pane.model.headerData(i, Qt.Orientation.Horizontal) for i in range(4)] == \
        ["Title", "Authors", "Year", "Tags"]
    pane.table.sortByColumn(2, Qt.SortOrder.AscendingOrder)  # year
    assert pane.row_ids()[0] == other
    pane.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    assert pane.row_ids()[-1] == other
    pane.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # title
    assert pane.row_ids()[0] == other  # "Aardvark ..." first
    assert pane.tag_box.itemText(1) == "zoology (1)"
    with qtbot.waitSignal(pane.loaded, timeout=30000):
        pane.tag_box.setCurrentIndex(1)
    assert pane.row_ids() == [other]
    with qtbot.waitSignal(pane.loaded, timeout=30000):
        pane.tag_box.setCurrentIndex(0)
    assert len(pane.row_ids()) == 2


def test_search_hit_opens_the_paper_at_its_page(qtbot, ui_env):
    win = ui_env.window()
    pane = win.library_pane
    qtbot.waitUntil(lambda: pane.row_ids() == [ui_env.paper_id], timeout=30000)
    # a word from a paragraph on page 3 of the real paper
    from reader_app.library import Library

    with Library.open(ui_env.library_path) as lib:
        para = next(p for p in lib.paragraphs(ui_env.paper_id) if p.page == 3 and len(p.text) > 200)
    word = max(para.text.split(), key=len).strip(".,;:()")
    with qtbot.waitSignal(pane.searched, timeout=30000):
        pane.search_box.setText(word)
    assert pane.stack.currentWidget() is pane.hits
    items = [pane.hits.item(i) for i in range(pane.hits.count())]
    hits = [it for it in items if it.data(Qt.ItemDataRole.UserRole + 1)]
    assert items[0].text().startswith(win.library_pane.papers[ui_env.paper_id].title)  # grouped by paper
    hit = next(it for it in hits if it.data(Qt.ItemDataRole.UserRole + 1)[2] == para.index)
    assert it_text_ok(hit.text(), para.page)
    with qtbot.waitSignal(win.pdf_view.firstPageShown, timeout=30000):
        pane.hits.itemClicked.emit(hit)
    assert win.pdf_view.current_page() == 3
    assert win.pdf_view.highlight == (3, tuple(para.bbox))
    pane.search_box.setText("")
    qtbot.waitUntil(lambda: pane.stack.currentWidget() is pane.table, timeout=15000)


def test_search_without_match_says_so(qtbot, ui_env):
    win = ui_env.window()
    pane = win.library_pane
    with qtbot.waitSignal(pane.searched, timeout=30000):
        pane.search_box.setText("qqqxxyyzz")
    assert pane.hits.count() == 1 and pane.hits.item(0).text() == "No matches."


def test_empty_library_shows_how_to_start(qtbot, ui_env):
    win = ui_env.window(library=ui_env.tmp_path / "empty-lib")
    pane = win.library_pane
    qtbot.waitUntil(lambda: pane.stack.currentWidget() is pane.empty, timeout=30000)
    assert "Ctrl+O" in pane.empty.text()


def test_warning_mark_for_hidden_text(qtbot, ui_env):
    from reader_app.library import Library

    other = _add_second_paper(ui_env.library_path)
    with Library.open(ui_env.library_path) as lib:
        lib.db["papers"].update(other, {"warnings": '["hidden text removed on page 1"]'})
        lib.db["papers"].update(ui_env.paper_id, {"warnings": '["white text on page 2"]'})
    win = ui_env.window()
    qtbot.waitUntil(lambda: len(win.library_pane.row_ids()) == 2, timeout=30000)
    row = win.library_pane.model.findItems("Aardvark Studies")[0]
    assert not row.icon().isNull() and "hidden text" in row.toolTip()
    with qtbot.waitSignal(win.paperShown, timeout=30000):
        win.open_paper(ui_env.paper_id)
    assert win.window_actions.warning.isVisible() and "white text on page 2" in win.warning_label.toolTip()


def it_text_ok(text: str, page: int) -> bool:
    return text.strip().startswith(f"p. {page}")
