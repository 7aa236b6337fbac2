"""The PDF view on a real paper: find, selection and copy, paragraph highlight, HiDPI, Ctrl+wheel."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QWheelEvent  # noqa: E402


@pytest.fixture
def view(qtbot, ui_env):
    win = ui_env.window()
    with qtbot.waitSignal(win.pdf_view.firstPageShown, timeout=30000):
        win.open_paper(ui_env.paper_id)
    return win.pdf_view


def test_find_highlights_hits_and_steps_through_them(qtbot, view):
    win = view.window()
    win.start_find()
    assert win.find_bar.isVisible()
    with qtbot.waitSignal(view.findResults, timeout=30000) as sig:
        win.find_bar.edit.setText("summar")
        win.find_bar.edit.returnPressed.emit()
    current, total = sig.args
    assert total >= 3 and current == 1
    assert win.find_bar.count.text() == f"1 of {total}"
    pages = {p for p, _b in view.find_hits}
    assert len(pages) >= 2
    first = view.find_hits[0]
    view.find_prev()  # wraps around to the last hit
    assert view.find_index == total - 1
    page, _box = view.find_hits[-1]
    assert page in view.visible_pages()
    view.find_next()
    assert view.find_hits[view.find_index] == first
    # the hit box is drawn: the pixel in its middle is tinted orange/yellow
    img = view.viewport().grab().toImage()
    page, (x0, y0, x1, y1) = first
    r = view.page_rect(page)
    c = img.pixelColor(int(r.x() + (x0 + x1) / 2 * view.zoom()), int(r.y() + (y0 + y1) / 2 * view.zoom()))
    if c.lightness() > 60:  # a glyph may sit right there; background pixels are tinted
        assert c.blue() < c.red() - 40
    win.find_bar.close_bar()
    assert view.find_hits == []


def test_find_nothing(qtbot, view):
    with qtbot.waitSignal(view.findResults, timeout=30000) as sig:
        view.find("zqxjzqxj")
    assert sig.args == [0, 0]


def test_select_and_copy(qtbot, view):
    words = view.doc.words(1)
    assert len(words) > 50
    with qtbot.waitSignal(view.selectionChanged) as sig:
        view.select_words(1, 0, 4)
    text, page = sig.args
    assert page == 1 and text.split() == [w.text for w in words[:5]]
    assert view.copy()
    assert QGuiApplication.clipboard().text() == text


def test_mouse_drag_selects_words(qtbot, view):
    words = view.doc.words(1)
    w0, w3 = words[0], words[3]
    r = view.page_rect(1)
    z = view.zoom()

    def at(w):
        return QPoint(int(r.x() + (w.x0 + w.x1) / 2 * z), int(r.y() + (w.y0 + w.y1) / 2 * z))

    with qtbot.waitSignal(view.selectionChanged) as sig:
        qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=at(w0))
        qtbot.mouseMove(view.viewport(), at(w3))
        qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=at(w3))
    assert sig.args[0].split()[0] == w0.text and w3.text in sig.args[0]


def test_show_paragraph_scrolls_and_draws_highlight(qtbot, view):
    win = view.window()
    para = next(p for p in win.paper.paragraphs if p.page == 4 and p.bbox[3] > p.bbox[1] + 20)
    view.show_paragraph(para.page, para.bbox)
    assert view.current_page() == 4 and view.highlight == (4, tuple(para.bbox))
    r = view.page_rect(4)
    top = r.y() + para.bbox[1] * view.zoom()
    assert 0 <= top <= view.viewport().height() / 2
    img = view.viewport().grab().toImage()
    # the highlight's border is drawn 4 px left of the paragraph
    x = int(r.x() + para.bbox[0] * view.zoom()) - 4
    y = int(top + (para.bbox[3] - para.bbox[1]) * view.zoom() / 2)
    c = img.pixelColor(x, y)
    assert c.red() > 180 and c.blue() < 120, c.name()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert view.highlight is None


def test_renders_at_device_pixel_ratio(qtbot, view, monkeypatch):
    monkeypatch.setattr(view, "devicePixelRatioF", lambda: 2.0)
    view.viewport().update()
    page = view.current_page()
    # fit-width may re-fit (a scroll bar appearing changes the width): key at the time of the check
    qtbot.waitUntil(lambda: (page, view.scale_key()) in view.renders, timeout=30000)
    img = view.renders[(page, view.scale_key())]
    w_pt = view.page_sizes()[page - 1][0]
    assert img.width() == pytest.approx(w_pt * view.zoom() * 2, abs=2)


def test_ctrl_wheel_zooms_and_plain_wheel_scrolls(qtbot, view):
    z = view.zoom()
    pos = QPointF(100, 100)

    def wheel(mods):
        ev = QWheelEvent(pos, view.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                         mods, Qt.ScrollPhase.NoScrollPhase, False)
        view.wheelEvent(ev)

    wheel(Qt.KeyboardModifier.ControlModifier)
    assert view.zoom() == pytest.approx(z * 1.1)
    view.verticalScrollBar().setValue(500)
    wheel(Qt.KeyboardModifier.NoModifier)
    assert view.verticalScrollBar().value() < 500
    assert view.zoom() == pytest.approx(z * 1.1)


def test_only_visible_pages_are_rendered(qtbot, view):
    qtbot.wait(300)
    key = view.scale_key()
    rendered = {p for p, k in view.renders if k == key}
    assert 1 in rendered and 4 not in rendered


def test_render_helper_process_crash_is_survived(qtbot, view):
    import os

    if os.environ.get("READER_APP_RENDER_INPROCESS"):
        pytest.skip("rendering in-process")
    from reader_app.pdf import render

    win = view.window()
    helper = render.start_helper()
    assert type(view.doc).__name__ == "ProcessRenderDoc"
    helper.proc.kill()  # as if MuPDF crashed on a page
    helper.proc.join(5)
    view.zoom_in()  # the renders fail quietly; the window lives on
    qtbot.wait(300)
    with qtbot.waitSignal(view.firstPageShown, timeout=60000):
        win.open_paper(win.paper.id)  # reopening starts a fresh helper
    assert render.start_helper() is not helper and view.page_count() == 4


def test_selection_runs_across_a_page_break(qtbot, view):
    w1, w2 = view.doc.words(1), view.doc.words(2)
    with qtbot.waitSignal(view.selectionChanged) as sig:
        view.select_words(1, len(w1) - 3, 2, last_page=2)
    text = sig.args[0]
    assert text.split() == [w.text for w in w1[-3:]] + [w.text for w in w2[:3]]
    assert "\n" in text  # the page break starts a new line
