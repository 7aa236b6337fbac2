"""How an answer is shown: the answer text widget, the streamed-text filter, the timings
line and the question made from a PDF selection.  Used by the Ask tab."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

SELECTION_LIMIT = 1500  # characters of a selection quoted into a question
UNANSWERED = "The paper does not seem to answer this."


def _secs(s: float) -> str:
    return f"{s:.1f} s" if s >= 0.095 else f"{s * 1000:.0f} ms"


def timings_text(answer) -> str:
    t = getattr(answer, "timings", None)
    if t is None:
        return ""
    parts = []
    if getattr(t, "ttft_s", 0):
        parts.append(f"{_secs(t.ttft_s)} to first token")
    if getattr(t, "total_s", 0):
        parts.append(f"{_secs(t.total_s)} in all")
    if getattr(t, "cached_tokens", 0):
        parts.append(f"{t.cached_tokens:,} cached tokens")
    elif getattr(t, "prompt_tokens", 0):
        parts.append(f"{t.prompt_tokens:,} prompt tokens")
    if getattr(answer, "model", ""):
        parts.append(answer.model)
    return " · ".join(parts)


def live_text(raw: str) -> str:
    """What to show of the model's raw output while it streams: the answer part once the
    model wrote ``Answer:``, else what it wrote so far (``Evidence: [3]``)."""
    idx = raw.rfind("Answer:")
    if idx >= 0:
        return raw[idx + len("Answer:"):].lstrip()
    return "" if raw.lstrip().startswith("Evidence") else raw


def selection_question(question: str, text: str, page: int) -> str:
    passage = " ".join(text.split())
    if len(passage) > SELECTION_LIMIT:
        passage = passage[: SELECTION_LIMIT - 1] + "…"
    where = f" (p. {page})" if page else ""
    return f'{question.strip() or "What does this passage mean?"}\nPassage{where}: "{passage}"'


class AnswerText(QLabel):
    """The answer: selectable, word-wrapped plain text that grows with its content."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("answerView")
        self.setWordWrap(True)
        self.setTextFormat(Qt.PlainText)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse | Qt.TextSelectableByKeyboard)
        self.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.setCursor(Qt.IBeamCursor)

    def set_answer(self, text: str, tentative: bool = False) -> None:
        self.setStyleSheet("color: palette(placeholder-text); font-style: italic;" if tentative else "")
        self.setText(text)

    def toPlainText(self) -> str:  # noqa: N802 - same name as the text views'
        return self.text()
