"""The Ask tab: a question box, the streamed answer with citation chips, and the history.

Questions go to the :class:`~reader_app.ui.llm_worker.LlmWorker` (never to the model
directly); the paper's Q&A history is read from the library through ``ui.ops``.

The scope picker (ask_scope.py) sends a question across papers (``LlmWorker.ask_library``);
its chips name their papers, and a chip of another paper emits
``paperCitationActivated(paper_id, page, paragraph index)``.  While the paper is prepared,
a DoubleDipper question gets a quick answer first (quick_answer.py), then the full one.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from reader_app.assistant.confidence import level
from reader_app.core.errors import BadInput
from reader_app.core.model import AnswerUpdate, Selection
from reader_app.ui.answer_format import UNANSWERED, AnswerText, timings_text
from reader_app.ui.ask_modes import DEFAULT_MODE, MODE_LABELS, mode_combo, store_mode
from reader_app.ui.ask_scope import ScopePicker
from reader_app.ui.eliding_button import ElidingButton
from reader_app.ui.citation_chip import ChipRow
from reader_app.ui.confidence_badge import ConfidenceBadge
from reader_app.ui.ops import run_op
from reader_app.ui.passage_list import PassageList
from reader_app.ui.prepare_status import PrepareStatus
from reader_app.ui.quick_answer import PendingFull, QuickBar, quick_answers_on

# history tags of answers that are not from the paper's own prompt: "[quick] …", "[library] …"
KIND_TAGS = {"quick": ("quick", "A quick answer from the paper's best passages"),
             "library": ("library", "An answer across papers of the library")}
PAPER_PLACEHOLDER = "Ask about this paper…  (Enter asks, Shift+Enter adds a line)"


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
        self.paper_id: str | None = None
        self.request_id: int | None = None
        self.current_answer = None
        self._selection = ("", 0)
        self._streaming = False  # the answer has begun to stream
        self._history: list = []
        self._kind = "paper"  # what the current request is: "paper", "quick" or "library"
        self._scope_text = ""  # the scope of the running library question
        self._scopes: list[tuple[object, str]] = []  # (library answer, its scope) in this session
        self._pending: PendingFull | None = None
        self._asked = ""  # the question of the running request, as typed
        self._build()
        worker.answerUpdated.connect(self._on_update)
        worker.requestFinished.connect(self._on_finished)
        worker.requestFailed.connect(self._on_failed)
        worker.requestCancelled.connect(self._on_cancelled)
        worker.requestStarted.connect(self._on_started)
        worker.progress.connect(self._on_progress)
        worker.modelStateChanged.connect(self._on_model_state)
        self._on_model_state(worker.model_state, worker.model_detail)
        self._update_buttons()

    # ---- layout ----------------------------------------------------------------------
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(6)

        self.notice = QLabel(self)
        self.notice.setObjectName("askNotice")
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.notice.setStyleSheet("QLabel#askNotice { border: 1px solid palette(mid); border-radius: 4px;"
                                  " padding: 6px; background: palette(alternate-base); }")
        self.notice.hide()
        lay.addWidget(self.notice)

        scope_row = QHBoxLayout()
        scope_row.setContentsMargins(0, 0, 0, 0)
        scope_label = QLabel("Ask about", self)
        self.scope_picker = ScopePicker(self.services, self)
        scope_label.setBuddy(self.scope_picker)
        self.scope_picker.currentIndexChanged.connect(lambda _i: self._update_buttons())
        scope_row.addWidget(scope_label)
        scope_row.addWidget(self.scope_picker)
        scope_row.addStretch(1)
        lay.addLayout(scope_row)

        self.question = _QuestionEdit(self)
        self.question.setPlaceholderText(PAPER_PLACEHOLDER)
        self.question.setTabChangesFocus(True)
        fm = self.question.fontMetrics()
        self.question.setFixedHeight(fm.lineSpacing() * 3 + 14)
        self.question.submitted.connect(self.ask)
        self.question.textChanged.connect(self._update_buttons)
        lay.addWidget(self.question)

        row = QHBoxLayout()
        self.ask_button = QPushButton("Ask", self)
        self.ask_button.setDefault(True)
        self.ask_button.clicked.connect(self.ask)
        self.mode_combo = mode_combo(self)
        self.mode_combo.currentIndexChanged.connect(self._mode_changed)
        self.selection_button = ElidingButton("Ask about selection", self)
        self.selection_button.setToolTip("Ask about selection: select text in the PDF first;"
                                         " it is quoted into the question")
        self.selection_button.clicked.connect(self.ask_about_selection)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.clicked.connect(self.stop)
        for button in (self.ask_button, self.stop_button):  # narrow panels: the row may shrink
            button.setMinimumWidth(button.fontMetrics().horizontalAdvance(button.text()) + 24)
        row.addWidget(self.ask_button)
        row.addWidget(self.stop_button)
        row.addWidget(self.mode_combo)
        row.addWidget(self.selection_button)
        row.addStretch(1)
        lay.addLayout(row)
        self.prepare_status = PrepareStatus(self.worker, self)
        self.prepare_status.ready.connect(self._on_prepared)
        lay.addWidget(self.prepare_status)
        esc = QShortcut(QKeySequence(Qt.Key_Escape), self)
        esc.setContext(Qt.WidgetWithChildrenShortcut)
        esc.activated.connect(self.stop)

        split = QSplitter(Qt.Vertical, self)
        split.setChildrenCollapsible(False)
        scroll = QScrollArea(split)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.StyledPanel)
        card = QWidget()
        card.setObjectName("answerCard")
        self.answer_scroll = scroll
        cl = QVBoxLayout(card)
        cl.setContentsMargins(10, 8, 10, 8)
        cl.setSpacing(6)
        self.question_label = QLabel(card)
        self.question_label.setWordWrap(True)
        self.question_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        bold = QFont(self.question_label.font())
        bold.setBold(True)
        self.question_label.setFont(bold)
        self.question_label.hide()
        cl.addWidget(self.question_label)
        self.scope_note = QLabel(card)  # "Across the whole library"
        self.scope_note.setObjectName("scopeNote")
        self.scope_note.setStyleSheet("color: palette(placeholder-text);")
        self.scope_note.setWordWrap(True)
        self.scope_note.hide()
        cl.addWidget(self.scope_note)
        self.quick_bar = QuickBar(card)
        self.quick_bar.fullRequested.connect(self.ask_full_now)
        cl.addWidget(self.quick_bar)
        self.unanswerable_label = QLabel(UNANSWERED, card)
        self.unanswerable_label.setObjectName("unanswerable")
        self.unanswerable_label.setWordWrap(True)
        self.unanswerable_label.setStyleSheet(
            "QLabel#unanswerable { border-left: 3px solid palette(mid); padding: 2px 6px;"
            " color: palette(placeholder-text); font-style: italic; }")
        self.unanswerable_label.hide()
        cl.addWidget(self.unanswerable_label)
        self.passages = PassageList(card)  # shown before the answer: the question's best paragraphs
        self.passages.activated.connect(self.citationActivated)
        self.passages.shown.connect(self.passagesShown)
        self.confidence_badge = ConfidenceBadge(card)
        cl.addWidget(self.confidence_badge, 0, Qt.AlignLeft)
        self.answer_view = AnswerText(card)
        cl.addWidget(self.answer_view)
        self.chips = ChipRow(card)
        self.chips.activated.connect(self.citationActivated)
        self.chips.paperActivated.connect(self._paper_chip)
        self.chips.hide()
        cl.addWidget(self.chips)
        cl.addWidget(self.passages)
        self.timings_label = QLabel(card)
        self.timings_label.setObjectName("timings")
        small = QFont(self.timings_label.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.85))
        self.timings_label.setFont(small)
        self.timings_label.setStyleSheet("color: palette(placeholder-text);")
        self.timings_label.setWordWrap(True)
        foot = QHBoxLayout()
        foot.setContentsMargins(0, 0, 0, 0)
        foot.addWidget(self.timings_label, 1)
        self.note_button = QPushButton("Save as note", card)
        self.note_button.setToolTip("Keep this question and answer as a note on the cited page")
        self.note_button.setFlat(True)
        self.note_button.setStyleSheet("QPushButton { color: palette(link); border: none; padding: 1px 4px; }"
                                       " QPushButton:hover { text-decoration: underline; }"
                                       " QPushButton:disabled { color: palette(placeholder-text); }")
        self.note_button.setCursor(Qt.PointingHandCursor)
        self.note_button.clicked.connect(self.save_as_note)
        self.note_button.hide()
        foot.addWidget(self.note_button, 0, Qt.AlignTop)
        cl.addLayout(foot)
        cl.addStretch(1)
        scroll.setWidget(card)

        hist = QWidget(split)
        hl = QVBoxLayout(hist)
        hl.setContentsMargins(0, 4, 0, 0)
        hl.setSpacing(2)
        title = QLabel("Earlier questions", hist)
        title.setStyleSheet("color: palette(placeholder-text);")
        hl.addWidget(title)
        self.history = QListWidget(hist)
        self.history.setObjectName("qaHistory")
        self.history.setWordWrap(True)
        self.history.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Expanding)
        self.history.itemActivated.connect(self._show_history_item)
        self.history.itemClicked.connect(self._show_history_item)
        hl.addWidget(self.history)
        self.history.setAlternatingRowColors(True)
        self.history.setSpacing(1)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([600, 200])
        lay.addWidget(split, 1)

    # ---- slots -----------------------------------------------------------------------
    def set_paper(self, paper_id: str | None) -> None:
        if paper_id == self.paper_id:
            return
        # an answer across papers stays (running or shown): its chips open the papers it cites
        keep = self._kind == "library" and (self.busy or _is_library(self.current_answer))
        if not keep:
            self.stop()
            self.request_id = None
            self._clear_answer()
        self._pending = None
        self.quick_bar.hide()
        self.prepare_status.stop()
        self.paper_id = paper_id
        self.history.clear()
        self._history = []
        self._update_buttons()
        self._on_model_state(self.worker.model_state, self.worker.model_detail)
        if paper_id and self.prepare_status.auto(self.services):
            self.prepare_status.start(paper_id, self.mode)
        self.scope_picker.refresh_tags()
        if paper_id:
            pid = paper_id
            run_op(self, lambda: list(self.services.library().qa_history(pid)),
                   on_success=lambda items, pid=pid: self._fill_history(pid, items),
                   on_failure=lambda exc: self._show_notice(f"Could not read the Q&A history: {exc}"))

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

    def ask(self, question: str | None = None, selection: Selection | None = None) -> int | None:
        """Ask ``question`` (default: the question box) about the current paper, or about
        ``selection`` (a passage of it), or across the papers the scope picker names."""
        if isinstance(question, bool):  # clicked(bool)
            question = None
        text = (question if question is not None else self.question.toPlainText()).strip()
        if (not text and selection is None) or self.busy:
            return None
        if selection is None and self.scope_picker.across_papers:
            rid = self._ask_library(text)
        elif not self.paper_id:
            return None
        else:
            rid = self._ask_paper(text, selection, self.mode, quick=self._quick_wanted())
        if rid is not None and question is None:
            self.question.clear()
        return rid

    def _ask_paper(self, text: str, selection: Selection | None, mode: str, quick: bool = False) -> int:
        self._start_answer(text or "About the selected passage", text)
        self._kind = "quick" if quick else "paper"
        self._pending = PendingFull(self.paper_id, text, selection, mode) if quick else None
        self.quick_bar.setVisible(quick)
        self.quick_bar.button.setEnabled(False)  # until the quick answer is in
        self.prepare_status.pause()  # the question takes over; preparation resumes after it
        # first: on screen long before the answer; the worker reuses this ranking
        self.passages.find(self.services, self.paper_id, text, selection)
        self.request_id = self.worker.ask(self.paper_id, text, mode=mode, selection=selection, quick=quick)
        self._update_buttons()
        return self.request_id

    def _ask_library(self, text: str) -> int | None:
        try:
            scope = self.scope_picker.scope()
        except BadInput as exc:  # e.g. "Selected papers" with none selected
            self._show_notice(str(exc))
            return None
        self._start_answer(text, text)
        self._kind = "library"
        self._pending = None
        self._scope_text = f"Across {scope.describe()}"
        self.scope_note.setText(self._scope_text)
        self.scope_note.show()
        self.prepare_status.pause()
        self.request_id = self.worker.ask_library(text, scope)
        self._update_buttons()
        return self.request_id

    def _start_answer(self, title: str, text: str) -> None:
        self._clear_answer()
        self._asked = text
        self.question_label.setText(title)
        self.question_label.show()
        self.timings_label.setText("Waiting for the model…")
        if self.notice.property("kind") != "model":
            self.notice.hide()

    def _quick_wanted(self) -> bool:
        """A quick answer first: DoubleDipper, the setting on, and the paper still being prepared."""
        status = self.prepare_status
        return (self.mode == "doubledipper" and status.under_way and status.paper_id == self.paper_id
                and quick_answers_on())

    def ask_full_now(self) -> int | None:
        """Ask the full answer to the question answered quickly (the "Full answer now" button,
        or by itself when the paper is prepared)."""
        pending = self._pending
        if pending is None or self.busy or pending.paper_id != self.paper_id:
            return None
        self._pending = None
        return self._ask_paper(pending.question, pending.selection, pending.mode)

    def _on_prepared(self, paper_id: str, mode: str) -> None:
        pending = self._pending
        if pending is not None and (pending.paper_id, pending.mode) == (paper_id, mode):
            pending.due = True
            self._maybe_ask_full()

    def _maybe_ask_full(self) -> None:
        pending = self._pending
        if pending is not None and pending.due and pending.answer is not None and not self.busy:
            self.ask_full_now()

    def _paper_chip(self, paper_id: str, page: int, bbox, paragraph: int) -> None:
        """A chip naming its paper: this paper's scrolls the view, another's opens that paper."""
        if paper_id == self.paper_id:
            self.citationActivated.emit(page, bbox)
        else:
            self.paperCitationActivated.emit(paper_id, page, paragraph - 1)

    def ask_about_selection(self) -> int | None:
        text, page = self._selection
        if not text.strip():
            return None
        rid = self.ask(self.question.toPlainText(), Selection(text, page))
        if rid is not None:
            self.question.clear()
        return rid

    def stop(self) -> None:
        if self.request_id is not None:
            self.worker.cancel(self.request_id)

    @property
    def busy(self) -> bool:
        return self.request_id is not None  # cleared when the worker reports the end

    # ---- worker signals --------------------------------------------------------------
    def _on_started(self, rid: int, _label: str) -> None:
        if rid == self.request_id:
            self._update_buttons()

    def _on_progress(self, rid: int, label: str, done: int, total: int) -> None:
        if rid == self.request_id and not self._streaming:
            self.timings_label.setText(f"{label}…" if not total else f"{label} ({done}/{total})…")

    def _on_update(self, rid: int, text: str, evidence: str, phase: str) -> None:
        """The answer so far (an ``AnswerUpdate``): its text, or the paragraphs named so far."""
        if rid != self.request_id:
            return
        update = AnswerUpdate.from_fields(text, evidence, phase)
        was_answering = bool(self.answer_view.text())
        self._streaming = True
        self.answer_view.setText(update.text)
        if not update.text:  # (an answer across papers numbers its passages apart: no numbers then)
            nums = ", ".join(str(n) for n in update.evidence) if self._kind == "paper" else ""
            self.timings_label.setText(f"Finding the evidence… {('¶' + nums) if nums else ''}".rstrip())
        elif not was_answering:
            self.timings_label.setText("Answering…")
        bar = self.answer_scroll.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _on_finished(self, rid: int, answer) -> None:
        if rid != self.request_id:
            return
        self.request_id = None
        if self._kind == "quick" and self._pending is not None:
            self._pending.answer = answer
        if self._kind == "library" and answer is not None:  # shown again when picked from the history
            self._scopes = [(answer, self._scope_text)] + self._scopes[:49]
        self.show_answer(answer)
        if answer is not None and getattr(answer, "paper_id", self.paper_id) == self.paper_id:
            self._history.insert(0, answer)
            self.history.insertItem(0, self._history_item(answer))
        self._update_buttons()
        self.answered.emit(answer)
        self._maybe_ask_full()

    def _on_failed(self, rid: int, message: str) -> None:
        if rid != self.request_id:
            return
        self.request_id = None
        self.timings_label.setText("")
        self._end_quick()
        self._show_notice(message)
        if self.worker.model_state == "error":  # a model problem: cleared when the model changes
            self.notice.setProperty("kind", "model")
        question = self._asked
        if not self.question.toPlainText().strip() and question and not self.current_answer:
            self.question.setPlainText(question)  # nothing lost: the question can be asked again
        self._update_buttons()
        self._maybe_ask_full()

    def _on_cancelled(self, rid: int) -> None:
        if rid != self.request_id:
            return
        self.request_id = None
        self.timings_label.setText("Stopped.")
        self._end_quick()
        self._update_buttons()
        self._maybe_ask_full()

    def _end_quick(self) -> None:
        """A quick answer failed or was stopped: no full answer follows by itself."""
        if self._kind == "quick" and self._pending is not None and self._pending.answer is None:
            self._pending = None
            self.quick_bar.hide()

    def _on_model_state(self, state: str, detail: str) -> None:
        if state == "error":
            self._show_notice(detail)
        elif self.notice.property("kind") == "model":  # none, loading or ready: advice is stale
            self.notice.hide()
        if state == "error":
            self.notice.setProperty("kind", "model")

    # ---- rendering -------------------------------------------------------------------
    def save_as_note(self) -> None:
        """Ask the Notes tab to keep the shown answer (question, answer, citations)."""
        a = self.current_answer
        if a is None:
            return
        cites = [c for c in a.citations if getattr(c, "page", 0)]
        first = next((c for c in cites if c.verified), cites[0] if cites else None)
        refs = ", ".join(f"p. {c.page} ¶{c.paragraph}" for c in cites)
        question = a.question
        text = f"**Q:** {question}\n\n**A:** {a.answer.strip()}" + (f" ({refs})" if refs else "")
        quote = " ".join(first.text.split()) if first is not None and first.text else None
        self.noteRequested.emit(text, first.page if first is not None else 0, quote or "")
        self.note_button.setEnabled(False)
        self.note_button.setText("Saved as a note")

    def show_answer(self, answer) -> None:
        """Display a finished Answer (fresh or from the history)."""
        self.current_answer = answer
        self._streaming = False
        self.question_label.setText(answer.question)
        self.question_label.setToolTip(_with_passage(answer))
        self.question_label.show()
        answerable = bool(getattr(answer, "answerable", True))
        text = (answer.answer or "").strip()
        if answerable:
            self.answer_view.set_answer(text)
            self.unanswerable_label.setText(UNANSWERED)
        else:
            self.unanswerable_label.setText(text or UNANSWERED)
            guess = (getattr(answer, "draft", "") or "").strip()
            self.answer_view.set_answer(f"The model replied, without support in the paper: {guess}"
                                        if guess else "", tentative=True)
        self.unanswerable_label.setVisible(not answerable)
        self.confidence_badge.set_confidence(getattr(answer, "confidence", None), answerable)
        across = _is_library(answer)
        self.chips.set_citations(answer.citations, name_papers=across)
        scope = next((text for a, text in self._scopes if a is answer), "Across papers")
        self.scope_note.setText(_scope_line(answer, scope))
        self.scope_note.setVisible(across)
        pending = self._pending
        self.quick_bar.setVisible(pending is not None and pending.answer is answer)
        self.quick_bar.button.setEnabled(True)
        self.timings_label.setText(timings_text(answer))
        self.note_button.setText("Save as note")
        self.note_button.setEnabled(True)
        self.note_button.setVisible(not across)  # a note belongs to one paper
        self.answer_scroll.widget().layout().activate()  # lay out now: a grab() may follow at once
        if self.notice.property("kind") != "model":
            self.notice.hide()

    def _clear_answer(self) -> None:
        self.current_answer = None
        self._streaming = False
        self.answer_view.clear()
        self.question_label.clear()
        self.question_label.hide()
        self.unanswerable_label.hide()
        self.confidence_badge.set_confidence(None)
        self.chips.set_citations([])
        self.scope_note.hide()
        self.quick_bar.hide()
        self.passages.set_passages([])
        self.timings_label.clear()
        self.note_button.hide()

    def _show_notice(self, message: str) -> None:
        self.notice.setProperty("kind", "error")
        self.notice.setText(message)
        self.notice.show()

    def _fill_history(self, pid: str, items) -> None:
        if pid != self.paper_id:
            return
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
        item.setToolTip(f"{_with_passage(answer)}\n\n{answer.answer}\n\n({about})")
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


def _is_library(answer) -> bool:
    return getattr(answer, "mode", "") == "library"


def _with_passage(answer) -> str:
    """The question, and the passage it was about (a tooltip)."""
    sel = getattr(answer, "selection", None)
    if sel is None or not sel.text:
        return answer.question
    where = f" (p. {sel.page})" if sel.page else ""
    return f'{answer.question}\nPassage{where}: "{sel.text}"'
