"""Quick answers while a paper is prepared, and the note the Ask tab shows above them.

When the mode is DoubleDipper, the ``quick_answer`` setting is on and the paper's
preparation is under way (``PrepareStatus.under_way``), a question is answered at once
from the paper's best passages (``LlmWorker.ask(..., quick=True)``); when preparation
completes (``PrepareStatus.ready``) the full answer to the same question is asked and
replaces it.  ``ui.ask.ask_flow.AskFlow`` decides when (and remembers the question meanwhile);
``QuickBar`` is the note and its "Full answer now" button.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from reader_app import settings as assistant_settings

QUICK_NOTE = "Quick answer from the best passages; the full answer follows when the paper is prepared."


def quick_answers_on() -> bool:
    """The ``quick_answer`` setting (on when unset or unreadable)."""
    try:
        value = assistant_settings.get("quick_answer")
    except Exception:  # a broken settings file never stops the panel
        value = None
    return True if value is None else bool(value)


class QuickBar(QWidget):
    """ "Quick answer from the best passages; …"  [Full answer now] """

    fullRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("quickBar")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        self.label = QLabel(QUICK_NOTE, self)
        self.label.setObjectName("quickNote")
        self.label.setWordWrap(True)
        self.label.setStyleSheet("QLabel#quickNote { border-left: 3px solid palette(highlight); padding: 2px 6px;"
                                 " color: palette(placeholder-text); }")
        self.button = QPushButton("Full answer now", self)
        self.button.setToolTip("Ask the full DoubleDipper answer now, without waiting for the preparation")
        self.button.clicked.connect(self.fullRequested)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.button, 0, Qt.AlignTop)
        self.hide()
