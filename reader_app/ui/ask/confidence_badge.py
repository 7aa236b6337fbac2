"""The confidence badge by an answer: high / medium / low, with what it means in its tooltip.

The value and its level come from the assistant (``assistant/confidence.py``: the model's own
token probabilities); the badge only shows them, with what the levels meant on QASPER.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from reader_app.assistant.confidence import LEVEL_WORDS, level

# pill colours that read on light and dark palettes: (background, text)
_COLOURS = {"high": ("#2e7d32", "#ffffff"), "medium": ("#b7791f", "#ffffff"), "low": ("#c62828", "#ffffff")}
# what the levels meant on research-paper questions (docs/evaluation.md, "Confidence")
MEASURED = ("A weak guide, not a guarantee: on research-paper questions with a 1.5B model, answers marked high "
            "matched the reference answers better than those marked low, but many low ones were right and "
            "some high ones wrong.")
_TEXT = {"high": "High confidence", "medium": "Medium confidence", "low": "Low confidence: check the cited paragraph"}


class ConfidenceBadge(QLabel):
    """Hidden for an answer without a confidence (a model that gives no probabilities)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("confidenceBadge")
        self.setTextFormat(Qt.PlainText)
        self.level = ""
        self.hide()

    def set_confidence(self, value: float | None, answerable: bool = True) -> None:
        self.level = level(value)
        if not self.level:
            self.clear()
            self.setToolTip("")
            self.hide()
            return
        bg, fg = _COLOURS[self.level]
        self.setStyleSheet(f"QLabel#confidenceBadge {{ background: {bg}; color: {fg}; border-radius: 8px;"
                           " padding: 1px 8px; font-size: 11px; }")
        self.setText(_TEXT[self.level] if answerable else _TEXT[self.level].split(":")[0] + " in this reply")
        what = LEVEL_WORDS[self.level] if answerable else (
            "How sure the model was that the paper does not answer this (its own reply was refused "
            "for lack of support).")
        self.setToolTip(f"{what}\n\nConfidence {value:.2f} of 1, read from the model's own probabilities. {MEASURED}")
        self.show()
