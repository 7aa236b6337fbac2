"""The Ask tab's answer card: the question, the (streamed) answer, its citations and timings.

``AnswerCard`` is a scroll area holding, top to bottom: the question, the scope of an
answer across papers, the quick-answer note (quick_answer.py), "not answered in the
paper", the confidence badge, the answer text, the citation chips, the matching passages
(passage_list.py) and a footer with the timings and "Save as note".  It only shows what
the Ask panel gives it; the panel wires its buttons and chips.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from reader_app.ui.ask.answer_format import UNANSWERED, AnswerText, timings_text
from reader_app.ui.ask.citation_chip import ChipRow
from reader_app.ui.ask.confidence_badge import ConfidenceBadge
from reader_app.ui.ask.passage_list import PassageList
from reader_app.ui.ask.quick_answer import QuickBar

NOTE_BUTTON_STYLE = ("QPushButton { color: palette(link); border: none; padding: 1px 4px; }"
                     " QPushButton:hover { text-decoration: underline; }"
                     " QPushButton:disabled { color: palette(placeholder-text); }")
UNANSWERED_STYLE = ("QLabel#unanswerable { border-left: 3px solid palette(mid); padding: 2px 6px;"
                    " color: palette(placeholder-text); font-style: italic; }")
QUIET = "color: palette(placeholder-text);"


class AnswerCard(QScrollArea):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._streamed = False
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.StyledPanel)
        card = QWidget()
        card.setObjectName("answerCard")
        lay = QVBoxLayout(card)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(6)
        self._build_head(card, lay)
        self._build_body(card, lay)
        lay.addLayout(self._build_foot(card))
        lay.addStretch(1)
        self.setWidget(card)

    # ---- layout ----------------------------------------------------------------------
    def _build_head(self, card: QWidget, lay: QVBoxLayout) -> None:
        """The question, the scope line, the quick-answer note, "not answered"."""
        self.question_label = QLabel(card)
        self.question_label.setWordWrap(True)
        self.question_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        bold = QFont(self.question_label.font())
        bold.setBold(True)
        self.question_label.setFont(bold)
        self.question_label.hide()
        lay.addWidget(self.question_label)
        self.scope_note = QLabel(card)  # "Across the whole library"
        self.scope_note.setObjectName("scopeNote")
        self.scope_note.setStyleSheet(QUIET)
        self.scope_note.setWordWrap(True)
        self.scope_note.hide()
        lay.addWidget(self.scope_note)
        self.quick_bar = QuickBar(card)
        lay.addWidget(self.quick_bar)
        self.unanswerable_label = QLabel(UNANSWERED, card)
        self.unanswerable_label.setObjectName("unanswerable")
        self.unanswerable_label.setWordWrap(True)
        self.unanswerable_label.setStyleSheet(UNANSWERED_STYLE)
        self.unanswerable_label.hide()
        lay.addWidget(self.unanswerable_label)

    def _build_body(self, card: QWidget, lay: QVBoxLayout) -> None:
        """The confidence badge, the answer, its chips and the matching passages."""
        self.passages = PassageList(card)  # shown before the answer: the question's best paragraphs
        self.confidence_badge = ConfidenceBadge(card)
        lay.addWidget(self.confidence_badge, 0, Qt.AlignLeft)
        self.answer_view = AnswerText(card)
        lay.addWidget(self.answer_view)
        self.chips = ChipRow(card)
        self.chips.hide()
        lay.addWidget(self.chips)
        lay.addWidget(self.passages)

    def _build_foot(self, card: QWidget) -> QHBoxLayout:
        """The timings line and "Save as note"."""
        self.timings_label = QLabel(card)
        self.timings_label.setObjectName("timings")
        small = QFont(self.timings_label.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.85))
        self.timings_label.setFont(small)
        self.timings_label.setStyleSheet(QUIET)
        self.timings_label.setWordWrap(True)
        self.note_button = QPushButton("Save as note", card)
        self.note_button.setToolTip("Keep this question and answer as a note on the cited page")
        self.note_button.setFlat(True)
        self.note_button.setStyleSheet(NOTE_BUTTON_STYLE)
        self.note_button.setCursor(Qt.PointingHandCursor)
        self.note_button.hide()
        foot = QHBoxLayout()
        foot.setContentsMargins(0, 0, 0, 0)
        foot.addWidget(self.timings_label, 1)
        foot.addWidget(self.note_button, 0, Qt.AlignTop)
        return foot

    # ---- showing -----------------------------------------------------------------------
    def begin(self, title: str, quick: bool = False) -> None:
        """A question was asked: its title, and "Waiting for the model…"."""
        self.clear()
        self.question_label.setText(title)
        self.question_label.show()
        self.timings_label.setText("Waiting for the model…")
        self.quick_bar.setVisible(quick)
        self.quick_bar.button.setEnabled(False)  # until the quick answer is in

    def show_progress(self, label: str, done: int, total: int) -> None:
        if not self.streaming:
            self.timings_label.setText(f"{label}…" if not total else f"{label} ({done}/{total})…")

    def show_update(self, text: str, evidence: list[int], numbered: bool = True) -> None:
        """The answer so far: its text, or the paragraphs named so far (``numbered``: the
        paper's own paragraph numbers, not those of passages across papers)."""
        was_answering = bool(self.answer_view.text())
        self.answer_view.setText(text)
        if not text:
            nums = ", ".join(str(n) for n in evidence) if numbered else ""
            self.timings_label.setText(f"Finding the evidence… {('¶' + nums) if nums else ''}".rstrip())
        elif not was_answering:
            self.timings_label.setText("Answering…")
        self._streamed = True
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    @property
    def streaming(self) -> bool:
        """The answer has begun to stream (progress lines then give way to it)."""
        return self._streamed

    def show_answer(self, answer, *, scope_line: str = "", quick_note: bool = False) -> None:
        """A finished Answer.  ``scope_line``: shown for an answer across papers;
        ``quick_note``: it is a quick answer whose full answer is still to come."""
        self._streamed = False
        self.question_label.setText(answer.question)
        self.question_label.setToolTip(with_passage(answer))
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
        across = is_library(answer)
        self.chips.set_citations(answer.citations, name_papers=across)
        self.scope_note.setText(scope_line)
        self.scope_note.setVisible(across)
        self.quick_bar.setVisible(quick_note)
        self.quick_bar.button.setEnabled(True)
        self.timings_label.setText(timings_text(answer))
        self.note_button.setText("Save as note")
        self.note_button.setEnabled(True)
        self.note_button.setVisible(not across)  # a note belongs to one paper
        self.widget().layout().activate()  # lay out now: a grab() may follow at once

    def show_scope(self, text: str) -> None:
        self.scope_note.setText(text)
        self.scope_note.show()

    def clear(self) -> None:
        self._streamed = False
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


def is_library(answer) -> bool:
    """An answer across papers."""
    return getattr(answer, "mode", "") == "library"


def with_passage(answer) -> str:
    """The question, and the passage it was about (a tooltip)."""
    sel = getattr(answer, "selection", None)
    if sel is None or not sel.text:
        return answer.question
    where = f" (p. {sel.page})" if sel.page else ""
    return f'{answer.question}\nPassage{where}: "{sel.text}"'
