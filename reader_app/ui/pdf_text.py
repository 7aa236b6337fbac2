"""Text interaction of the PDF view: selecting words with the mouse, copying, find.

A mixin of ``PdfView`` (kept apart to keep modules small); it relies on the view's
``doc`` (a ``reader_app.pdf.render.RenderDoc``), ``_zoom``, ``_page_rect``,
``_visible_pages``, ``_pool`` and its signals.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QGuiApplication

from reader_app.ui.ops import run_op


class TextInteraction:
    # ---- selection -----------------------------------------------------------------------
    def _hit(self, pos: QPointF) -> tuple[int, float, float] | None:
        """(page, x, y) in points under a viewport position, or None."""
        for page in self._visible_pages():
            r = self._page_rect(page)
            if r.contains(pos):
                return page, (pos.x() - r.x()) / self._zoom, (pos.y() - r.y()) / self._zoom
        return None

    def _word_at(self, page: int, x: float, y: float) -> int | None:
        words = self.doc.words(page) if self.doc is not None else []
        if not words:
            return None
        best, best_d = None, float("inf")
        for i, w in enumerate(words):
            dx = 0 if w.x0 <= x <= w.x1 else min(abs(x - w.x0), abs(x - w.x1))
            dy = 0 if w.y0 <= y <= w.y1 else min(abs(y - w.y0), abs(y - w.y1))
            d = dy * 4 + dx  # prefer the same line
            if d < best_d:
                best, best_d = i, d
        return best

    def mousePressEvent(self, event):  # noqa: N802
        self.setFocus()
        if event.button() == Qt.MouseButton.LeftButton and self.doc is not None:
            hit = self._hit(event.position())
            had = self._selection is not None or self.highlight is not None
            self._selection, self._drag_anchor = None, None
            self.highlight = None
            if hit:
                idx = self._word_at(*hit)
                if idx is not None:
                    self._drag_anchor = (hit[0], idx)
            if had:
                self.viewport().update()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event):  # noqa: N802
        if self._drag_anchor and event.buttons() & Qt.MouseButton.LeftButton:
            anchor = self._drag_anchor
            hit = self._hit(event.position())
            if hit is None:  # between pages or beside them: stay on the anchor's page
                page = anchor[0]
                r = self._page_rect(page)
                hit = (page, (event.position().x() - r.x()) / self._zoom, (event.position().y() - r.y()) / self._zoom)
            idx = self._word_at(*hit)
            if idx is not None:
                a, b = sorted([anchor, (hit[0], idx)])
                self._selection = (a[0], a[1], b[0], b[1])  # may run across pages
                self.viewport().update()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):  # noqa: N802
        if self._selection:
            self.selectionChanged.emit(self.selected_text(), self._selection[0])
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event):  # noqa: N802
        hit = self._hit(event.position()) if self.doc is not None else None
        idx = self._word_at(*hit) if hit else None
        if idx is not None:
            self._selection = (hit[0], idx, hit[0], idx)
            self.viewport().update()
            self.selectionChanged.emit(self.selected_text(), hit[0])

    def select_words(self, page: int, first: int, last: int, last_page: int | None = None) -> None:
        """Select from word ``first`` of ``page`` to word ``last`` of ``last_page`` (default: same page)."""
        self._selection = (page, first, last_page or page, last)
        self.viewport().update()
        self.selectionChanged.emit(self.selected_text(), page)

    def _selected_words(self, page: int):
        """The selected words on ``page`` (empty when the selection does not reach it)."""
        p0, i0, p1, i1 = self._selection
        if not p0 <= page <= p1:
            return []
        words = self.doc.words(page)
        start = i0 if page == p0 else 0
        end = i1 + 1 if page == p1 else len(words)
        return words[start:end]

    def selected_lines(self) -> list[tuple[int, str, list[tuple[float, float, float, float]]]]:
        """The selection per page: (page, its text, one box per line), for highlighting."""
        if not self._selection or self.doc is None:
            return []
        out = []
        for page in range(self._selection[0], self._selection[2] + 1):
            words = self._selected_words(page)
            if not words:
                continue
            lines: dict[tuple[int, int], list] = {}
            for w in words:
                lines.setdefault((w.block, w.line), []).append(w)
            boxes = [(min(w.x0 for w in ws), min(w.y0 for w in ws), max(w.x1 for w in ws), max(w.y1 for w in ws))
                     for ws in lines.values()]
            out.append((page, " ".join(w.text for w in words), boxes))
        return out

    def clear_selection(self) -> None:
        if self._selection is not None:
            self._selection = None
            self.viewport().update()
            self.selectionChanged.emit("", 0)

    def selected_text(self) -> str:
        if not self._selection or self.doc is None:
            return ""
        out, prev, prev_page = [], None, 0
        for page in range(self._selection[0], self._selection[2] + 1):
            for w in self._selected_words(page):
                if prev is not None:
                    new_block = prev.block != w.block or page != prev_page
                    out.append("\n" if new_block else " ")
                out.append(w.text)
                prev, prev_page = w, page
        return "".join(out)

    def copy(self) -> bool:
        text = self.selected_text()
        if text:
            QGuiApplication.clipboard().setText(text)
        return bool(text)

    # ---- find ----------------------------------------------------------------------------
    def find(self, query: str) -> None:
        if self._find_op is not None:
            self._find_op.cancel()
        self.find_hits, self.find_index = [], -1
        query = " ".join((query or "").split())
        if query and self.doc is None and self.path:  # still opening: search once it is open
            self._pending_find = query
            return
        if not query or self.doc is None:
            self.findResults.emit(0, 0)
            self.viewport().update()
            return
        doc, gen = self.doc, self._generation
        start_page = self.current_page()

        def done(hits):
            if gen != self._generation or hits is None:
                return
            self._find_op = None
            self.find_hits = hits
            self.find_index = next((i for i, (p, _b) in enumerate(hits) if p >= start_page), 0) if hits else -1
            self._show_find()

        self._find_op = run_op(self, lambda op: doc.search(query, cancel=op.cancel_event),
                               on_success=done, pool=self._pool)

    def find_next(self) -> None:
        if self.find_hits:
            self.find_index = (self.find_index + 1) % len(self.find_hits)
            self._show_find()

    def find_prev(self) -> None:
        if self.find_hits:
            self.find_index = (self.find_index - 1) % len(self.find_hits)
            self._show_find()

    def clear_find(self) -> None:
        self._pending_find = None
        if self._find_op is not None:
            self._find_op.cancel()
        self.find_hits, self.find_index = [], -1
        self.viewport().update()

    def _show_find(self) -> None:
        if self.find_index >= 0:
            page, b = self.find_hits[self.find_index]
            r = self._page_rect(page)
            top = r.y() + b[1] * self._zoom
            if top < 0 or top > self.viewport().height() - 40:
                vs = self.verticalScrollBar()
                vs.setValue(int(vs.value() + top - self.viewport().height() / 3))
            self._scroll_x_into_view(page, b)
        self.findResults.emit(self.find_index + 1, len(self.find_hits))
        self.viewport().update()
