"""Text interaction of the PDF view: selecting words with the mouse, copying, find.

Two helpers owned by ``PdfView``, each keeping its own state and using only the view's
public members: ``doc`` (a ``reader_app.pdf.render`` document), ``hit(pos)``,
``page_rect(page)``, ``zoom()``, ``current_page()``, ``reveal(page, box)`` and
``viewport()``.

- ``TextSelection(view)`` (``view.selection``): the selected words, from a drag or a double
  click; ``changed(str text, int page)`` when a selection is made or cleared.
- ``TextFind(view, pool)`` (``view.finder``): the matches of a query found in the
  background, and the current one; ``results(int current, int total)`` (1-based, 0 = none).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, Signal
from PySide6.QtGui import QGuiApplication

from reader_app.ui.background.ops import run_op


def word_at(words, x: float, y: float) -> int | None:
    """Index of the word nearest to (x, y) in points (the same line preferred), or None."""
    best, best_d = None, float("inf")
    for i, w in enumerate(words):
        dx = 0 if w.x0 <= x <= w.x1 else min(abs(x - w.x0), abs(x - w.x1))
        dy = 0 if w.y0 <= y <= w.y1 else min(abs(y - w.y0), abs(y - w.y1))
        d = dy * 4 + dx  # prefer the same line
        if d < best_d:
            best, best_d = i, d
    return best


class TextSelection(QObject):
    changed = Signal(str, int)

    def __init__(self, view):
        super().__init__(view)
        self._view = view
        self._range: tuple[int, int, int, int] | None = None  # page, word .. page, word
        self._anchor: tuple[int, int] | None = None  # where a drag started: page, word

    def _word_at(self, page: int, x: float, y: float) -> int | None:
        doc = self._view.doc
        return word_at(doc.words(page), x, y) if doc is not None else None

    def is_empty(self) -> bool:
        return self._range is None

    def first_page(self) -> int:
        return self._range[0] if self._range else 0

    # ---- the mouse -----------------------------------------------------------------------
    def start_drag(self, pos: QPointF) -> None:
        """A left press: drop the selection, remember the word under ``pos``."""
        self._range, self._anchor = None, None
        hit = self._view.hit(pos)
        if hit:
            idx = self._word_at(*hit)
            if idx is not None:
                self._anchor = (hit[0], idx)

    def drag_to(self, pos: QPointF) -> None:
        """Extend the selection from the drag's start to the word under ``pos``."""
        if not self._anchor:
            return
        anchor = self._anchor
        view = self._view
        hit = view.hit(pos)
        if hit is None:  # between pages or beside them: stay on the anchor's page
            page = anchor[0]
            r, z = view.page_rect(page), view.zoom()
            hit = (page, (pos.x() - r.x()) / z, (pos.y() - r.y()) / z)
        idx = self._word_at(*hit)
        if idx is not None:
            a, b = sorted([anchor, (hit[0], idx)])
            self._range = (a[0], a[1], b[0], b[1])  # may run across pages
            view.viewport().update()

    def end_drag(self) -> None:
        if self._range:
            self.changed.emit(self.text(), self._range[0])

    def select_word_at(self, pos: QPointF) -> None:
        """A double click: select the word under ``pos``."""
        hit = self._view.hit(pos) if self._view.doc is not None else None
        idx = self._word_at(*hit) if hit else None
        if idx is not None:
            self.select_words(hit[0], idx, idx)

    # ---- the selection -------------------------------------------------------------------
    def select_words(self, page: int, first: int, last: int, last_page: int | None = None) -> None:
        self._range = (page, first, last_page or page, last)
        self._view.viewport().update()
        self.changed.emit(self.text(), page)

    def clear(self, notify: bool = True) -> None:
        """Drop the selection (``notify``: say so through ``changed`` when there was one)."""
        if self._range is not None:
            self._range = None
            self._view.viewport().update()
            if notify:
                self.changed.emit("", 0)
        self._anchor = None

    def words_on(self, page: int):
        """The selected words on ``page`` (empty when the selection does not reach it)."""
        doc = self._view.doc
        if not self._range or doc is None:
            return []
        p0, i0, p1, i1 = self._range
        if not p0 <= page <= p1:
            return []
        words = doc.words(page)
        start = i0 if page == p0 else 0
        end = i1 + 1 if page == p1 else len(words)
        return words[start:end]

    def _pages(self) -> range:
        if not self._range or self._view.doc is None:
            return range(0)
        return range(self._range[0], self._range[2] + 1)

    def lines(self) -> list[tuple[int, str, list[tuple[float, float, float, float]]]]:
        """The selection per page: (page, its text, one box per line), for highlighting."""
        out = []
        for page in self._pages():
            words = self.words_on(page)
            if not words:
                continue
            lines: dict[tuple[int, int], list] = {}
            for w in words:
                lines.setdefault((w.block, w.line), []).append(w)
            boxes = [(min(w.x0 for w in ws), min(w.y0 for w in ws), max(w.x1 for w in ws), max(w.y1 for w in ws))
                     for ws in lines.values()]
            out.append((page, " ".join(w.text for w in words), boxes))
        return out

    def text(self) -> str:
        out, prev, prev_page = [], None, 0
        for page in self._pages():
            for w in self.words_on(page):
                if prev is not None:
                    new_block = prev.block != w.block or page != prev_page
                    out.append("\n" if new_block else " ")
                out.append(w.text)
                prev, prev_page = w, page
        return "".join(out)

    def copy(self) -> bool:
        text = self.text()
        if text:
            QGuiApplication.clipboard().setText(text)
        return bool(text)


class TextFind(QObject):
    results = Signal(int, int)

    def __init__(self, view, pool):
        super().__init__(view)
        self._view = view
        self._pool = pool
        self.hits: list[tuple[int, tuple]] = []  # (page, box in points)
        self.index = -1  # the current hit, -1 = none
        self._op = None
        self._pending: str | None = None  # a query asked for while the document opens
        self._generation = 0

    def find(self, query: str) -> None:
        if self._op is not None:
            self._op.cancel()
        self.hits, self.index = [], -1
        query = " ".join((query or "").split())
        view = self._view
        if query and view.doc is None and view.path:  # still opening: search once it is open
            self._pending = query
            return
        if not query or view.doc is None:
            self.results.emit(0, 0)
            view.viewport().update()
            return
        doc, gen = view.doc, self._generation
        start_page = view.current_page()

        def done(hits):
            if gen != self._generation or hits is None:
                return
            self._op = None
            self.hits = hits
            self.index = next((i for i, (p, _b) in enumerate(hits) if p >= start_page), 0) if hits else -1
            self._show()

        self._op = run_op(view, lambda op: doc.search(query, cancel=op.cancel_event),
                          on_success=done, pool=self._pool)

    def take_pending(self) -> str | None:
        """The query asked for while the document was opening (once)."""
        query, self._pending = self._pending, None
        return query

    def next(self) -> None:
        if self.hits:
            self.index = (self.index + 1) % len(self.hits)
            self._show()

    def prev(self) -> None:
        if self.hits:
            self.index = (self.index - 1) % len(self.hits)
            self._show()

    def clear(self) -> None:
        """Forget the query, its matches and any search in flight (a later result is ignored)."""
        self._generation += 1
        self._pending = None
        if self._op is not None:
            self._op.cancel()
        self.hits, self.index = [], -1
        self._view.viewport().update()

    def _show(self) -> None:
        if self.index >= 0:
            self._view.reveal(*self.hits[self.index])
        self.results.emit(self.index + 1, len(self.hits))
        self._view.viewport().update()
