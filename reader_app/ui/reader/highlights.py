"""Highlights in the window: highlight the selection, recolour, note, delete, and keep the
PDF view and the Notes tab showing what the library holds.

``install(win, edit_menu)`` adds the entries to the Edit menu it is given (Ctrl+Shift+H:
highlight the selection in yellow; a submenu per colour) and returns the Ctrl+Shift+H
action; it sets up the PDF view's context menu (on a selection: highlight it; on a
highlight: recolour, note, delete) and reloads the view's highlights whenever a paper is
shown or the Notes tab changes something.  ``win`` is the ``MainWindow``: its public
``pdf_view``, ``paper``, ``services``, ``side_panel`` (or None), ``paperShown`` and
``highlight_note_prompt`` are used.  All library work runs in ``ui.background.ops.run_op`` with the
worker thread's own ``Library``.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import QInputDialog, QMenu

from reader_app.core.model import HIGHLIGHT_COLORS
from reader_app.ui.background.ops import run_op

MENU_COLORS = ("yellow", "red", "green", "blue", "purple")
SHORTCUT = "Ctrl+Shift+H"


def color_icon(color: str) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(QColor(HIGHLIGHT_COLORS.get(color, color)))
    return QIcon(pix)


def install(win, edit_menu: QMenu) -> QAction:
    """Set up highlighting in ``win``; its entries go to ``edit_menu``.  Returns the
    "Highlight selection" action (Ctrl+Shift+H)."""
    view = win.pdf_view
    view.viewport().setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    view.viewport().customContextMenuRequested.connect(lambda pos: context_menu(win, QPointF(pos)))
    edit_menu.addSeparator()
    act = QAction("&Highlight selection", win)
    act.setShortcut(QKeySequence(SHORTCUT))
    act.setToolTip(f"Keep the selected text highlighted ({SHORTCUT})")
    act.triggered.connect(lambda _c=False: highlight_selection(win, "yellow"))
    win.addAction(act)
    edit_menu.addAction(act)
    sub = edit_menu.addMenu("Highlight in colour")
    for i, name in enumerate(MENU_COLORS):
        a = QAction(color_icon(name), name.capitalize(), win)
        a.setShortcut(QKeySequence(f"Ctrl+Alt+{i + 1}"))
        a.triggered.connect(lambda _c=False, n=name: highlight_selection(win, n))
        win.addAction(a)
        sub.addAction(a)
    note = QAction("Highlight with &note…", win)
    note.triggered.connect(lambda _c=False: highlight_selection(win, "yellow", ask_note=True))
    edit_menu.addAction(note)
    win.paperShown.connect(lambda _pid: reload(win))
    if win.side_panel is not None:
        win.side_panel.notesChanged.connect(lambda: reload(win))
    return act


def _paper_id(win) -> str | None:
    return win.paper.id if win.paper is not None else None


def reload(win) -> None:
    """Read the open paper's highlights into the PDF view."""
    pid = _paper_id(win)
    if not pid:
        win.pdf_view.set_highlights([])
        return

    def done(items, pid=pid):
        if _paper_id(win) == pid:
            win.pdf_view.set_highlights(items)

    run_op(win, lambda: win.services.library().highlights(pid), on_success=done)


def _changed(win, message: str) -> None:
    win.statusBar().showMessage(message, 4000)
    reload(win)
    if win.side_panel is not None:
        win.side_panel.notes_panel.reload()


def note_prompt(win, title: str, text: str = "") -> str | None:
    """Ask for a highlight's note (replaceable in tests: ``win.highlight_note_prompt``)."""
    prompt = win.highlight_note_prompt
    if prompt is not None:
        return prompt(title, text)
    value, ok = QInputDialog.getMultiLineText(win, title, "Note (Markdown):", text)
    return value if ok else None


def highlight_selection(win, color: str = "yellow", note: str = "", ask_note: bool = False) -> bool:
    """Keep the PDF view's selection as a highlight (one per page it covers)."""
    pid = _paper_id(win)
    parts = win.pdf_view.selected_lines()
    if not pid or not parts:
        win.statusBar().showMessage("Select text in the PDF first, then highlight it.", 4000)
        return False
    if ask_note:
        value = note_prompt(win, "Highlight with note")
        if value is None:
            return False
        note = value

    def work():
        lib = win.services.library()
        return [lib.add_highlight(pid, page, boxes, text=text, color=color, note=note if i == 0 else "")
                for i, (page, text, boxes) in enumerate(parts)]

    win.pdf_view.clear_selection()
    run_op(win, work, on_success=lambda _r: _changed(win, "Highlighted."))
    return True


def recolor(win, highlight_id: int, color: str) -> None:
    run_op(win, lambda: win.services.library().update_highlight(highlight_id, color=color),
           on_success=lambda _r: _changed(win, "Highlight recoloured."))


def delete(win, highlight_id: int) -> None:
    run_op(win, lambda: win.services.library().delete_highlight(highlight_id),
           on_success=lambda _r: _changed(win, "Highlight deleted."))


def edit_note(win, h) -> None:
    value = note_prompt(win, "Note on highlight", h.note)
    if value is not None:
        run_op(win, lambda: win.services.library().update_highlight(h.id, note=value),
               on_success=lambda _r: _changed(win, "Note saved."))


def context_menu(win, pos) -> QMenu | None:
    view = win.pdf_view
    h = view.highlight_under(pos)
    menu = QMenu(win)
    if view.selected_lines():
        for name in MENU_COLORS:
            menu.addAction(color_icon(name), f"Highlight {name}",
                           lambda n=name: highlight_selection(win, n))
        menu.addAction("Highlight with note…", lambda: highlight_selection(win, "yellow", ask_note=True))
        menu.addAction("Copy", view.copy)
    if h is not None:
        if not menu.isEmpty():
            menu.addSeparator()
        sub = menu.addMenu("Recolour highlight")
        for name in MENU_COLORS:
            sub.addAction(color_icon(name), name.capitalize(), lambda n=name, i=h.id: recolor(win, i, n))
        menu.addAction("Edit note…" if h.note else "Add note…", lambda: edit_note(win, h))
        menu.addAction("Delete highlight", lambda i=h.id: delete(win, i))
    if menu.isEmpty():
        return None
    menu.popup(view.viewport().mapToGlobal(pos.toPoint()))
    return menu
