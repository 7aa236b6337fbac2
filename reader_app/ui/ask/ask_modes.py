"""The Ask tab's mode picker: DoubleDipper (default), Zero-shot, Zero-shot with evidence.

The choice is passed to ``Assistant.ask(mode=...)`` and remembered in the assistant
settings (``ask_mode``), so the next session starts with it.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QComboBox

from reader_app import settings as assistant_settings

# (mode passed to Assistant.ask, label in the picker, what it does)
MODES = (
    ("doubledipper", "DoubleDipper",
     "The model first writes a few example questions from the paper, then answers, naming its evidence "
     "paragraphs. The first question on a paper is slow: the examples are written once per paper and model; "
     "later questions reuse them."),
    ("zero-shot", "Zero-shot", "The paper and the question only, no examples. Fastest on a new paper."),
    ("zero-shot-evidence", "Zero-shot + evidence",
     "No examples, but the model is asked to name its evidence paragraphs before it answers."),
)
DEFAULT_MODE = MODES[0][0]
MODE_LABELS = {value: label for value, label, _ in MODES}


def stored_mode() -> str:
    """The remembered mode (the default when unset, unknown or unreadable)."""
    try:
        value = assistant_settings.get("ask_mode")
    except Exception:  # a broken settings file never stops the panel
        value = None
    return value if value in MODE_LABELS else DEFAULT_MODE


def store_mode(mode: str) -> None:
    """Remember ``mode``; OSError when the settings cannot be written."""
    assistant_settings.save({"ask_mode": mode})


class _ModeCombo(QComboBox):
    """As wide as its longest mode when there is room, but it may narrow (clipping its text)
    rather than widen a narrow side panel."""

    def minimumSizeHint(self):  # noqa: N802 - Qt API
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), 110), hint.height())


def mode_combo(parent=None) -> QComboBox:
    """A compact combo of the modes, each explained in its tooltip, set to the stored mode."""
    combo = _ModeCombo(parent)
    combo.setObjectName("askMode")
    for value, label, tip in MODES:
        combo.addItem(label, value)
        combo.setItemData(combo.count() - 1, tip, Qt.ToolTipRole)
    combo.setToolTip("How the model answers:\n" + "\n".join(
        f"• {label}{' (default)' if value == DEFAULT_MODE else ''}: {tip}" for value, label, tip in MODES))
    combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
    combo.setCurrentIndex(combo.findData(stored_mode()))
    return combo
