"""The library pane: the paper table (sortable), a tag filter and full-text search.

``LibraryPane(services)`` loads everything through background ops; it never runs SQL on
the GUI thread.  Signals:

- ``paperActivated(str paper_id)`` - double click / Enter on a paper;
- ``hitActivated(str paper_id, int page, int paragraph)`` - a search hit was chosen;
- ``editRequested(str)``, ``removeRequested(str)``, ``exportRequested(list)`` - from the
  context menu (the main window does the work);
- ``message(str)`` - a one-line note for the status bar.

Several rows can be selected (Shift/Ctrl+click); "Export to Markdown…" and "Copy BibTeX"
act on the selection when the clicked row is part of it.  "Copy BibTeX" (also
Ctrl+Shift+C in the table) builds the entries from the metadata the pane already holds
(:mod:`reader_app.export.bibtex`), puts them on the clipboard and says so in the status bar.
"""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QStackedWidget,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from reader_app.export.bibtex import bibliography
from reader_app.ui.background.ops import run_op

ID_ROLE = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Title", "Authors", "Year", "Tags")


def authors_text(authors: list[str], limit: int = 2) -> str:
    """Surnames, compact: "Shen", "Shen & Lo", "Shen et al." (full names go in the tooltip)."""
    names = [a.split(",")[0].strip() if "," in a else (a.split() or [""])[-1] for a in authors if a.strip()]
    if len(names) <= limit:
        return " & ".join(names)
    return f"{names[0]} et al."


class _SortProxy(QSortFilterProxyModel):
    def lessThan(self, left, right):  # noqa: N802 - years sort as numbers, blanks last
        a, b = left.data(Qt.ItemDataRole.UserRole), right.data(Qt.ItemDataRole.UserRole)
        if a is not None or b is not None:
            return (a if a is not None else 10**9) < (b if b is not None else 10**9)
        return super().lessThan(left, right)


