"""The side panel beside the PDF: tabs Ask / Summary / Notes.

Contract (the main window relies on it)::

    panel = SidePanel(services, parent=None, worker=None)

    # slots, called by the window
    panel.set_paper(paper_id: str | None, paper=None)  # the paper shown (None: nothing open);
                                              # ``paper``: its loaded Paper, not read again
    panel.set_current_page(page: int)         # 1-based page at the top of the view
    panel.set_selection(text: str, page: int) # text selected in the PDF ("" when cleared)
    panel.set_library_selection(ids_fn)       # () -> [paper ids] selected in the library list
                                              # (the Ask tab's "Selected papers" scope)
    panel.refresh_scopes()                    # the library's tags changed

    # signals
    panel.citationActivated(int, object)  # 1-based page, bbox (x0, y0, x1, y1) in PDF
                                          # points, origin top-left; wire it to the PDF
                                          # view's show_paragraph(page, bbox)
    panel.paperCitationActivated(str, int, int)  # a chip of ANOTHER paper (answers across
                                          # papers): paper id, 1-based page, paragraph index;
                                          # wire it to the window's open_paper
    panel.notesChanged()                  # a note or tag was added, edited or deleted
    panel.pageRequested(int)              # a page link (note or section heading) was clicked

``services`` (``reader_app.app.Services``) must provide ``library()`` (a ``Library`` for
the calling thread; called on worker threads only) and, unless ``worker`` is given,
``llm_worker()``: the app's one :class:`~reader_app.ui.background.llm_worker.LlmWorker`, built by the
composition root (app.py); the panel never builds one.  The panel never runs SQL or touches
the model itself: DB work goes through ``ui.background.ops`` and LLM work through the worker's jobs.
``panel.worker`` is the LLM worker (status bar: its ``modelStateChanged``; every job it
runs is announced on ``ui.background.jobs.tracker``).
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from reader_app.ui.ask.ask_panel import AskPanel
from reader_app.ui.panel.notes_panel import NotesPanel
from reader_app.ui.panel.summary_panel import SummaryPanel


class SidePanel(QWidget):
    citationActivated = Signal(int, object)
    paperCitationActivated = Signal(str, int, int)
    notesChanged = Signal()
    pageRequested = Signal(int)

    def __init__(self, services, parent=None, *, worker=None):
        super().__init__(parent)
        self.services = services
        self.worker = worker if worker is not None else services.llm_worker()
        self.paper_id: str | None = None
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.ask_panel = AskPanel(services, self.worker, self)
        self.summary_panel = SummaryPanel(services, self.worker, self)
        self.notes_panel = NotesPanel(services, self)
        self.tabs.addTab(self.ask_panel, "Ask")
        self.tabs.addTab(self.summary_panel, "Summary")
        self.tabs.addTab(self.notes_panel, "Notes")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tabs)
        self.ask_panel.citationActivated.connect(self.citationActivated)
        self.ask_panel.paperCitationActivated.connect(self.paperCitationActivated)
        self.summary_panel.citationActivated.connect(self.citationActivated)
        self.notes_panel.notesChanged.connect(self.notesChanged)
        self.ask_panel.noteRequested.connect(self.notes_panel.add_note)
        self.summary_panel.pageRequested.connect(self.pageRequested)
        self.notes_panel.pageActivated.connect(self.pageRequested)
        self.notes_panel.highlightActivated.connect(self.citationActivated)  # scroll to the highlight

    def minimumSizeHint(self):  # noqa: N802 - Qt API; chips and buttons need ~280 px
        hint = super().minimumSizeHint()
        return QSize(max(280, hint.width()), hint.height())

    def set_paper(self, paper_id: str | None, paper=None) -> None:
        self.paper_id = paper_id or None
        self.ask_panel.set_paper(self.paper_id)
        self.summary_panel.set_paper(self.paper_id, paper=paper)
        self.notes_panel.set_paper(self.paper_id)
        self.set_selection("", 0)

    def set_current_page(self, page: int) -> None:
        self.notes_panel.set_current_page(page)

    def set_selection(self, text: str, page: int) -> None:
        self.ask_panel.set_selection(text, page)
        self.notes_panel.set_selection(text, page)

    def set_library_selection(self, ids_fn) -> None:
        self.ask_panel.scope_picker.selection_source = ids_fn

    def refresh_scopes(self) -> None:
        self.ask_panel.scope_picker.refresh_tags()

    def show_tab(self, name: str) -> None:
        """``"ask"``, ``"summary"`` or ``"notes"``."""
        idx = {"ask": 0, "summary": 1, "notes": 2}[name.lower()]
        self.tabs.setCurrentIndex(idx)

    def shutdown(self) -> None:
        """Stop the LLM worker (the window calls this on close, or Services does)."""
        self.worker.shutdown()
