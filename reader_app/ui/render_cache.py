"""The PDF view's page images: background rendering requests and a bounded cache.

A mixin of ``PdfView`` (kept apart to keep modules small).  It relies on the view's
``doc`` (a ``reader_app.pdf.render`` document), ``_zoom``, ``_generation``, ``_pool``,
``_visible_pages`` and ``viewport()``.  Images are keyed by (page, pixels per point ×
1000); the cache holds at most ``CACHE_BYTES``, evicting the least recently painted
images first but never one of the pages in view at the current scale.
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtGui import QImage

from reader_app.ui.ops import run_op

CACHE_BYTES = 300 * 1024 * 1024


def _quiet(_exc) -> None:
    """Warming a cache may fail (a dead render helper); the page itself reports errors."""


class RenderCache:
    def _init_cache(self) -> None:
        self._cache: OrderedDict[tuple[int, int], QImage] = OrderedDict()
        self._cache_bytes = 0
        self._pending: dict[tuple[int, int], object] = {}

    def _drop_cache(self) -> None:
        for op in self._pending.values():
            op.cancel()
        self._pending.clear()
        self._cache.clear()
        self._cache_bytes = 0

    def _scale_key(self) -> int:
        """Pixels per point × 1000 (an int, to key the cache)."""
        return int(round(self._zoom * self.devicePixelRatioF() * 1000))

    def _request(self, page: int, key: int) -> None:
        if (page, key) in self._pending or (page, key) in self._cache or self.doc is None:
            return
        doc, gen = self.doc, self._generation

        def work(op):
            image = doc.render(page, key / 1000, cancel=op.cancel_event)
            if image is None:
                return None
            # RGB32 is what the backing store paints without a per-frame conversion
            return QImage(image.data, image.width, image.height, image.stride,
                          QImage.Format.Format_RGB888).convertToFormat(QImage.Format.Format_RGB32)

        def done(qimg):
            self._pending.pop((page, key), None)
            if qimg is None or gen != self._generation:
                return
            self._store(page, key, qimg)
            self.viewport().update()
            # warm the selection cache, after the page is on screen (not before: the
            # first page of a paper shows one helper round trip sooner)
            run_op(None, lambda: doc.words(page), on_failure=_quiet, pool=self._pool)

        def failed(exc):
            self._pending.pop((page, key), None)

        self._pending[(page, key)] = run_op(self, work, on_success=done, on_failure=failed, pool=self._pool)

    def _store(self, page: int, key: int, qimg: QImage) -> None:
        self._cache[(page, key)] = qimg
        self._cache_bytes += qimg.sizeInBytes()
        visible = set(self._visible_pages())
        while self._cache_bytes > CACHE_BYTES and len(self._cache) > 1:
            k = next(iter(self._cache))
            if k[0] in visible and k[1] == self._scale_key():
                self._cache.move_to_end(k)
                if all(kk[0] in visible for kk in self._cache):
                    break
                continue
            self._cache_bytes -= self._cache.pop(k).sizeInBytes()

    def _cached_any(self, page: int) -> QImage | None:
        best = None
        for (p, _k), img in self._cache.items():
            if p == page and (best is None or img.width() > best.width()):
                best = img
        return best
