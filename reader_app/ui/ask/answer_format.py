"""How an answer is shown: the answer text widget and the timings line.  Used by the Ask tab."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

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
