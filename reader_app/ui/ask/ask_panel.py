"""The Ask tab: a question box, the streamed answer with citation chips, and the history.

Questions go to the :class:`~reader_app.ui.background.llm_worker.LlmWorker` (never to the model
directly): each returns its own job, whose signals the panel follows until it ends.  The
paper's Q&A history is read from the library through ``ui.background.ops``.

What to ask next is decided by :class:`~reader_app.ui.ask.ask_flow.AskFlow` (no Qt): while the
paper is prepared a DoubleDipper question gets a quick answer first (quick_answer.py), then
the full one.  The scope picker (ask_scope.py) sends a question across papers
(``LlmWorker.ask_library``); its chips name their papers, and a chip of another paper emits
``paperCitationActivated(paper_id, page, paragraph index)``.  The answer itself is shown
by :class:`~reader_app.ui.ask.answer_card.AnswerCard`.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from reader_app.assistant.confidence import level
from reader_app.core.errors import BadInput
from reader_app.core.model import AnswerUpdate, Selection
from reader_app.ui.ask.answer_card import AnswerCard, is_library, with_passage
from reader_app.ui.ask.ask_flow import LIBRARY, AskFlow, AskRequest
from reader_app.ui.ask.ask_modes import DEFAULT_MODE, MODE_LABELS, mode_combo, store_mode
from reader_app.ui.ask.ask_scope import ScopePicker
from reader_app.ui.ask.eliding_button import ElidingButton
from reader_app.ui.background.jobs import Job, LatestJob
from reader_app.ui.background.ops import run_op
from reader_app.ui.ask.prepare_status import PrepareStatus
from reader_app.ui.ask.quick_answer import quick_answers_on

# history tags of answers that are not from the paper's own prompt: "[quick] …", "[library] …"
KIND_TAGS = {"quick": ("quick", "A quick answer from the paper's best passages"),
             "library": ("library", "An answer across papers of the library")}
PAPER_PLACEHOLDER = "Ask about this paper…  (Enter asks, Shift+Enter adds a line)"
NOTICE_STYLE = ("QLabel#askNotice { border: 1px solid palette(mid); border-radius: 4px;"
                " padding: 6px; background: palette(alternate-base); }")


class _QuestionEdit(QPlainTextEdit):
    submitted = Signal()

    def keyPressEvent(self, event):  # noqa: N802 - Qt API
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and not event.modifiers() & Qt.ShiftModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class AskPanel(QWidget):
    citationActivated = Signal(int, object)  # 1-based page, bbox in PDF points
    paperCitationActivated = Signal(str, int, int)  # another paper: its id, 1-based page, paragraph index
    answered = Signal(object)  # an Answer, after it was stored
    noteRequested = Signal(str, int, str)  # Markdown text, page (0: none), quote ("" : none)
    passagesShown = Signal(object)  # list[Passage], once on screen

    def __init__(self, services, worker, parent=None):
        super().__init__(parent)
        self.services = services
        self.worker = worker
        self.flow = AskFlow()
        self._answering = LatestJob()  # the running question's job
        self._history_load = LatestJob()
        self.current_answer = None
        self._selection = ("", 0)
        self._history: list = []
        self._scope_text = ""  # the scope of the running library question
        self._scopes: list[tuple[object, str]] = []  # (library answer, its scope) in this session
        self._asked = ""  # the question of the running request, as typed
        self._build()
        worker.modelStateChanged.connect(self._on_model_state)
        self._on_model_state(worker.model_state, worker.model_detail)
        self._update_buttons()

    # ---- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(6)
        lay.addWidget(self._build_notice())
        lay.addLayout(self._build_scope_row())
        lay.addWidget(self._build_question())
        lay.addLayout(self._build_buttons())
        self.prepare_status = PrepareStatus(self.worker, self)
        self.prepare_status.ready.connect(self._on_prepared)
        lay.addWidget(self.prepare_status)
        esc = QShortcut(QKeySequence(Qt.Key_Escape), self)
        esc.setContext(Qt.WidgetWithChildrenShortcut)
        esc.activated.connect(self.stop)
        split = QSplitter(Qt.Vertical, self)
        split.setChildrenCollapsible(False)
        split.addWidget(self._build_answer_card())
        split.addWidget(self._build_history())
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([600, 200])
        lay.addWidget(split, 1)

    def _build_notice(self) -> QLabel:
        self.notice = QLabel(self)
        self.notice.setObjectName("askNotice")
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.notice.setStyleSheet(NOTICE_STYLE)
        self.notice.hide()
        return self.notice

    def _build_scope_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        label = QLabel("Ask about", self)
        self.scope_picker = ScopePicker(self.services, self)
        label.setBuddy(self.scope_picker)
        self.scope_picker.currentIndexChanged.connect(lambda _i: self._update_buttons())
        row.addWidget(label)
        row.addWidget(self.scope_picker)
        row.addStretch(1)
        return row

    def _build_question(self) -> QPlainTextEdit:
        self.question = _QuestionEdit(self)
        self.question.setPlaceholderText(PAPER_PLACEHOLDER)
        self.question.setTabChangesFocus(True)
        self.question.setFixedHeight(self.question.fontMetrics().lineSpacing() * 3 + 14)
        self.question.submitted.connect(self.ask)
        self.question.textChanged.connect(self._update_buttons)
        return self.question

    def _build_buttons(self) -> QHBoxLayout:
        self.ask_button = QPushButton("Ask", self)
        self.ask_button.setDefault(True)
        self.ask_button.clicked.connect(self.ask)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.clicked.connect(self.stop)
        self.mode_combo = mode_combo(self)
        self.mode_combo.currentIndexChanged.connect(self._mode_changed)
        self.selection_button = ElidingButton("Ask about selection", self)
        self.selection_button.setToolTip("Ask about selection: select text in the PDF first;"
                                         " it is quoted into the question")
        self.selection_button.clicked.connect(self.ask_about_selection)
        row = QHBoxLayout()
        for button in (self.ask_button, self.stop_button):  # narrow panels: the row may shrink
            button.setMinimumWidth(button.fontMetrics().horizontalAdvance(button.text()) + 24)
        for widget in (self.ask_button, self.stop_button, self.mode_combo, self.selection_button):
            row.addWidget(widget)
        row.addStretch(1)
        return row

    def _build_answer_card(self) -> AnswerCard:
        card = self.answer_card = AnswerCard(self)
        # the card's parts, as the panel's (tests and the window reach them here)
        self.question_label, self.scope_note = card.question_label, card.scope_note
        self.quick_bar, self.unanswerable_label = card.quick_bar, card.unanswerable_label
        self.passages, self.confidence_badge = card.passages, card.confidence_badge
        self.answer_view, self.chips = card.answer_view, card.chips
        self.timings_label, self.note_button = card.timings_label, card.note_button
        self.quick_bar.fullRequested.connect(self.ask_full_now)
        self.passages.activated.connect(self.citationActivated)
        self.passages.shown.connect(self.passagesShown)
        self.chips.activated.connect(self.citationActivated)
        self.chips.paperActivated.connect(self._paper_chip)
        self.note_button.clicked.connect(self.save_as_note)
        return card

    def _build_history(self) -> QWidget:
        hist = QWidget(self)
        lay = QVBoxLayout(hist)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.setSpacing(2)
        title = QLabel("Earlier questions", hist)
        title.setStyleSheet("color: palette(placeholder-text);")
        lay.addWidget(title)
        self.history = QListWidget(hist)
        self.history.setObjectName("qaHistory")
        self.history.setWordWrap(True)
        self.history.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Expanding)
        self.history.setAlternatingRowColors(True)
        self.history.setSpacing(1)
        self.history.itemActivated.connect(self._show_history_item)
        self.history.itemClicked.connect(self._show_history_item)
        lay.addWidget(self.history)
        return hist

    # ---- slots -----------------------------------------------------------------------
    def set_paper(self, paper_id: str | None) -> None:
        if paper_id == self.flow.paper_id:
            return
        # an answer across papers stays (running or shown): its chips open the papers it cites
        if not self.flow.set_paper(paper_id, showing_library=is_library(self.current_answer)):
            self._answering.drop()
            self._clear_answer()
        self.quick_bar.hide()
        self.prepare_status.stop()
        self._history_load.drop()
        self.history.clear()
        self._history = []
        self._update_buttons()
        self._on_model_state(self.worker.model_state, self.worker.model_detail)
        if paper_id and self.prepare_status.auto(self.services):
            self.prepare_status.start(paper_id, self.mode)
        self.scope_picker.refresh_tags()
        if paper_id:
            op = run_op(self, lambda: list(self.services.library().qa_history(paper_id)),
                        on_failure=lambda _exc: None)  # said in the panel: _history_failed
            self._history_load.start(op, finished=self._fill_history, failed=self._history_failed)

    @property
    def job(self) -> Job | None:
        """The running question's job (None when no question runs)."""
        return self._answering.job

    @property
    def paper_id(self) -> str | None:
        return self.flow.paper_id

    @property
    def mode(self) -> str:
        """The mode the next question is asked in (``Assistant.ask(mode=...)``)."""
        return self.mode_combo.currentData() or DEFAULT_MODE

    def set_mode(self, mode: str) -> None:
        index = self.mode_combo.findData(mode)
        if index >= 0:
            self.mode_combo.setCurrentIndex(index)

    def _mode_changed(self, _index: int) -> None:
        try:
            store_mode(self.mode)
        except OSError as exc:  # the choice still holds for this session
            self._show_notice(f"Could not remember the mode: {exc}")

    def set_selection(self, text: str, page: int) -> None:
        self._selection = (text or "", int(page or 0))
        self._update_buttons()

    def ask(self, question: str | None = None, selection: Selection | None = None) -> Job | None:
        """Ask ``question`` (default: the question box) about the current paper, or about
        ``selection`` (a passage of it), or across the papers the scope picker names.
        Returns the job answering it (None when nothing was asked)."""
        if isinstance(question, bool):  # clicked(bool)
            question = None
        text = (question if question is not None else self.question.toPlainText()).strip()
        if (not text and selection is None) or self.busy:
            return None
        if selection is None and self.scope_picker.across_papers:
            try:
                scope = self.scope_picker.scope()
            except BadInput as exc:  # e.g. "Selected papers" with none selected
                self._show_notice(str(exc))
                return None
            request = self.flow.ask_library(text, scope)
        else:
            status = self.prepare_status
            preparing = status.under_way and (status.paper_id, status.mode) == (self.paper_id, self.mode)
            request = self.flow.ask(text, selection=selection, mode=self.mode, preparing=preparing,
                                    quick_on=quick_answers_on())
        job = self._run(request)
        if job is not None and question is None:
            self.question.clear()
        return job

    def ask_full_now(self) -> Job | None:
        """Ask the full answer to the question answered quickly (the "Full answer now" button)."""
        return self._run(self.flow.full_now())

    def ask_about_selection(self) -> Job | None:
        text, page = self._selection
        if not text.strip():
            return None
        job = self.ask(self.question.toPlainText(), Selection(text, page))
        if job is not None:
            self.question.clear()
        return job

    def stop(self) -> None:
        if self.job is not None:
            self.job.cancel()

    @property
    def busy(self) -> bool:
        return self.job is not None

    def _on_prepared(self, paper_id: str, mode: str) -> None:
        self._run(self.flow.prepared(paper_id, mode))

    def _paper_chip(self, paper_id: str, page: int, bbox, paragraph: int) -> None:
        """A chip naming its paper: this paper's scrolls the view, another's opens that paper."""
        if paper_id == self.paper_id:
            self.citationActivated.emit(page, bbox)
        else:
            self.paperCitationActivated.emit(paper_id, page, paragraph - 1)

    # ---- the running question ----------------------------------------------------------
    def _run(self, request: AskRequest | None) -> Job | None:
        """Show and start what the flow decided to ask."""
        if request is None:
            return None
        self._clear_answer()
        self._asked = request.question
        if request.kind == LIBRARY:
            self.answer_card.begin(request.question)
            self._scope_text = f"Across {request.scope.describe()}"
            self.answer_card.show_scope(self._scope_text)
            job = self.worker.ask_library(request.question, request.scope)
        else:
            self.answer_card.begin(request.question or "About the selected passage", quick=request.quick)
            # first: on screen long before the answer; the worker reuses this ranking
            self.passages.find(self.services, request.paper_id, request.question, request.selection)
            job = self.worker.ask(request.paper_id, request.question, mode=request.mode,
                                  selection=request.selection, quick=request.quick)
        self.prepare_status.pause()  # the question takes over; preparation resumes after it
        if self.notice.property("kind") != "model":
            self.notice.hide()
        self._answering.start(job, started=self._on_started, progress=self._on_progress, update=self._on_update,
                              finished=self._on_finished, failed=self._on_failed, cancelled=self._on_cancelled)
        self._update_buttons()
        return job

    def _on_started(self, _label: str) -> None:
        self._update_buttons()

    def _on_progress(self, done: int, total: int, label: str) -> None:
        self.answer_card.show_progress(label, done, total)

    def _on_update(self, text: str, evidence: str, phase: str) -> None:
        """The answer so far (an ``AnswerUpdate``): its text, or the paragraphs named so far."""
        update = AnswerUpdate.from_fields(text, evidence, phase)
        running = self.flow.running
        # (an answer across papers numbers its passages apart: no numbers then)
        self.answer_card.show_update(update.text, update.evidence,
                                       numbered=running is None or running.kind != LIBRARY)

    def _on_finished(self, answer) -> None:
        request = self.flow.running
        follow = self.flow.finished(answer)
        if request is not None and request.kind == LIBRARY and answer is not None:
            self._scopes = [(answer, self._scope_text)] + self._scopes[:49]  # shown again from the history
        self.show_answer(answer)
        if answer is not None and getattr(answer, "paper_id", self.paper_id) == self.paper_id:
            self._history.insert(0, answer)
            self.history.insertItem(0, self._history_item(answer))
        self._update_buttons()
        self.answered.emit(answer)
        self._run(follow)

    def _on_failed(self, message: str) -> None:
        follow = self.flow.failed()
        self.timings_label.setText("")
        self.quick_bar.hide()  # a quick answer that failed: no full answer follows by itself
        self._show_notice(message)
        if self.worker.model_state == "error":  # a model problem: cleared when the model changes
            self.notice.setProperty("kind", "model")
        question = self._asked
        if not self.question.toPlainText().strip() and question and not self.current_answer:
            self.question.setPlainText(question)  # nothing lost: the question can be asked again
        self._update_buttons()
        self._run(follow)

    def _on_cancelled(self) -> None:
        follow = self.flow.cancelled()
        self.timings_label.setText("Stopped.")
        self.quick_bar.hide()
        self._update_buttons()
        self._run(follow)

    def _on_model_state(self, state: str, detail: str) -> None:
        if state == "error":
            self._show_notice(detail)
            self.notice.setProperty("kind", "model")
        elif self.notice.property("kind") == "model":  # none, loading or ready: advice is stale
            self.notice.hide()

    # ---- rendering -------------------------------------------------------------------
    def save_as_note(self) -> None:
        """Ask the Notes tab to keep the shown answer (question, answer, citations)."""
        a = self.current_answer
        if a is None:
            return
        cites = [c for c in a.citations if getattr(c, "page", 0)]
        first = next((c for c in cites if c.verified), cites[0] if cites else None)
        refs = ", ".join(f"p. {c.page} ¶{c.paragraph}" for c in cites)
        text = f"**Q:** {a.question}\n\n**A:** {a.answer.strip()}" + (f" ({refs})" if refs else "")
        quote = " ".join(first.text.split()) if first is not None and first.text else None
        self.noteRequested.emit(text, first.page if first is not None else 0, quote or "")
        self.note_button.setEnabled(False)
        self.note_button.setText("Saved as a note")

    def show_answer(self, answer) -> None:
        """Display a finished Answer (fresh or from the history)."""
        self.current_answer = answer
        scope = next((text for a, text in self._scopes if a is answer), "Across papers")
        self.answer_card.show_answer(answer, scope_line=_scope_line(answer, scope),
                                       quick_note=self.flow.awaiting_full(answer))
        if self.notice.property("kind") != "model":
            self.notice.hide()

    def _clear_answer(self) -> None:
        self.current_answer = None
        self.answer_card.clear()

    def _history_failed(self, message: str) -> None:
        self._show_notice(f"Could not read the Q&A history: {message}")

    def _show_notice(self, message: str) -> None:
        self.notice.setProperty("kind", "error")
        self.notice.setText(message)
        self.notice.show()

    def _fill_history(self, items) -> None:
        items = sorted(items, key=lambda a: getattr(a, "created", "") or "", reverse=True)
        self._history = items + [a for a in self._history if a not in items]
        self.history.clear()
        for a in self._history:
            self.history.addItem(self._history_item(a))

    def _history_item(self, answer) -> QListWidgetItem:
        q = answer.question
        a = " ".join((answer.answer or "").split())
        if len(a) > 160:
            a = a[:159] + "…"
        if not getattr(answer, "answerable", True):
            a = "(not answered in the paper)"
        mode = getattr(answer, "mode", "") or DEFAULT_MODE
        label, about = KIND_TAGS.get(mode, (MODE_LABELS.get(mode, mode), MODE_LABELS.get(mode, mode)))
        tag = f"[{label}] " if mode != DEFAULT_MODE else ""
        sure = level(getattr(answer, "confidence", None))
        item = QListWidgetItem(f"{q}\n    {tag}{a}" + (f"  ({sure} confidence)" if sure and sure != "high" else ""))
        item.setData(Qt.UserRole, answer)
        item.setToolTip(f"{with_passage(answer)}\n\n{answer.answer}\n\n({about})")
        return item

    def _show_history_item(self, item: QListWidgetItem) -> None:
        answer = item.data(Qt.UserRole)
        if answer is not None and not self.busy:
            self.passages.set_passages([])
            self.show_answer(answer)

    def _update_buttons(self) -> None:
        has_paper = bool(self.paper_id)
        across = self.scope_picker.across_papers
        can_ask = has_paper or across
        busy = self.busy
        self.ask_button.setEnabled(can_ask and not busy and bool(self.question.toPlainText().strip()))
        self.selection_button.setEnabled(has_paper and not busy and bool(self._selection[0].strip()))
        self.mode_combo.setEnabled(not busy and not across)  # modes are for one paper's prompt
        self.scope_picker.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.ask_button.setVisible(not busy)  # Stop takes Ask's place while an answer runs
        self.stop_button.setVisible(busy)
        self.question.setEnabled(can_ask)
        if across:
            self.question.setPlaceholderText(f"Ask across {self.scope_picker.describe()}…"
                                             "  (Enter asks, Shift+Enter adds a line)")
        elif not has_paper:
            self.question.setPlaceholderText("Open a paper to ask about it, or ask about the whole library.")
        else:
            self.question.setPlaceholderText(PAPER_PLACEHOLDER)

    def changeEvent(self, event):  # noqa: N802 - follow palette changes (dark mode)
        if event.type() == QEvent.PaletteChange and self.current_answer is not None:
            self.show_answer(self.current_answer)
        super().changeEvent(event)


def _scope_line(answer, scope_text: str) -> str:
    """ "Across the whole library · cites 2 papers" """
    cited = {c.paper_id for c in getattr(answer, "citations", []) or [] if c.verified and c.paper_id}
    if not cited:
        return scope_text
    return f"{scope_text} · cites {len(cited)} paper{'s' if len(cited) != 1 else ''}"
