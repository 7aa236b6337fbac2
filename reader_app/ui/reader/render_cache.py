"""The PDF view's page images: background rendering requests and a bounded cache.

``RenderCache(view, pool)`` is owned by ``PdfView`` (``view.renders``).  It owns the
images and the requests in flight, and uses only the view's public members: ``doc`` (a
``reader_app.pdf.render`` document), ``visible_pages()``, ``scale_key()`` and
``viewport()`` (repainted when an image arrives).  Images are keyed by (page, pixels per
point × 1000); the cache holds at most ``CACHE_BYTES``, evicting the least recently
painted images first but never one of the pages in view at the current scale.
``clear()`` (a new document) drops everything, and results of older requests are ignored.
``render_pool()`` makes the one thread the view's documents are opened, rendered and
searched on.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator

from PySide6.QtCore import QThreadPool
from PySide6.QtGui import QImage

from reader_app.ui.background.ops import run_op

CACHE_BYTES = 300 * 1024 * 1024


def render_pool() -> QThreadPool:
    """The thread the PDF view's documents are opened, rendered and searched on."""
    pool = QThreadPool()
    pool.setMaxThreadCount(1)  # PyMuPDF holds the GIL: one renderer is plenty
    pool.setExpiryTimeout(-1)
    return pool


def _quiet(_exc) -> None:
    """Warming a cache may fail (a dead render helper); the page itself reports errors."""


class RenderCache:
    def __init__(self, view, pool):
        self._view = view
        self._pool = pool
        self._images: OrderedDict[tuple[int, int], QImage] = OrderedDict()
        self._bytes = 0
        self._pending: dict[tuple[int, int], object] = {}
        self._generation = 0

    # ---- looking up ----------------------------------------------------------------------
    def __contains__(self, key: tuple[int, int]) -> bool:
        return key in self._images

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(list(self._images))

    def __getitem__(self, key: tuple[int, int]) -> QImage:
        return self._images[key]

    def image(self, page: int, key: int) -> QImage | None:
        """The sharp image of ``page`` at scale ``key`` (marked as just painted), or None."""
        img = self._images.get((page, key))
        if img is not None:
            self._images.move_to_end((page, key))
        return img

    def any_image(self, page: int) -> QImage | None:
        """The largest image of ``page`` at any scale: a stand-in while it renders."""
        best = None
        for (p, _k), img in self._images.items():
            if p == page and (best is None or img.width() > best.width()):
                best = img
        return best

    def busy(self) -> bool:
        """Whether renders are in flight."""
        return bool(self._pending)

    # ---- requesting ----------------------------------------------------------------------
    def request(self, page: int, key: int) -> None:
        """Render ``page`` at scale ``key`` in the background unless it is cached or coming."""
        doc = self._view.doc
        if (page, key) in self._pending or (page, key) in self._images or doc is None:
            return
        gen = self._generation

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
            self._view.viewport().update()
            # warm the selection cache, after the page is on screen (not before: the
            # first page of a paper shows one helper round trip sooner)
            run_op(None, lambda: doc.words(page), on_failure=_quiet, pool=self._pool)

        def failed(_exc):
            self._pending.pop((page, key), None)

        self._pending[(page, key)] = run_op(self._view, work, on_success=done, on_failure=failed,
                                            pool=self._pool)

    def cancel_except(self, wanted: Iterable[tuple[int, int]]) -> None:
        """Cancel the requests in flight that are not ``wanted`` (scrolled away, zoomed)."""
        wanted = set(wanted)
        for k in [k for k in self._pending if k not in wanted]:
            self._pending.pop(k).cancel()

    def clear(self) -> None:
        """Drop every image and cancel every request (a new document)."""
        self._generation += 1
        for op in self._pending.values():
            op.cancel()
        self._pending.clear()
        self._images.clear()
        self._bytes = 0

    def _store(self, page: int, key: int, qimg: QImage) -> None:
        self._images[(page, key)] = qimg
        self._bytes += qimg.sizeInBytes()
        visible = set(self._view.visible_pages())
        current = self._view.scale_key()
        while self._bytes > CACHE_BYTES and len(self._images) > 1:
            k = next(iter(self._images))
            if k[0] in visible and k[1] == current:
                self._images.move_to_end(k)
                if all(kk[0] in visible for kk in self._images):
                    break
                continue
            self._bytes -= self._images.pop(k).sizeInBytes()
