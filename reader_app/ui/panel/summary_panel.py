"""The Summary tab: a TL;DR and one card per section, generated on demand.

Summaries are written by the assistant on the LLM worker thread (each card follows its
own job: its ``summary`` updates, ``SummaryUpdate``, stream into the card) and cached by it
in the library per model; the cached ones are read back through ``ui.background.ops`` when a paper is
shown.  Citations are chips like the Ask tab's.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from reader_app.core.model import SummaryUpdate
from reader_app.ui.ask.citation_chip import ChipRow
from reader_app.ui.background.jobs import Job, LatestJob
from reader_app.ui.background.ops import run_op

TLDR = "tldr"
SKIP_TITLES = ("references", "bibliography", "acknowledgements", "acknowledgments", "acknowledgment")


def _get(obj, key, default=None):
    return obj.get(key, default) if isinstance(obj, dict) else getattr(obj, key, default)


def cache_key(row):
    """The card a cached summary belongs to, from its ``section_key`` (``tldr:…``, ``s3:…``)."""
    sk = str(_get(row, "section_key", "") or "")
    head = sk.split(":", 1)[0]
    if head == TLDR:
        return TLDR
    if head.startswith("s"):
        try:
            return int(head[1:])
        except ValueError:
            return None
    return None


def summarisable_sections(paper) -> list[tuple[int, str, int, int]]:
    """[(section index, title, level, page)] of the sections that have body text, in
    reading order (index -1: text before the first heading), as the assistant groups them."""
    out: dict[int, tuple[int, str, int, int]] = {}
    by_index = {s.index: s for s in paper.sections}
    for p in paper.paragraphs:
        if p.kind not in ("body", "caption"):
            continue
        si = p.section_index if p.section_index is not None else -1
        if si in out:
            continue
        sec = by_index.get(si)
        title = p.section or (sec.title if sec else "") or ("Opening" if si == -1 else "(untitled)")
        if title.strip().lower().strip(" .0123456789") in SKIP_TITLES:
            continue
        out[si] = (si, title, sec.level if sec else 1, (sec.page if sec else 0) or p.page)
    return list(out.values())


class SectionCard(QFrame):
    """One summary: title, Generate/Regenerate, the (streamed) text and its citations."""

    generate = Signal(object)  # key: section index or "tldr"
    citationActivated = Signal(int, object)
    pageRequested = Signal(int)
    jobEnded = Signal(object)  # key: the card's summary finished, failed or was cancelled

    def __init__(self, key, title: str, level: int = 1, page: int = 0, parent=None):
        super().__init__(parent)
        self.key = key
        self.setObjectName("summaryCard")
        self.setFrameShape(QFrame.StyledPanel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8 + 12 * max(0, level - 1), 6, 8, 6)
        lay.setSpacing(4)
        head = QHBoxLayout()
        self.title = QLabel(title, self)
        self.title.setWordWrap(True)
        f = QFont(self.title.font())
        f.setBold(True)
        if key == TLDR:
            f.setPointSizeF(f.pointSizeF() * 1.1)
        self.title.setFont(f)
        head.addWidget(self.title, 1)
        if page:
            where = QLabel(f'<a href="page:{page}">p. {page}</a>', self)
            where.setToolTip("Show this section in the PDF")
            where.setTextInteractionFlags(Qt.LinksAccessibleByMouse | Qt.LinksAccessibleByKeyboard)
            where.linkActivated.connect(lambda _link, p=page: self.pageRequested.emit(p))
            head.addWidget(where)
        self.button = QPushButton("Generate", self)
        self.button.clicked.connect(lambda: self.generate.emit(self.key))
        head.addWidget(self.button)
        lay.addLayout(head)
        self.text = QLabel(self)
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.PlainText)
        self.text.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.text.hide()
        lay.addWidget(self.text)
        self.chips = ChipRow(self)
        self.chips.activated.connect(self.citationActivated)
        self.chips.hide()
        lay.addWidget(self.chips)
        self.state = "empty"  # empty, queued, streaming, done, failed
        self._writing = LatestJob()

    @property
    def job(self) -> Job | None:
        """The job writing this card's summary, while it runs."""
        return self._writing.job

    def follow(self, job: Job) -> None:
        """Show the summary ``job`` writes: queued, its streamed pieces, then the result."""
        self.set_queued()
        self._writing.start(job, summary=self.show_update, finished=self._finished, failed=self.set_failed,
                            cancelled=self.reset_idle, ended=self._ended)

    def drop(self) -> None:
        """Cancel the running summary and stop listening to it."""
        self._writing.drop()

    def _finished(self, result) -> None:
        rows = result if isinstance(result, list) else [result]
        row = rows[0] if rows else {}
        self.set_summary(_get(row, "summary", ""), _get(row, "citations", []))

    def _ended(self) -> None:
        self.jobEnded.emit(self.key)

    def set_queued(self) -> None:
        self.state = "queued"
        self.button.setEnabled(False)
        self.text.setText("Waiting…")
        self.text.setStyleSheet("color: palette(placeholder-text);")
        self.text.show()
        self.chips.set_citations([])

    def show_update(self, section: str, title: str, text: str, phase: str) -> None:
        """The summary so far (``SummaryUpdate.to_fields()``); its citations come with the result."""
        if SummaryUpdate.from_fields(section, title, text, phase).key != self.key or self.state == "done":
            return
        if self.state != "streaming":
            self.state = "streaming"
            self.text.setStyleSheet("")
        self.text.setText(text.strip() or "…")

    def set_summary(self, summary: str, citations) -> None:
        self.state = "done"
        self.text.setStyleSheet("")
        self.text.setText((summary or "").strip() or "(the model wrote nothing)")
        self.text.show()
        self.chips.set_citations(citations or [])
        self.button.setText("Regenerate")
        self.button.setEnabled(True)

    def set_failed(self, message: str) -> None:
        self.state = "failed"
        self.text.setText(message)
        self.text.setStyleSheet("color: palette(placeholder-text); font-style: italic;")
        self.text.show()
        self.button.setText("Generate" if self.button.text() != "Regenerate" else "Regenerate")
        self.button.setEnabled(True)

    def reset_idle(self) -> None:
        if self.state in ("queued", "streaming"):
            self.state = "empty"
            self.text.hide()
            self.button.setEnabled(True)


