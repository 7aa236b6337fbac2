"""The Ask panel's "Matching passages": the paragraphs that best match the question,
listed as soon as it is asked (before the model answers; ``find``).

Each row shows ``p. N ¶M``, the section and a short snippet; clicking the row's link
emits ``activated(page, bbox)``, like a citation chip.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from reader_app.ui.ask.citation_chip import chip_label, citation_fields
from reader_app.ui.background.jobs import LatestJob
from reader_app.ui.background.ops import run_op


def _snippet(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


class PassageList(QWidget):
    activated = Signal(int, object)  # 1-based page, bbox in PDF points
    shown = Signal(object)  # list[Passage], once on screen

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("passages")
        self.passages: list = []
        self.rows: list[QLabel] = []
        self._lookup = LatestJob()  # the latest find()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        self.title = QLabel("Matching passages", self)
        self.title.setStyleSheet("color: palette(placeholder-text);")
        lay.addWidget(self.title)
        self.hide()

    def find(self, services, paper_id: str, question: str, selection=None) -> None:
        """Look up and show the question's best paragraphs (BM25 in the library, milliseconds;
        ``services.ranker`` keeps the ranking for the assistant).  A later ``find`` or
        ``set_passages`` replaces this one."""
        op = run_op(self, lambda: services.ranker.passages_in_library(services.library(), paper_id, question, selection),
                    on_failure=lambda _exc: None)  # no passages: the answer still comes
        self._lookup.start(op, finished=self._found)

    def _found(self, passages) -> None:
        self.set_passages(passages)
        self.shown.emit(passages)

    def set_passages(self, passages) -> None:
        """Show ``passages`` (Passage objects or their dicts); none hides the list."""
        if not passages:
            self._lookup.drop()
        for row in self.rows:
            row.deleteLater()
        self.rows = []
        self.passages = list(passages or [])
        for i, p in enumerate(self.passages):
            paragraph, page, _bbox, _v, section, text = citation_fields(p)
            where = html.escape(chip_label(page, paragraph))
            head = f"<a href='{i}'>{where}</a>"
            if section:
                head += f" <i>{html.escape(_snippet(section, 40))}</i>"
            row = QLabel(f"{head} — {html.escape(_snippet(text))}", self)
            row.setObjectName("passage")
            row.setWordWrap(True)
            row.setTextFormat(Qt.RichText)
            row.setTextInteractionFlags(Qt.LinksAccessibleByMouse | Qt.LinksAccessibleByKeyboard)
            row.setToolTip(_snippet(text, 600))
            row.linkActivated.connect(self._open)
            self.layout().addWidget(row)
            self.rows.append(row)
        self.setVisible(bool(self.passages))

    def activate(self, i: int) -> None:
        """Jump to passage ``i`` (what clicking its link does)."""
        _n, page, bbox, _v, _s, _t = citation_fields(self.passages[i])
        if page > 0:
            self.activated.emit(page, bbox)

    def _open(self, link: str) -> None:
        try:
            self.activate(int(link))
        except (ValueError, IndexError):
            pass
