"""Highlights in the window: select -> highlight -> drawn on the page and listed in the Notes
tab; recolour, jump, note, delete; kept for the next session; exported as an annotated PDF
that another library reads back with the same text."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support (propagateSizeHints|raise|grabbing)")

from PySide6.QtCore import QUrl  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402

from reader_app.commands.highlights import export_annotated  # noqa: E402
from reader_app.library import Library  # noqa: E402
from reader_app.pdf import extract_paper  # noqa: E402
from reader_app.ui.reader import highlights  # noqa: E402


def open_paper(qtbot, win, paper_id):
    with qtbot.waitSignal(win.pdf_view.firstPageShown, timeout=30000):
        win.open_paper(paper_id)
    qtbot.waitUntil(lambda: win.paper is not None and win.paper.id == paper_id, timeout=30000)


def select_phrase(view, page: int, phrase: str) -> None:
    words = [w.text.casefold() for w in view.doc.words(page)]
    first = phrase.casefold().split()
    i = next(i for i in range(len(words)) if words[i:i + len(first)] == first)
    view.select_words(page, i, i + len(first) - 1)


def tinted(view, h, page_color) -> int:
    """How many pixels inside the highlight's boxes carry its colour (white paper * colour)."""
    img = view.viewport().grab().toImage()
    rect = view.page_rect(h.page)
    z = view.zoom()
    ratio = img.devicePixelRatio()
    n = 0
    for q in h.quads:
        for x in range(int(rect.x() + q[0] * z) + 1, int(rect.x() + q[2] * z) - 1, 2):
            for y in range(int(rect.y() + q[1] * z) + 1, int(rect.y() + q[3] * z) - 1, 2):
                c = QColor(img.pixel(int(x * ratio), int(y * ratio)))
                if abs(c.hue() - page_color.hue()) < 25 and c.saturation() > 60:
                    n += 1
    return n


def test_highlight_in_the_window_round_trip(qtbot, ui_env, tmp_path):
    win = ui_env.window()
    qtbot.waitUntil(lambda: win.library_pane.row_ids() == [ui_env.paper_id], timeout=30000)
    open_paper(qtbot, win, ui_env.paper_id)
    view, notes = win.pdf_view, win.side_panel.notes_panel

    assert highlights.highlight_selection(win, "green") is False  # nothing selected: nothing kept
    select_phrase(view, 1, "Institute for AI,")
    win.act_highlight.trigger()  # Ctrl+Shift+H: yellow
    qtbot.waitUntil(lambda: len(view.saved_highlights) == 1, timeout=10000)
    h = view.saved_highlights[0]
    assert h.page == 1 and h.color_name == "yellow" and h.text == "Institute for AI,"
    assert view.selected_text() == ""  # the selection became the highlight
    qtbot.waitUntil(lambda: len(notes.highlights) == 1, timeout=10000)
    assert "Institute for AI," in notes.view.toPlainText()

    # drawn on the page at its boxes
    qtbot.waitUntil(lambda: tinted(view, h, QColor("#ffd400")) > 10, timeout=10000)

    # recolour from the Notes tab: the page follows
    notes.recolor_highlight(h.id, "green")
    qtbot.waitUntil(lambda: view.saved_highlights and view.saved_highlights[0].color_name == "green",
                    timeout=10000)
    qtbot.waitUntil(lambda: tinted(view, view.saved_highlights[0], QColor("#5fb236")) > 10, timeout=10000)

    # a note on the highlight, written in the Notes tab's editor
    notes.edit_highlight_note(h.id)
    assert "note on highlight" in notes.editor_title.text()
    notes.editor.setPlainText("who *made* it")
    notes.save()
    qtbot.waitUntil(lambda: notes.highlights and notes.highlights[0].note == "who *made* it", timeout=10000)

    # click in the list -> the view scrolls there and marks it
    view.go_to(4)
    notes._anchor(QUrl(f"hl:{h.id}"))
    assert view.current_page() == 1 and view.highlight == (1, h.bbox())

    # a second one over two colours of the context menu's choice, on another page
    select_phrase(view, 2, "expository writing")
    menu = highlights.context_menu(win, view.page_rect(2).center())
    assert [a.text() for a in menu.actions()][:2] == ["Highlight yellow", "Highlight red"]
    menu.close()
    highlights.highlight_selection(win, "purple")
    qtbot.waitUntil(lambda: len(view.saved_highlights) == 2, timeout=10000)

    # the next session draws them again
    win.close()
    again = ui_env.window()
    qtbot.waitUntil(lambda: ui_env.paper_id in again.library_pane.row_ids(), timeout=30000)
    open_paper(qtbot, again, ui_env.paper_id)
    qtbot.waitUntil(lambda: len(again.pdf_view.saved_highlights) == 2, timeout=10000)
    assert [x.page for x in again.side_panel.notes_panel.highlights] == [1, 2]

    # export an annotated PDF; another library finds the same text
    out = tmp_path / "annotated.pdf"
    with Library.open(ui_env.library_path) as lib:
        assert export_annotated(lib, [ui_env.paper_id], str(out))["annotations"] == 2
    with Library.open(tmp_path / "other") as other:
        pid, _ = other.add_paper(extract_paper(str(out)), str(out))
        back = other.highlights(pid)
    mine = again.pdf_view.saved_highlights
    assert sorted((b.page, b.text, b.color_name, b.note) for b in back) == \
        sorted((m.page, m.text, m.color_name, m.note) for m in mine)

    # delete: gone from the page and the list
    again.side_panel.notes_panel.delete_highlight(mine[1].id, confirm=False)
    qtbot.waitUntil(lambda: len(again.pdf_view.saved_highlights) == 1, timeout=10000)