class LibraryPane(QWidget):
    paperActivated = Signal(str)
    hitActivated = Signal(str, int, int)
    editRequested = Signal(str)
    removeRequested = Signal(str)
    exportRequested = Signal(list)
    loaded = Signal()  # the table was (re)filled
    searched = Signal()  # search results arrived
    message = Signal(str)  # a one-line note for the status bar (e.g. "Copied BibTeX for …")

    def __init__(self, services, parent=None):
        super().__init__(parent)
        self.services = services
        self.papers: dict = {}
        self._search_gen = 0

        self.search_box = QLineEdit(placeholderText="Search all papers…", clearButtonEnabled=True)
        self.search_box.setAccessibleName("Full-text search")
        self.tag_box = QComboBox()
        self.tag_box.setToolTip("Show only papers with this tag")
        self.tag_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = _SortProxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 3):
            head.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(col, 75 if col == 1 else 60)
        head.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.doubleClicked.connect(lambda idx: self._activate(idx))
        self.table.activated.connect(lambda idx: self._activate(idx))
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._menu)
        self.copy_bibtex_action = QAction("Copy BibTeX", self.table)
        self.copy_bibtex_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.copy_bibtex_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.copy_bibtex_action.triggered.connect(lambda _c=False: self.copy_bibtex(self.selected_ids()))
        self.table.addAction(self.copy_bibtex_action)

        self.hits = QListWidget()
        self.hits.setWordWrap(True)
        self.hits.setAlternatingRowColors(True)
        self.hits.itemActivated.connect(self._hit_chosen)
        self.hits.itemClicked.connect(self._hit_chosen)

        self.empty = QLabel("No papers yet.\nImport PDFs with File ▸ Open (Ctrl+O)\nor drop them on the window.",
                            alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty.setEnabled(False)
        self.stack = QStackedWidget()
        for w in (self.table, self.hits, self.empty):
            self.stack.addWidget(w)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search_box, 1)
        top.addWidget(self.tag_box)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addLayout(top)
        lay.addWidget(self.stack, 1)

        self._search_timer = QTimer(self, singleShot=True, interval=250, timeout=self._run_search)
        self.search_box.textChanged.connect(lambda _t: self._search_timer.start())
        self.search_box.returnPressed.connect(self._run_search)
        self.tag_box.currentIndexChanged.connect(lambda _i: self._tag_changed())

    # ---- data ------------------------------------------------------------------------
    def current_tag(self) -> str | None:
        return self.tag_box.currentData()

    def refresh(self) -> None:
        tag = self.current_tag()

        def work():
            lib = self.services.library()
            tags = lib.all_tags()
            if tag is not None and tag not in {t for t, _n in tags}:
                return lib.list_papers(), tags, None
            return lib.list_papers(tag=tag), tags, tag

        run_op(self, work, on_success=self._fill)

    def _fill(self, result) -> None:
        papers, tags, tag = result
        selected = self.selected_id()
        self.tag_box.blockSignals(True)
        self.tag_box.clear()
        self.tag_box.addItem("All papers", None)
        for name, n in tags:
            self.tag_box.addItem(f"{name} ({n})", name)
        i = self.tag_box.findData(tag) if tag is not None else 0
        self.tag_box.setCurrentIndex(max(0, i))
        self.tag_box.blockSignals(False)

        self.papers = {p.id: p for p in papers}
        self.model.removeRows(0, self.model.rowCount())
        warn_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for p in papers:
            title = QStandardItem(p.title or p.original_path or p.id[:12])
            title.setData(p.id, ID_ROLE)
            tip = p.title
            if p.warnings:
                title.setIcon(warn_icon)
                tip += "\n⚠ " + "\n⚠ ".join(p.warnings)
            title.setToolTip(tip)
            authors = QStandardItem(authors_text(p.authors))
            authors.setToolTip(", ".join(p.authors))
            year = QStandardItem(str(p.year) if p.year else "")
            year.setData(p.year, Qt.ItemDataRole.UserRole)
            tags_item = QStandardItem(", ".join(p.tags))
            self.model.appendRow([title, authors, year, tags_item])
        if selected:
            self.select(selected)
        self._update_stack()
        self.loaded.emit()

    def _update_stack(self) -> None:
        if self.search_box.text().strip():
            self.stack.setCurrentWidget(self.hits)
        elif self.model.rowCount() == 0 and self.current_tag() is None:
            self.stack.setCurrentWidget(self.empty)
        else:
            self.stack.setCurrentWidget(self.table)

    def _tag_changed(self) -> None:
        self.refresh()
        if self.search_box.text().strip():
            self._run_search()

    # ---- selection -----------------------------------------------------------------------
    def row_ids(self) -> list[str]:
        """Paper ids in the order shown."""
        return [self.proxy.index(r, 0).data(ID_ROLE) for r in range(self.proxy.rowCount())]

    def selected_id(self) -> str | None:
        idx = self.table.currentIndex()
        return idx.sibling(idx.row(), 0).data(ID_ROLE) if idx.isValid() else None

    def selected_ids(self) -> list[str]:
        """Ids of the selected rows, in the order shown."""
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [pid for pid in (self.proxy.index(r, 0).data(ID_ROLE) for r in rows) if pid]

    def select(self, paper_id: str) -> None:
        for r in range(self.proxy.rowCount()):
            if self.proxy.index(r, 0).data(ID_ROLE) == paper_id:
                self.table.selectRow(r)
                self.table.scrollTo(self.proxy.index(r, 0))
                return

    def _activate(self, idx) -> None:
        pid = idx.sibling(idx.row(), 0).data(ID_ROLE)
        if pid:
            self.paperActivated.emit(pid)

    def _menu(self, pos) -> None:
        idx = self.table.indexAt(pos)
        if not idx.isValid():
            return
        menu = self.context_menu(idx.sibling(idx.row(), 0).data(ID_ROLE))
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one menu per right-click
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def context_menu(self, pid: str) -> QMenu:
        """The menu for a right click on ``pid``'s row; batch actions take the selection
        when that row is part of it."""
        chosen = self.selected_ids()
        if pid not in chosen:
            chosen = [pid]
        n = len(chosen)
        plural = f" ({n} papers)" if n > 1 else ""
        menu = QMenu(self)
        for text, fn in (("Open", lambda: self.paperActivated.emit(pid)),
                         ("Edit title, authors, year…", lambda: self.editRequested.emit(pid)),
                         (f"Export to Markdown{plural}…", lambda: self.exportRequested.emit(chosen)),
                         (f"Copy BibTeX{plural}", lambda: self.copy_bibtex(chosen)),
                         (None, None),
                         ("Remove from library…", lambda: self.removeRequested.emit(pid))):
            if text is None:
                menu.addSeparator()
                continue
            act = QAction(text, menu)
            act.triggered.connect(fn)
            if text.startswith("Copy BibTeX"):
                act.setShortcut(self.copy_bibtex_action.shortcut())  # shown, handled by the table
            menu.addAction(act)
        return menu

    def copy_bibtex(self, ids: list[str]) -> str:
        """Put BibTeX entries for ``ids`` (keys unique among them) on the clipboard; returns
        the text ("" when none of the ids is in the table)."""
        papers = [self.papers[i] for i in dict.fromkeys(ids) if i in self.papers]
        if not papers:
            self._status("Select a paper to copy its BibTeX.")
            return ""
        text = bibliography(papers)
        QGuiApplication.clipboard().setText(text)
        n = len(papers)
        self._status(f"Copied BibTeX for {n} papers" if n > 1 else
                     f"Copied BibTeX for “{papers[0].title or papers[0].id[:12]}”")
        return text

    def _status(self, message: str) -> None:
        self.message.emit(message)

    # ---- search --------------------------------------------------------------------------
    def _run_search(self) -> None:
        self._search_timer.stop()
        query = self.search_box.text().strip()
        self._search_gen += 1
        gen = self._search_gen
        if not query:
            self.hits.clear()
            self._update_stack()
            return
        tag = self.current_tag()
        run_op(self, lambda: self.services.library().search(query, tag=tag, limit=100),
               on_success=lambda hits: self._show_hits(gen, hits))

    def _show_hits(self, gen: int, hits) -> None:
        if gen != self._search_gen:
            return
        self.hits.clear()
        if not hits:
            item = QListWidgetItem("No matches.")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.hits.addItem(item)
        groups: dict[str, list] = {}
        for h in hits:  # best paper first, its hits in rank order under its title
            groups.setdefault(h.paper_id, []).append(h)
        bold = self.hits.font()
        bold.setBold(True)
        for paper_id, group in groups.items():
            head = QListWidgetItem(f"{group[0].title or paper_id[:12]}  ({len(group)})")
            head.setFont(bold)
            head.setFlags(Qt.ItemFlag.ItemIsEnabled)
            head.setToolTip(group[0].title)
            self.hits.addItem(head)
            for h in group:
                snippet = h.snippet.replace("**", "")
                where = f"p. {h.page}" + (f" · {h.section}" if h.section else "")
                item = QListWidgetItem(f"    {where}\n    {snippet}")
                item.setData(ID_ROLE, (h.paper_id, h.page, h.paragraph))
                item.setToolTip(snippet)
                self.hits.addItem(item)
        self._update_stack()
        self.searched.emit()

    def _hit_chosen(self, item: QListWidgetItem) -> None:
        data = item.data(ID_ROLE)
        if data:
            self.hitActivated.emit(data[0], int(data[1] or 1), int(data[2] if data[2] is not None else -1))