class SummaryPanel(QWidget):
    citationActivated = Signal(int, object)
    pageRequested = Signal(int)

    def __init__(self, services, worker, parent=None):
        super().__init__(parent)
        self.services = services
        self.worker = worker
        self.paper_id: str | None = None
        self.cards: dict[object, SectionCard] = {}
        self._total = 0
        self._loading = LatestJob()  # reading the paper's sections and cached summaries
        self._build()

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(6)
        row = QHBoxLayout()
        self.all_button = QPushButton("Summarise all", self)
        self.all_button.setToolTip("Write the missing summaries: the TL;DR and every section")
        self.all_button.clicked.connect(self.generate_all)
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.clicked.connect(self.stop)
        self.status = QLabel(self)
        self.status.setStyleSheet("color: palette(placeholder-text);")
        row.addWidget(self.all_button)
        row.addWidget(self.status, 1)
        row.addWidget(self.stop_button)
        lay.addLayout(row)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.NoFrame)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        self.body_layout.setSpacing(6)
        self.body_layout.addStretch(1)
        self.scroll.setWidget(self.body)
        lay.addWidget(self.scroll, 1)
        self._update_buttons()

    # ---- paper -----------------------------------------------------------------------
    def set_paper(self, paper_id: str | None, paper=None) -> None:
        """``paper``: the Paper already loaded (with paragraphs) by the window, not read again."""
        if paper_id == self.paper_id:
            return
        self.paper_id = paper_id
        self._loading.drop()
        self._clear_cards()
        self.status.setText("")
        if paper_id:
            given = paper if paper is not None and getattr(paper, "id", None) == paper_id else None

            def load():
                lib = self.services.library()
                loaded = given if given is not None else lib.get_paper(paper_id)
                return loaded, list(lib.summaries(paper_id))

            self.status.setText("Loading…")
            op = run_op(self, load, on_failure=lambda _exc: None)  # said in the panel: _load_failed
            self._loading.start(op, finished=self._loaded, failed=self._load_failed)
        self._update_buttons()

    def _loaded(self, result) -> None:
        self._fill(*result)

    def _load_failed(self, message: str) -> None:
        self.status.setText(f"Could not load the sections: {message}")

    @property
    def jobs(self) -> dict[object, Job]:
        """Card key -> the job writing its summary, for the cards being written."""
        return {key: card.job for key, card in self.cards.items() if card.job is not None}

    def _clear_cards(self) -> None:
        for card in self.cards.values():
            card.drop()
            self.body_layout.removeWidget(card)
            card.deleteLater()
        self.cards = {}

    def _fill(self, paper, cached) -> None:
        self._clear_cards()
        self.status.setText("")
        self._add_card(TLDR, "TL;DR", 1, 0)
        for key, title, level, page in summarisable_sections(paper):
            self._add_card(key, title, level, page)
        if len(self.cards) == 1:
            self.status.setText("No sections were detected; the TL;DR covers the whole paper.")
        self._apply_cached(cached)
        self._update_buttons()

    def _add_card(self, key, title, level, page) -> None:
        card = SectionCard(key, title, level, page, self.body)
        card.generate.connect(self.generate)
        card.jobEnded.connect(self._card_done)
        card.citationActivated.connect(self.citationActivated)
        card.pageRequested.connect(self.pageRequested)
        self.body_layout.insertWidget(self.body_layout.count() - 1, card)
        self.cards[key] = card

    def _apply_cached(self, cached) -> None:
        """Show the newest cached summary of each card (whichever model wrote it)."""
        best: dict = {}
        for row in cached or []:
            key = cache_key(row)
            if key in self.cards and str(_get(row, "updated", "")) >= str(_get(best.get(key, {}), "updated", "")):
                best[key] = row
        for key, row in best.items():
            card = self.cards[key]
            card.set_summary(_get(row, "summary", ""), _get(row, "citations", []))
            if _get(row, "model"):
                card.setToolTip(f"cached summary by {_get(row, 'model')}")

    # ---- generation ------------------------------------------------------------------
    def generate(self, key, force: bool | None = None) -> Job | None:
        """Queue the summary of one card (``"tldr"`` or a section index)."""
        card = self.cards.get(key)
        if card is None or not self.paper_id or card.state in ("queued", "streaming"):
            return None
        if force is None:
            force = card.state == "done"
        what = "the TL;DR" if key == TLDR else f"“{card.title.text()}”"
        verb = "Rewriting" if force else "Writing"
        job = self.worker.summarize(self.paper_id, key, force=force,
                                    label=f"{verb} the summary of {what}" if key != TLDR else f"{verb} {what}")
        card.follow(job)
        self._total += 1
        self._update_buttons()
        return job

    def generate_all(self) -> list[Job]:
        jobs = []
        for key, card in self.cards.items():
            if card.state in ("empty", "failed"):
                job = self.generate(key, force=False)
                if job is not None:
                    jobs.append(job)
        return jobs

    def stop(self) -> None:
        for job in self.jobs.values():
            job.cancel()

    def _card_done(self, _key) -> None:
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = len(self.jobs)
        self.stop_button.setEnabled(bool(running))
        self.all_button.setEnabled(bool(self.paper_id) and bool(self.cards))
        if running:
            done = self._total - running
            self.status.setText(f"Summarising {done + 1} of {self._total}…")
        else:
            self._total = 0
            if self.status.text().startswith("Summarising"):
                self.status.setText("")
