"""The Ask tab's scope picker: what a question is asked about.

- **This paper** (default): ``LlmWorker.ask`` on the open paper;
- **Selected papers**: the library pane's selection (``selection_source``, a callable the
  window sets to ``LibraryPane.selected_ids``);
- **Tag: x**: the papers tagged x (the library's tags, read through ``ui.background.ops``);
- **Whole library**.

Every choice but the first is a ``core.model.Scope`` for ``LlmWorker.ask_library``.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QComboBox

from reader_app.core.errors import BadInput
from reader_app.core.model import Scope
from reader_app.ui.background.ops import run_op

PAPER, SELECTED, TAG, LIBRARY = "paper", "selected", "tag", "library"
NO_SELECTION = "No papers are selected: select them in the library list first (Ctrl+click picks several)."


class ScopePicker(QComboBox):
    def __init__(self, services, parent=None):
        super().__init__(parent)
        self.setObjectName("askScope")
        self.services = services
        self.selection_source: Callable[[], list[str]] | None = None
        self.setToolTip("Ask about this paper, or across papers of the library: the selected ones, "
                        "those with a tag, or all of them")
        self.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self._fill([])

    def minimumSizeHint(self):  # noqa: N802 - Qt API: may narrow in a narrow panel
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), 120), hint.height())

    # ---- items ----------------------------------------------------------------------------
    def _fill(self, tags: list[tuple[str, int]]) -> None:
        current = self.currentData()
        self.blockSignals(True)
        self.clear()
        self.addItem("This paper", PAPER)
        self.addItem("Selected papers", SELECTED)
        self.setItemData(1, "The papers selected in the library list", Qt.ToolTipRole)
        for name, n in tags:
            self.addItem(f"Tag: {name} ({n})", f"{TAG}:{name}")
        self.addItem("Whole library", LIBRARY)
        index = self.findData(current) if current is not None else 0
        self.blockSignals(False)
        if index < 0:  # a tag that is gone: back to this paper
            index = 0
        if index != self.currentIndex():
            self.setCurrentIndex(index)

    def refresh_tags(self) -> None:
        """Read the library's tags again (in the background)."""
        run_op(self, lambda: self.services.library().all_tags(), on_success=self._fill)

    def set_kind(self, kind: str, tag: str | None = None) -> bool:
        index = self.findData(f"{TAG}:{tag}" if kind == TAG else kind)
        if index >= 0:
            self.setCurrentIndex(index)
        return index >= 0

    # ---- the choice -----------------------------------------------------------------------
    def kind(self) -> str:
        return str(self.currentData() or PAPER).split(":", 1)[0]

    def describe(self) -> str:
        """What a question is asked across, for the question box: "the whole library", ..."""
        kind, _, tag = str(self.currentData() or PAPER).partition(":")
        return {PAPER: "this paper", SELECTED: "the selected papers", TAG: f"the papers tagged {tag!r}",
                LIBRARY: "the whole library"}.get(kind, "this paper")

    @property
    def across_papers(self) -> bool:
        return self.kind() != PAPER

    def scope(self) -> Scope | None:
        """The chosen papers (None: this paper); BadInput when "Selected papers" has none."""
        kind, _, tag = str(self.currentData() or PAPER).partition(":")
        if kind == PAPER:
            return None
        if kind == TAG:
            return Scope(tag=tag)
        if kind == SELECTED:
            ids = list(self.selection_source() if self.selection_source is not None else [])
            if not ids:
                raise BadInput(NO_SELECTION)
            return Scope(paper_ids=tuple(dict.fromkeys(ids)))
        return Scope()
