"""Menus, toolbar and shortcuts of the main window.

``WindowActions(win)`` is owned by ``MainWindow`` (``win.window_actions``) and builds the
menu bar and the toolbar.  It keeps the menus (``file_menu``, ``export_menu``,
``edit_menu``, ``view_menu``, ``help_menu``), the ``toolbar`` and the named ``QAction``
of each command as attributes, so other parts (``highlights.install``, tests) reach them
by object, never by their text.  Every action is also added to the window, so its
shortcut works wherever the focus is.  The commands call the window's public members
(``pdf_view``, ``paper_actions``, ``start_find``, ``edit_paper``, ``remove_paper``, ...).
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QDialog, QMessageBox, QStyle, QToolBar

from reader_app.ui.library import zotero_import
from reader_app.ui.window.settings_dialog import SettingsDialog

S, K = QStyle.StandardPixmap, QKeySequence.StandardKey


class WindowActions:
    def __init__(self, win):
        self._win = win
        v, papers = win.pdf_view, win.paper_actions
        mb = win.menuBar()

        m = self.file_menu = mb.addMenu("&File")
        self.open = self._action(m, "&Open PDF…", papers.open_dialog, K.Open, S.SP_DialogOpenButton,
                                 "Import PDFs and open them (Ctrl+O)")
        self.import_folder = self._action(m, "Import &folder…", papers.import_folder_dialog)
        self.import_zotero, self.import_bib = zotero_import.install(win, m)
        m.addSeparator()
        em = self.export_menu = m.addMenu("&Export to Markdown")
        self.export_current = self._action(em, "&Current paper…", papers.export_current)
        self.export_tag = self._action(em, "Papers with a &tag…", papers.export_tag)
        self.export_all = self._action(em, "&Whole library…", papers.export_all)
        m.addSeparator()
        self.settings = self._action(m, "&Settings…", self.open_settings, "Ctrl+,")
        m.addSeparator()
        self.quit = self._action(m, "&Quit", win.close, "Ctrl+Q")

        m = self.edit_menu = mb.addMenu("&Edit")
        self.copy = self._action(m, "&Copy", v.copy, K.Copy)
        self.find = self._action(m, "&Find…", win.start_find, K.Find)
        self.find_next = self._action(m, "Find &next", v.find_next, K.FindNext)
        self.find_prev = self._action(m, "Find &previous", v.find_prev, K.FindPrevious)
        m.addSeparator()
        self.paper_details = self._action(m, "Paper &details…", lambda: win.paper and win.edit_paper(win.paper.id))
        self.remove_paper = self._action(m, "&Remove paper…", lambda: win.paper and win.remove_paper(win.paper.id))

        m = self.view_menu = mb.addMenu("&View")
        self.zoom_in = self._action(m, "Zoom &in", v.zoom_in, ["Ctrl+=", "Ctrl++"], tip="Zoom in (Ctrl+=)")
        self.zoom_out = self._action(m, "Zoom &out", v.zoom_out, ["Ctrl+-"], tip="Zoom out (Ctrl+-)")
        self.fit_width = self._action(m, "Fit &width", lambda: v.set_fit("width"), "Ctrl+2")
        self.fit_page = self._action(m, "Fit &page", lambda: v.set_fit("page"), "Ctrl+1")
        self.actual_size = self._action(m, "&Actual size", lambda: v.set_zoom(1.0), "Ctrl+0")
        m.addSeparator()
        self.next_page = self._action(m, "Next page", v.next_page, "Ctrl+PgDown")
        self.prev_page = self._action(m, "Previous page", v.prev_page, "Ctrl+PgUp")
        self.go_to_page = self._action(m, "Go to page…", lambda: (win.page_box.setFocus(), win.page_box.selectAll()),
                                       "Ctrl+G")
        search = win.library_pane.search_box
        self.search_library = self._action(m, "Search library", lambda: (search.setFocus(), search.selectAll()),
                                           "Ctrl+Shift+F")

        m = self.help_menu = mb.addMenu("&Help")
        self.about = self._action(m, "&About Reader", self.show_about)

        tb = self.toolbar = QToolBar("Main")
        tb.setObjectName("main-toolbar")
        tb.setMovable(False)
        win.addToolBar(tb)
        tb.addAction(self.open)
        tb.addSeparator()
        tb.addWidget(win.page_box)
        tb.addWidget(win.page_total)
        tb.addSeparator()
        self.zoom_out.setText("−")
        self.zoom_in.setText("+")
        tb.addAction(self.zoom_out)
        tb.addWidget(win.zoom_box)
        tb.addAction(self.zoom_in)
        tb.addSeparator()
        self.find_tool = QAction(QIcon.fromTheme("edit-find"), "Find", win)
        self.find_tool.setToolTip("Find in paper (Ctrl+F)")
        self.find_tool.triggered.connect(win.start_find)
        tb.addAction(self.find_tool)
        self.warning = tb.addWidget(win.warning_label)  # shown while the paper has hidden text
        self.warning.setVisible(False)

    def _action(self, menu, text, slot, shortcut=None, icon=None, tip=None) -> QAction:
        win = self._win
        act = QAction(text, win)
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, (list, tuple)) else [shortcut]
            act.setShortcuts([QKeySequence(k) for k in keys])
        if icon is not None:
            act.setIcon(win.style().standardIcon(icon))
        if tip:
            act.setToolTip(tip)
        act.triggered.connect(lambda _checked=False: slot())
        if menu is not None:
            menu.addAction(act)
        win.addAction(act)  # shortcuts work wherever the focus is
        return act

    def show_about(self) -> None:
        QMessageBox.about(self._win, "About Reader", "<b>Reader</b><br>A local-first reading assistant for "
                          "research papers.<br>License: AGPL-3.0-or-later")

    def open_settings(self) -> None:
        """File > Settings; saving them reconfigures the model worker (``SettingsDialog.save``)."""
        win = self._win
        dlg = SettingsDialog(win.services, win)
        if dlg.exec() == QDialog.DialogCode.Accepted:
            win.show_model_state("none", "")
