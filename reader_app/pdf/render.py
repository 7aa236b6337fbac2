"""Page rendering, words and search for the PDF view (the UI never imports pymupdf).

Everything here is safe to call from worker threads: one module-wide lock guards
PyMuPDF (not thread-safe), and rendering works in horizontal bands of a cached
display list so that no single call holds the GIL for long (PyMuPDF does not release
it) and the GUI thread keeps running between bands.

Coordinates are PDF points with the origin at the top left of the (rotated) page,
pages are 1-based, as in ``reader_app.core.model``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import pymupdf

from reader_app.core.errors import PasswordError, PdfError

pymupdf.TOOLS.mupdf_display_errors(False)  # the GUI reports errors itself
pymupdf.TOOLS.mupdf_display_warnings(False)

_LOCK = threading.RLock()
BAND_PIXELS = 160_000  # pixels rendered per call: ~2-6 ms each on a laptop core


@dataclass
class Image:
    """RGB888 pixels: ``len(data) == stride * height``."""

    width: int
    height: int
    stride: int
    data: bytes


@dataclass
class Word:
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    block: int
    line: int
    index: int


class RenderDoc:
    """An open PDF for display.  Use :func:`open_document`."""

    def __init__(self, doc: pymupdf.Document, path: str):
        self._doc = doc
        self.path = path
        self.page_count = doc.page_count
        self._sizes = [(p.rect.width, p.rect.height) for p in doc] if doc.page_count else []
        self._lists: OrderedDict[int, pymupdf.DisplayList] = OrderedDict()
        self._words: OrderedDict[int, list[Word]] = OrderedDict()
        self._closed = False

    # ---- geometry --------------------------------------------------------------------
    def page_sizes(self) -> list[tuple[float, float]]:
        """(width, height) in points for every page."""
        return list(self._sizes)

    # ---- rendering -------------------------------------------------------------------
    def _display_list(self, page: int) -> pymupdf.DisplayList:
        dl = self._lists.get(page)
        if dl is None:
            dl = self._doc[page - 1].get_displaylist()
            self._lists[page] = dl
            while len(self._lists) > 12:
                self._lists.popitem(last=False)
        else:
            self._lists.move_to_end(page)
        return dl

    def render(self, page: int, scale: float, clip: tuple[float, float, float, float] | None = None,
               cancel: threading.Event | None = None) -> Image | None:
        """Render ``page`` (1-based) at ``scale`` pixels per point (zoom × devicePixelRatio).

        ``clip`` limits it to a rectangle in points.  Returns None when ``cancel`` was set
        in the middle (the work is dropped) or the document was closed.
        """
        self._check_page(page)
        with _LOCK:
            if self._closed:
                return None
            try:
                dl = self._display_list(page)
            except Exception as exc:  # damaged content stream
                raise PdfError(f"cannot render page {page}: {exc}") from None
            area = pymupdf.Rect(clip) if clip else dl.rect
            matrix = pymupdf.Matrix(scale, scale)
            target_rect = (area * matrix).irect
            target = pymupdf.Pixmap(pymupdf.csRGB, target_rect, False)
            target.clear_with(255)
        width_px = max(1, target_rect.width)
        band_h = max(16, BAND_PIXELS // width_px) / scale  # in points
        y = area.y0
        while y < area.y1:
            if cancel is not None and cancel.is_set():
                return None
            band = pymupdf.Rect(area.x0, y, area.x1, min(area.y1, y + band_h + 1 / scale))
            with _LOCK:
                if self._closed:
                    return None
                try:
                    pix = dl.get_pixmap(matrix=matrix, clip=band, alpha=False, colorspace=pymupdf.csRGB)
                    target.copy(pix, pix.irect)
                except Exception:  # a broken band stays white, the rest still shows
                    pass
            y += band_h
            time.sleep(0)  # let the GUI thread take the GIL between bands
        with _LOCK:
            return Image(target.width, target.height, target.stride, bytes(target.samples))

    # ---- text ------------------------------------------------------------------------
    def words(self, page: int) -> list[Word]:
        """The words of ``page`` in reading order with their boxes (cached)."""
        self._check_page(page)
        with _LOCK:
            cached = self._words.get(page)
            if cached is not None:
                return cached
            if self._closed:
                return []
            p = self._doc[page - 1]
            rot = p.rotation_matrix
            out = []
            try:
                raw = p.get_text("words", sort=False)
            except Exception:
                raw = []
            for x0, y0, x1, y1, text, block, line, index in raw:
                r = pymupdf.Rect(x0, y0, x1, y1) * rot if p.rotation else pymupdf.Rect(x0, y0, x1, y1)
                out.append(Word(r.x0, r.y0, r.x1, r.y1, text, block, line, index))
            self._words[page] = out
            while len(self._words) > 64:
                self._words.popitem(last=False)
            return out

    def search(self, query: str, cancel: threading.Event | None = None,
               max_hits: int = 2000) -> list[tuple[int, tuple[float, float, float, float]]]:
        """Every occurrence of ``query`` (case-insensitive) as (page, box), in order."""
        hits: list[tuple[int, tuple[float, float, float, float]]] = []
        query = " ".join(query.split())
        if not query:
            return hits
        for number in range(1, self.page_count + 1):
            if cancel is not None and cancel.is_set():
                break
            with _LOCK:
                if self._closed:
                    break
                p = self._doc[number - 1]
                try:
                    rects = p.search_for(query)
                except Exception:
                    rects = []
                rot = p.rotation_matrix if p.rotation else None
            for r in rects:
                if rot is not None:
                    r = r * rot
                hits.append((number, (r.x0, r.y0, r.x1, r.y1)))
            if len(hits) >= max_hits:
                break
            time.sleep(0)
        return hits

    def close(self) -> None:
        with _LOCK:
            self._closed = True
            self._lists.clear()
            self._words.clear()
            try:
                self._doc.close()
            except Exception:
                pass

    def _check_page(self, page: int) -> None:
        if not 1 <= page <= self.page_count:
            raise PdfError(f"page {page} is out of range (1-{self.page_count})")


def open_document(path: str, password: str | None = None) -> RenderDoc:
    """Open ``path`` for display; PdfError / PasswordError on refusal."""
    name = os.path.basename(path)
    with _LOCK:
        try:
            doc = pymupdf.open(path, filetype="pdf")
        except Exception as exc:
            raise PdfError(f"{name}: cannot be opened ({' '.join(str(exc).split())[:150]})") from None
        try:
            if doc.needs_pass:
                if not password:
                    raise PasswordError(f"{name} is encrypted: a password is needed")
                if not doc.authenticate(password):
                    raise PasswordError(f"{name}: wrong password")
            if doc.page_count == 0:
                raise PdfError(f"{name} has no pages")
            return RenderDoc(doc, path)
        except Exception:
            doc.close()
            raise
