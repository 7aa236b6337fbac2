"""Page rendering, words and search for the PDF view (the UI never imports pymupdf).

``open_document_isolated`` (what the GUI uses) serves the same API from a helper
process; ``open_document`` works in-process.  Everything here is safe to call from
worker threads: one module-wide lock guards
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

from reader_app.core.child import Child
from reader_app.core.errors import HelperProcessError, PasswordError, PdfError

pymupdf.TOOLS.mupdf_display_errors(False)  # the GUI reports errors itself
pymupdf.TOOLS.mupdf_display_warnings(False)

_LOCK = threading.RLock()
BAND_PIXELS = 160_000  # pixels rendered per call: ~2-6 ms each on a laptop core
SIZE_HEAD = 64  # pages measured when a document opens (see ``RenderDoc.page_sizes``)


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
        self._sizes: list[tuple[float, float]] = []  # exact sizes of pages 1..len(self._sizes)
        self._lists: OrderedDict[int, pymupdf.DisplayList] = OrderedDict()
        self._words: OrderedDict[int, list[Word]] = OrderedDict()
        self._closed = False

    # ---- geometry --------------------------------------------------------------------
    def page_sizes(self, exact: bool = False) -> list[tuple[float, float]]:
        """(width, height) in points for every page.

        Knowing every page's size means loading every page (~75 µs each: 150 ms for
        2,000 pages), so by default only the first ``SIZE_HEAD`` pages are measured and
        the rest are assumed to be as large as the last of those; ``exact=True`` measures
        them all (call it once the first page shows, and re-lay out if they differ).
        """
        want = self.page_count if exact else min(self.page_count, SIZE_HEAD)
        while True:
            with _LOCK:  # in chunks: in-process, other threads get the GIL in between
                for _ in range(200):
                    if len(self._sizes) >= want or self._closed:
                        break
                    r = self._doc[len(self._sizes)].rect
                    self._sizes.append((r.width, r.height))
                if len(self._sizes) >= want or self._closed:
                    sizes = list(self._sizes)
                    break
            time.sleep(0)
        if len(sizes) < self.page_count:
            sizes += [sizes[-1] if sizes else (612.0, 792.0)] * (self.page_count - len(sizes))
        return sizes

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

    def search_page(self, page: int, query: str) -> list[tuple[float, float, float, float]]:
        """Boxes of every occurrence of ``query`` (case-insensitive) on ``page``."""
        with _LOCK:
            if self._closed:
                return []
            p = self._doc[page - 1]
            try:
                rects = p.search_for(query)
            except Exception:
                rects = []
            rot = p.rotation_matrix if p.rotation else None
        return [tuple(r * rot if rot is not None else r)[:4] for r in rects]

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


# ---- out-of-process rendering ---------------------------------------------------------------
# PyMuPDF keeps the GIL while it decodes a large image (50-200 ms for one figure), which no
# banding can split.  The GUI therefore renders in a helper process (``RenderService`` in a
# ``reader_app.core.child.Child``): ``open_document_isolated`` returns a ``ProcessRenderDoc``
# with the same API whose calls wait on a pipe (no GIL held).
# If the helper cannot start, or dies (a PDF that crashes MuPDF), the next document is
# opened again in a fresh helper; the caller sees a one-line PdfError, never a crash.


class RenderService:
    """The helper process's handler: the open documents, by id."""

    def __init__(self):
        self.docs: dict[int, RenderDoc] = {}
        self.next_id = 1

    def __call__(self, job):
        op, args = job.op, job.args
        if op == "open":
            doc = open_document(*args)
            self.docs[self.next_id] = doc
            self.next_id += 1
            return self.next_id - 1, doc.page_count, doc.page_sizes()
        if op == "close":
            doc = self.docs.pop(args[0], None)
            return doc.close() if doc is not None else None
        doc = self.docs.get(args[0])
        if doc is None:
            raise PdfError("the document was closed")
        if op == "render":
            return doc.render(*args[1:])
        if op == "sizes":
            return doc.page_sizes(exact=True)
        if op == "words":
            return doc.words(args[1])
        if op == "search_page":
            return doc.search_page(*args[1:])
        raise PdfError(f"unknown request {op!r}")

    def close(self) -> None:
        for doc in self.docs.values():
            doc.close()


def _stopped(code, _tail) -> PdfError:
    return PdfError("the page renderer stopped (the PDF may be damaged); reopen the paper")


_helper: Child | None = None
_helper_lock = threading.Lock()


def start_helper() -> Child:
    """Start (or reuse) the render helper process; call early, it takes a moment to import."""
    global _helper
    with _helper_lock:
        if _helper is None or not _helper.alive:
            if _helper is not None:
                _helper.stop(1)
            _helper = Child(RenderService, name="reader-render", on_death=_stopped, internal=PdfError)
        return _helper


def stop_helper() -> None:
    global _helper
    with _helper_lock:
        if _helper is not None:
            _helper.stop(1)
            _helper = None


class ProcessRenderDoc:
    """``RenderDoc``'s API, served by the helper process."""

    def __init__(self, helper: Child, doc_id: int, path: str, page_count: int, sizes):
        self._helper, self._id, self.path = helper, doc_id, path
        self.page_count = page_count
        self._sizes = list(sizes)
        self._exact = page_count <= SIZE_HEAD
        self._words: OrderedDict[int, list[Word]] = OrderedDict()
        self._closed = False

    def _call(self, op: str, *args):
        try:
            return self._helper.call(op, *args)
        except HelperProcessError:  # stopped (the app is closing)
            raise PdfError("the page renderer stopped; reopen the paper") from None

    def page_sizes(self, exact: bool = False) -> list[tuple[float, float]]:
        if exact and not self._exact and not self._closed:
            self._sizes, self._exact = list(self._call("sizes", self._id)), True
        return list(self._sizes)

    def render(self, page: int, scale: float, clip=None, cancel: threading.Event | None = None) -> Image | None:
        if self._closed or (cancel is not None and cancel.is_set()):
            return None
        return self._call("render", self._id, page, scale, tuple(clip) if clip else None)

    def words(self, page: int) -> list[Word]:
        cached = self._words.get(page)
        if cached is None and not self._closed:
            cached = self._words[page] = self._call("words", self._id, page)
            while len(self._words) > 64:  # bounded, like the helper's own cache
                self._words.popitem(last=False)
        return cached or []

    def search(self, query: str, cancel: threading.Event | None = None, max_hits: int = 2000):
        hits = []
        query = " ".join(query.split())
        for number in range(1, self.page_count + 1 if query else 1):
            if self._closed or (cancel is not None and cancel.is_set()):
                break
            hits += [(number, box) for box in self._call("search_page", self._id, number, query)]
            if len(hits) >= max_hits:
                break
        return hits

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._call("close", self._id)
            except PdfError:
                pass


def open_document_isolated(path: str, password: str | None = None):
    """Like ``open_document`` but rendering in the helper process (falls back in-process)."""
    try:
        helper = start_helper()
    except Exception:  # noqa: BLE001 - no subprocesses here: render in-process
        return open_document(path, password)
    doc_id, count, sizes = helper.call("open", path, password)
    return ProcessRenderDoc(helper, doc_id, path, count, sizes)
