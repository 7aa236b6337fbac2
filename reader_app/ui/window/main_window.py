"""The main window: library and outline on the left, the PDF in the middle, the side panel.

``MainWindow(services)`` composes ``LibraryPane``, ``PdfView`` (+ ``FindBar``), the
``SidePanel`` and the status bar, and owns the objects that act for it:
``window_actions`` (``WindowActions``: menus, toolbar, named actions), ``paper_actions``
(``PaperActions``: import, export, edit, remove), ``state`` (``WindowState``: reading
positions, geometry) and the highlight actions (``highlights.install``, given the Edit
menu).  All library work goes through ``ui.background.ops.run_op``; the window only reacts.

The side panel (``reader_app/ui/panel/side_panel.py``, see its contract) is wired to the PDF
view, the library pane and the status bar (its ``worker``).  When it cannot be built
(``side_panel`` is None) the window shows a placeholder and reading still works.

Hooks for tests and scripted use: ``password_prompt(name) -> str | None``,
``folder_prompt(title) -> str | None`` and ``highlight_note_prompt(title, text) -> str |
None`` (None: the dialog) replace the dialogs; ``errors`` lists the messages shown to the
user; ``paperShown(str)`` fires when a paper is open in the view, ``papersAdded(ids)`` when
an import brought new papers (app.py computes their paragraph vectors).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QIntValidator
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from reader_app.core.errors import PasswordError
from reader_app.ui.reader import highlights
from reader_app.ui.reader.find_bar import FindBar
from reader_app.ui.library.library_pane import LibraryPane
from reader_app.ui.background.ops import run_op
from reader_app.ui.library.paper_actions import PaperActions
from reader_app.ui.reader.pdf_view import PdfView
from reader_app.ui.panel.side_panel import SidePanel
from reader_app.ui.window.status import OpStatus
from reader_app.ui.window.window_actions import WindowActions
from reader_app.ui.window.window_state import WindowState

log = logging.getLogger("reader_app.ui")
ZOOM_STEPS = (50, 75, 100, 125, 150, 200, 300, 400)


def make_side_panel(services) -> SidePanel | None:
    """The SidePanel, or None when it cannot be built (logged; the window keeps reading)."""
    try:
        return SidePanel(services)
    except Exception as exc:  # noqa: BLE001 - e.g. model trouble: keep reading
        log.warning("side panel unavailable: %s", exc)
        return None


def side_panel_placeholder() -> QLabel:
    label = QLabel("The Ask / Summary / Notes panel could not start (see the log); reading works without it.")
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


class MainWindow(QMainWindow):
    paperShown = Signal(str)
    importFinished = Signal(object)  # the import summary dict
    papersAdded = Signal(object)  # ids of papers new in the library (a list), or None: some (a Zotero/BibTeX import)

    def __init__(self, services, parent=None):
        super().__init__(parent)
        self.services = services
        self.paper = None
        self.errors: list[str] = []
        self.password_prompt = self._ask_password
        self.folder_prompt = self._ask_folder
        self.highlight_note_prompt = None  # (title, text) -> str | None; None: a dialog asks
        self._passwords: dict[str, str] = {}
        self._opening_id: str | None = None  # the paper whose PDF the view is opening
        self.state = WindowState(self)
        self._error_box: QMessageBox | None = None
        self.setWindowTitle("Reader")
        self.setAcceptDrops(True)
        self.resize(1400, 900)

        self.library_pane = LibraryPane(services)
        self.outline = QTreeWidget()
        self.outline.setHeaderHidden(True)
        self.outline.itemActivated.connect(self._outline_clicked)
        self.outline.itemClicked.connect(self._outline_clicked)
        outline_box = QWidget()
        ol = QVBoxLayout(outline_box)
        ol.setContentsMargins(4, 0, 4, 4)
        ol.addWidget(QLabel("<b>Contents</b>"))
        ol.addWidget(self.outline)
        self.left = QSplitter(Qt.Orientation.Vertical)
        self.left.addWidget(self.library_pane)
        self.left.addWidget(outline_box)
        self.left.setSizes([500, 350])

        self.pdf_view = PdfView()
        self.pdf_view.warm_up()
        self.find_bar = FindBar()
        self.find_bar.hide()
        center = QWidget()
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.pdf_view, 1)
        cl.addWidget(self.find_bar)

        self.side_panel = make_side_panel(services)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.left)
        self.splitter.addWidget(center)
        self.splitter.addWidget(self.side_panel if self.side_panel is not None else side_panel_placeholder())
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([320, 680, 400])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

        self.page_box = QLineEdit()
        self.page_box.setValidator(QIntValidator(1, 99999, self))
        self.page_box.setFixedWidth(48)
        self.page_box.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.page_box.setToolTip("Go to page")
        self.page_total = QLabel(" / –  ")
        self.zoom_box = QComboBox()
        self.zoom_box.setEditable(True)
        self.zoom_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.zoom_box.addItem("Fit width", "width")
        self.zoom_box.addItem("Fit page", "page")
        for z in ZOOM_STEPS:
            self.zoom_box.addItem(f"{z}%", z / 100)
        self.zoom_box.setMinimumContentsLength(8)
        self.warning_label = QLabel()
        self.model_label = QLabel()
        self.op_status = OpStatus()
        self.statusBar().addPermanentWidget(self.op_status)
        self.statusBar().addPermanentWidget(self.model_label)
        self.paper_actions = PaperActions(self)
        self.window_actions = WindowActions(self)

        self.library_pane.paperActivated.connect(lambda pid: self.open_paper(pid))
        self.library_pane.hitActivated.connect(lambda pid, page, para: self.open_paper(pid, page, para))
        self.library_pane.editRequested.connect(self.edit_paper)
        self.library_pane.removeRequested.connect(self.remove_paper)
        self.library_pane.exportRequested.connect(lambda ids: self.export_ids(ids, None))
        self.library_pane.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.pdf_view.documentLoaded.connect(self._doc_loaded)
        self.pdf_view.loadFailed.connect(self._doc_failed)
        self.pdf_view.pageChanged.connect(self._page_changed)
        self.pdf_view.zoomChanged.connect(self._zoom_changed)
        self.pdf_view.findResults.connect(self.find_bar.show_results)
        self.find_bar.findRequested.connect(self.pdf_view.find)
        self.find_bar.nextRequested.connect(self.pdf_view.find_next)
        self.find_bar.prevRequested.connect(self.pdf_view.find_prev)
        self.find_bar.closed.connect(self._find_closed)
        self._outline_timer = QTimer(self, singleShot=True, interval=80, timeout=self._sync_outline)
        self.pdf_view.verticalScrollBar().valueChanged.connect(lambda _v: self._outline_timer.start())
        self.page_box.returnPressed.connect(lambda: self.pdf_view.go_to(int(self.page_box.text() or 1)))
        self.zoom_box.activated.connect(self._zoom_chosen)
        self.zoom_box.lineEdit().returnPressed.connect(self._zoom_typed)
        if self.side_panel is not None:
            self._wire_side_panel(self.side_panel)
        # Ctrl+Shift+H, the Edit menu's highlight entries, the PDF view's context menu, kept highlights drawn
        self.act_highlight = highlights.install(self, self.window_actions.edit_menu)
        self.show_model_state("none", "")
        self.library_pane.refresh()

    def _wire_side_panel(self, panel: SidePanel) -> None:
        panel.citationActivated.connect(self.pdf_view.show_paragraph)
        self.pdf_view.pageChanged.connect(panel.set_current_page)
        self.pdf_view.selectionChanged.connect(panel.set_selection)
        panel.notesChanged.connect(self.library_pane.refresh)  # tags show in the table
        panel.paperCitationActivated.connect(lambda pid, p, i: self.open_paper(pid, p, i))  # answers across papers
        panel.set_library_selection(self.library_pane.selected_ids)
        self.library_pane.loaded.connect(panel.refresh_scopes)
        panel.pageRequested.connect(lambda p: self.pdf_view.go_to(p))
        panel.worker.modelStateChanged.connect(self.show_model_state)  # its jobs show through ops.tracker

    # ---- messages ------------------------------------------------------------------------
    def show_error(self, msg: str, quiet: bool = False) -> None:
        """A one-line message: status bar always; a (non-blocking) dialog unless quiet."""
        self.statusBar().showMessage(msg, 10000)
        if quiet:
            return
        self.errors.append(msg)
        if self._error_box is None:
            self._error_box = QMessageBox(QMessageBox.Icon.Warning, "Reader", "", QMessageBox.StandardButton.Ok, self)
            self._error_box.setWindowModality(Qt.WindowModality.WindowModal)
        box = self._error_box
        box.setText(msg if not box.isVisible() else box.text() + "\n" + msg)
        box.open()

    def remember_passwords(self, passwords: dict[str, str]) -> None:
        """Passwords that opened encrypted papers this session (never stored): paper id -> password."""
        self._passwords.update(passwords)

    def show_model_state(self, state: str, detail: str) -> None:
        name = detail if state == "ready" and detail else self.services.model_name()
        text = {"loading": f"Loading model: {detail or name}…", "error": "No usable model"}.get(state, f"Model: {name}")
        self.model_label.setText(text)
        self.model_label.setToolTip(detail if state == "error" else "The language model used for answers and summaries")

    # ---- opening papers ---------------------------------------------------------------------
    def open_paper(self, paper_id: str, page: int | None = None, paragraph: int = -1) -> None:
        self.save_position()
        known = self.library_pane.papers.get(paper_id)
        opened = None
        if known is not None and known.file:  # start on the PDF while the paper's text loads
            opened = known.file
            self._open_pdf(known, page)
        run_op(self, lambda: self.services.library().get_paper(paper_id, with_paragraphs=True),
               on_success=lambda paper: self._show_paper(paper, page, paragraph, opened))

    def _open_pdf(self, paper, page: int | None) -> None:
        y = zoom = None
        pos = self.state.saved_position(paper.id)
        if page is None and pos:
            page, y, zoom = pos
        self._opening_id = paper.id
        self.pdf_view.open(paper.file, self._passwords.get(paper.id), page=page, y=y, zoom=zoom)

    def _show_paper(self, paper, page: int | None, paragraph: int, opened: str | None = None) -> None:
        self.paper = paper
        self.setWindowTitle(f"{paper.title or Path(paper.file).name} — Reader")
        self.library_pane.select(paper.id)
        self._fill_outline(paper)
        self._show_warnings(paper)
        if opened != paper.file or self._opening_id != paper.id:
            self._open_pdf(paper, page)
        elif self.pdf_view.page_count():  # the PDF was quicker than the database
            self.paperShown.emit(paper.id)
        if paragraph is not None and 0 <= paragraph < len(paper.paragraphs):
            para = paper.paragraphs[paragraph]
            self.pdf_view.show_paragraph(para.page or page or 1, para.bbox)
        if self.side_panel is not None:
            self.side_panel.set_paper(paper.id, paper=paper)

    def _doc_loaded(self, pages: int) -> None:
        self.page_total.setText(f" / {pages}  ")
        self._page_changed(self.pdf_view.current_page())
        self._zoom_changed(self.pdf_view.zoom())
        if self.paper is not None and self.paper.id == self._opening_id:
            self.paperShown.emit(self.paper.id)

    def _doc_failed(self, exc) -> None:
        pid = self._opening_id
        paper = self.paper if self.paper is not None and self.paper.id == pid else self.library_pane.papers.get(pid)
        if isinstance(exc, PasswordError) and paper is not None:
            pw = self.password_prompt(paper.title or Path(paper.file).name)
            if pw:
                self._passwords[paper.id] = pw
                self.pdf_view.open(paper.file, pw)
                return
        self.show_error(str(exc))

    def _show_warnings(self, paper) -> None:
        if paper.warnings:
            icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
            self.warning_label.setPixmap(icon.pixmap(16, 16))
            self.warning_label.setToolTip("This PDF has hidden or suspicious text that was left out:\n"
                                          + "\n".join(paper.warnings))
            self.warning_label.setText("")
            self.window_actions.warning.setVisible(True)
            self.statusBar().showMessage("⚠ Hidden or suspicious text was left out of this paper's text "
                                         "(hover the warning sign for details)", 10000)
        else:
            self.window_actions.warning.setVisible(False)

    def _fill_outline(self, paper) -> None:
        self.outline.clear()
        first_para = {}
        for para in paper.paragraphs:
            if para.section_index is not None and para.section_index not in first_para:
                first_para[para.section_index] = para
        stack: list[tuple[int, QTreeWidgetItem]] = []
        for s in paper.sections:
            item = QTreeWidgetItem([s.title])
            para = first_para.get(s.index)
            y = para.bbox[1] if para is not None and para.page == s.page else None
            item.setData(0, Qt.ItemDataRole.UserRole, (s.page or 1, y))
            item.setToolTip(0, f"{s.title} (p. {s.page})")
            while stack and stack[-1][0] >= s.level:
                stack.pop()
            (stack[-1][1].addChild(item) if stack else self.outline.addTopLevelItem(item))
            stack.append((s.level, item))
        self.outline.expandAll()

    def _outline_clicked(self, item: QTreeWidgetItem, _col: int = 0) -> None:
        data = item.data(0, Qt.ItemDataRole.UserRole)
        if data:
            page, y = data
            self.pdf_view.go_to(page, max(0.0, y - 12) if y is not None else None)

    def _page_changed(self, page: int) -> None:
        if not self.page_box.hasFocus():
            self.page_box.setText(str(page) if page else "")
        self._outline_timer.start()

    def _sync_outline(self) -> None:
        """Select the section being read (the last one starting above the reading point)."""
        here = self.pdf_view.reading_point()
        current = None
        it = self.outline.topLevelItem(0)
        while it is not None:
            s_page, s_y = it.data(0, Qt.ItemDataRole.UserRole)
            if (s_page, s_y or 0.0) <= here:
                current = it
            it = self.outline.itemBelow(it)
        if current is not None and current is not self.outline.currentItem():
            self.outline.blockSignals(True)
            self.outline.setCurrentItem(current)
            self.outline.blockSignals(False)

    def _zoom_changed(self, zoom: float) -> None:
        fit = self.pdf_view.fit_mode()
        i = self.zoom_box.findData(fit) if fit else -1
        if i >= 0:
            self.zoom_box.setCurrentIndex(i)
        else:
            self.zoom_box.setEditText(f"{round(zoom * 100)}%")

    def _zoom_chosen(self, index: int) -> None:
        data = self.zoom_box.itemData(index)
        if isinstance(data, str):
            self.pdf_view.set_fit(data)
        elif data:
            self.pdf_view.set_zoom(float(data))

    def _zoom_typed(self) -> None:
        text = self.zoom_box.currentText().strip().rstrip("%").strip()
        try:
            self.pdf_view.set_zoom(float(text) / 100)
        except ValueError:
            self._zoom_changed(self.pdf_view.zoom())

    # ---- find ----------------------------------------------------------------------------------
    def start_find(self) -> None:
        self.find_bar.open_bar(self.pdf_view.selected_text()[:80])

    def _find_closed(self) -> None:
        self.pdf_view.clear_find()
        self.pdf_view.setFocus()

    def closeEvent(self, event):  # noqa: N802
        self.save_state()
        if self.side_panel is not None:
            QTimer.singleShot(0, self.side_panel.shutdown)
        super().closeEvent(event)

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        self.state.shown()

    # ---- window state (WindowState) ------------------------------------------------------------
    def save_position(self) -> None:
        self.state.save_position()

    def restore_state(self) -> None:
        self.state.restore()

    def save_state(self) -> None:
        self.state.save()

    # ---- prompts (replaceable in tests) --------------------------------------------------------
    def _ask_password(self, name: str) -> str | None:
        pw, ok = QInputDialog.getText(self, "Password needed", f"{name} is encrypted.\nPassword:",
                                      QLineEdit.EchoMode.Password)
        return pw if ok and pw else None

    def _ask_folder(self, title: str) -> str | None:
        return QFileDialog.getExistingDirectory(self, title) or None

    # ---- drag and drop -----------------------------------------------------------------------
    def dragEnterEvent(self, event):  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.import_files(paths, open_last=len(paths) == 1)

    # ---- library actions (PaperActions) -------------------------------------------------------
    def import_files(self, paths: list[str], password: str | None = None, open_last: bool = False,
                     passwords: dict | None = None) -> None:
        """Import PDFs (and folders of PDFs) in the background; open the last one if asked."""
        self.paper_actions.import_files(paths, password, open_last, passwords)

    def export_ids(self, ids: list[str] | None, index_title: str | None, **kw) -> None:
        """Export papers to Markdown (see ``PaperActions.export_ids``)."""
        self.paper_actions.export_ids(ids, index_title, **kw)

    def edit_paper(self, paper_id: str) -> None:
        self.paper_actions.edit_paper(paper_id)

    def remove_paper(self, paper_id: str, confirm: bool = True) -> None:
        self.paper_actions.remove_paper(paper_id, confirm)

    def paper_closed(self, paper_id: str) -> None:
        """``paper_id`` left the library: close it when it is the one shown."""
        if self.paper is None or self.paper.id != paper_id:
            return
        self.paper = None
        self.pdf_view.close_document()
        self.pdf_view.path = ""
        self.outline.clear()
        self.setWindowTitle("Reader")
        if self.side_panel is not None:
            self.side_panel.set_paper(None)

    def paper_info_changed(self, updated) -> None:
        """A paper's title, authors or year were edited (``updated``: the stored paper)."""
        if self.paper is not None and self.paper.id == updated.id:
            self.paper.title, self.paper.authors, self.paper.year = updated.title, updated.authors, updated.year
            self.setWindowTitle(f"{updated.title} — Reader")

