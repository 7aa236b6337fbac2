"""A PDF's own annotations in and out: read them on import, find text for a highlight,
write a copy of the PDF carrying our highlights as standard annotations.

Boxes are PDF points as displayed (origin top left of the rotated page), like the words
of ``render.RenderDoc``, so what the view draws and what is stored agree; PyMuPDF's
annotation coordinates are those of the unrotated page, converted here both ways.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from pathlib import Path

import pymupdf

from reader_app.core.errors import BadInput, PdfError
from reader_app.core.files import atomic_write
from reader_app.core.model import HIGHLIGHT_COLORS, Highlight
from reader_app.pdf.opening import short_text, open_pdf

MAX_IMPORT = 5000  # annotations read from one PDF; the rest are skipped (and counted)
MAX_TEXT = 5000  # characters of text kept from under one annotation

_WRITERS = {
    "highlight": "add_highlight_annot", "underline": "add_underline_annot",
    "strikeout": "add_strikeout_annot", "squiggly": "add_squiggly_annot",
}
AUTHOR = "reader-app"


def _hex(rgb) -> str:
    try:
        r, g, b = (max(0, min(255, round(float(v) * 255))) for v in list(rgb)[:3])
    except (TypeError, ValueError):
        return HIGHLIGHT_COLORS["yellow"]
    return f"#{r:02x}{g:02x}{b:02x}"


def _rgb(hex_color: str) -> tuple[float, float, float]:
    c = (hex_color or HIGHLIGHT_COLORS["yellow"]).lstrip("#")
    try:
        return tuple(int(c[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]
    except ValueError:
        return (1.0, 0.83, 0.0)


def _pdf_date(value: str) -> str:
    """PDF date "D:20240131120000Z" (or "D:2024...+01'00'") -> "2024-01-31T12:00:00Z"; "" if odd."""
    m = re.match(r"D?:?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?", value or "")
    if not m:
        return ""
    y, mo, d, h, mi, s = (g or dflt for g, dflt in zip(m.groups(), ("", "01", "01", "00", "00", "00")))
    return f"{y}-{mo}-{d}T{h}:{mi}:{s}Z"


class _PageWords:
    """The words of a page sorted by their middle line, for 'which words lie in this box'."""

    def __init__(self, page):
        words = sorted(page.get_text("words"), key=lambda w: (w[1] + w[3]) / 2)
        self.words = words
        self.mids = [(w[1] + w[3]) / 2 for w in words]

    def text_in(self, rects) -> str:
        picked = []
        for r in rects:
            lo = bisect.bisect_left(self.mids, r.y0)
            hi = bisect.bisect_right(self.mids, r.y1)
            for w in self.words[lo:hi]:
                cx = (w[0] + w[2]) / 2
                if r.x0 - 1 <= cx <= r.x1 + 1:
                    picked.append(w)
        picked.sort(key=lambda w: (w[5], w[6], w[7]))  # block, line, word: reading order
        return " ".join(w[4] for w in picked)[:MAX_TEXT]


_SUBTYPES = {"/Highlight": "highlight", "/Underline": "underline", "/StrikeOut": "strikeout",
             "/Squiggly": "squiggly", "/Text": "text", "/FreeText": "freetext"}


_ARRAY = {k: re.compile(r"/%s\s*\[([^\]]*)\]" % k) for k in ("QuadPoints", "Rect", "C")}
_DATE = {k: re.compile(r"/%s\s*\((D:[0-9]{4,14})" % k) for k in ("CreationDate", "M")}
_PLAIN = {k: re.compile(r"/%s\s*\(([ -'*-\[\]-~]*)\)" % k) for k in ("Contents", "T")}
_SUBTYPE = re.compile(r"/Subtype\s*(/[A-Za-z]+)")


def _numbers(obj: str, key: str) -> list[float]:
    m = _ARRAY[key].search(obj)
    return [float(v) for v in m.group(1).split()] if m else []


def _string(doc, xref: int, obj: str, key: str) -> str:
    """A text string (PyMuPDF decodes escapes, hex and UTF-16), read only when present."""
    if f"/{key}" not in obj:
        return ""
    m = _PLAIN[key].search(obj)
    if m:  # a plain ASCII literal: no escapes, no encoding to undo
        return m.group(1)
    kind, value = doc.xref_get_key(xref, key)
    return value if kind == "string" else ""


def _read_one(doc, page, to_page, rot, xref: int, obj: str, kind: str, words_of) -> Highlight | None:
    """One annotation from its dictionary (read as one string: PyMuPDF's Annot objects and
    per-key look-ups cost ~0.2 ms each, which matters for a PDF with thousands of them)."""
    if kind in ("text", "freetext"):
        nums = _numbers(obj, "Rect")[:4]
        if len(nums) < 4:
            raise ValueError("no /Rect")
        rects = [pymupdf.Rect(nums) * to_page]
    else:
        nums = _numbers(obj, "QuadPoints")
        rects = []
        for i in range(0, len(nums) - 7, 8):
            xs, ys = nums[i:i + 8:2], nums[i + 1:i + 8:2]
            rects.append(pymupdf.Rect(min(xs), min(ys), max(xs), max(ys)) * to_page)
        if not rects:  # no QuadPoints: the annotation's rectangle
            r = _numbers(obj, "Rect")[:4]
            rects = [pymupdf.Rect(r) * to_page] if len(r) == 4 else []
    rects = [r for r in rects if r.is_valid and not r.is_empty and not r.is_infinite]
    if not rects:
        raise ValueError("no area")
    note = _string(doc, xref, obj, "Contents").strip()
    if kind in ("text", "freetext") and not note:
        return None  # an empty sticky note says nothing
    text = words_of().text_in(rects) if kind not in ("text", "freetext") else ""
    color = _numbers(obj, "C")
    shown = [r * rot if rot is not None else r for r in rects]
    quads = [(round(r.x0, 2), round(r.y0, 2), round(r.x1, 2), round(r.y1, 2)) for r in shown]
    author = _string(doc, xref, obj, "T").strip()
    key_src = f"{kind}|{page.number + 1}|{quads}|{note}|{author}"
    dates = {k: (m.group(1) if (m := rx.search(obj)) else "") for k, rx in _DATE.items()}
    return Highlight(
        page=page.number + 1, quads=quads, color=_hex(color) if len(color) >= 3 else HIGHLIGHT_COLORS["yellow"],
        text=text, note=note, kind=kind, author=author[:200], source="pdf",
        key=hashlib.sha1(key_src.encode("utf-8", "replace")).hexdigest(),
        created=_pdf_date(dates["CreationDate"]), updated=_pdf_date(dates["M"]))


def read_annotations(doc, limit: int = MAX_IMPORT) -> tuple[list[Highlight], int]:
    """The highlights, underlines, strike-outs, squigglies and text/free-text notes of
    ``doc`` (an open pymupdf Document), with the text under the markup ones.  Returns
    (annotations, skipped): those past ``limit`` or unreadable are skipped and counted."""
    out: list[Highlight] = []
    skipped = 0
    for pno in range(doc.page_count):
        try:
            page = doc[pno]
            xrefs = page.annot_xrefs()
        except Exception:  # a broken /Annots array
            skipped += 1
            continue
        words: list = []
        to_page = page.transformation_matrix  # PDF space -> unrotated page space
        rot = page.rotation_matrix if page.rotation else None  # -> as displayed

        def words_of(page=page, words=words):
            if not words:
                words.append(_PageWords(page))
            return words[0]

        for xref, _type, _name in xrefs:
            try:
                obj = doc.xref_object(xref, compressed=True)
                m = _SUBTYPE.search(obj)
                kind = _SUBTYPES.get(m.group(1)) if m else None
                if kind is None:
                    continue  # links, widgets, popups, ...
                if len(out) >= limit:
                    skipped += 1
                    continue
                h = _read_one(doc, page, to_page, rot, xref, obj, kind, words_of)
                if h is not None:
                    out.append(h)
            except Exception:  # one malformed annotation: skip it, keep the rest
                skipped += 1
    return out, skipped


def read_annotations_file(path: str | Path, password: str | None = None,
                          limit: int = MAX_IMPORT) -> tuple[list[Highlight], int]:
    doc = open_pdf(Path(path), password)
    try:
        return read_annotations(doc, limit)
    finally:
        doc.close()


# ---- text -> boxes ------------------------------------------------------------------

def _norm(s: str) -> str:
    return " ".join(s.split())


_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
              "\ufb05": "st", "\ufb06": "st", "\u00ad": "", "\u2010": "-", "\u2011": "-"}
_LIG_RE = re.compile("|".join(map(re.escape, _LIGATURES)))


def _plain(word: str) -> str:
    """A word as typed: ligatures spelled out, soft hyphens dropped."""
    return _LIG_RE.sub(lambda m: _LIGATURES[m.group(0)], word)


def _joined(words: list, dehyphenate: bool) -> tuple[str, list[int]]:
    """The words as one string (with each word's start); ``dehyphenate`` joins a word
    broken across lines ("distrib-" + "uted") the way the reader reads it."""
    joined, starts = "", []
    for i, w in enumerate(words):
        prev = words[i - 1] if i else None
        glued = (dehyphenate and prev is not None and joined.endswith("-") and len(joined) > 1
                 and joined[-2].isalpha() and (prev[5], prev[6]) != (w[5], w[6]) and w[4][:1].islower())
        if glued:
            joined = joined[:-1]
        elif joined:
            joined += " "
        starts.append(len(joined))
        joined += _plain(w[4])
    return joined, starts


def _locate(words: list, want: str) -> tuple[int, int] | None:
    """(first, last) word index of ``want`` in ``words``, or None."""
    for dehyphenate in (False, True):
        joined, starts = _joined(words, dehyphenate)
        for pattern, flags in ((r"(?<!\w)%s(?!\w)", 0), (r"(?<!\w)%s(?!\w)", re.I), ("%s", 0), ("%s", re.I)):
            m = re.search(pattern % re.escape(want), joined, flags)  # whole words first, then inside words
            if m:
                return (bisect.bisect_right(starts, m.start()) - 1, bisect.bisect_right(starts, m.end() - 1) - 1)
    return None


def find_text(path: str | Path, page: int, text: str, password: str | None = None) -> tuple[list, str]:
    """The boxes (one per line, as displayed) and the words of the first occurrence of
    ``text`` on ``page`` (1-based).  Whitespace and line breaks do not matter; case only
    when no exact match exists; ligatures ("ﬁ") and words hyphenated across lines match
    as typed.  The words are read in the order the page gives them, the order the window
    selects them in (a two-column page is read column by column, not across the columns);
    a visual top-to-bottom order is tried next.  BadInput when the page or the text is not there."""
    want = _norm(_plain(text or ""))
    if not want:
        raise BadInput("empty text: give the words to highlight")
    doc = open_pdf(Path(path), password)
    try:
        if not isinstance(page, int) or not 1 <= page <= doc.page_count:
            raise BadInput(f"page {page} is out of range (the paper has {doc.page_count} pages)")
        p = doc[page - 1]
        orders = [p.get_text("words", sort=False), p.get_text("words", sort=True)]
        rot = p.rotation_matrix if p.rotation else None
    finally:
        doc.close()
    for words in orders:
        span = _locate(words, want)
        if span is not None:
            break
    else:
        short = want if len(want) <= 60 else want[:57] + "..."
        raise BadInput(f"text not found on page {page}: {short!r}")
    chosen = words[span[0]:span[1] + 1]
    lines: dict[tuple[int, int], list] = {}
    for w in chosen:
        lines.setdefault((w[5], w[6]), []).append(w)
    boxes = []
    for ws in lines.values():
        r = pymupdf.Rect(min(w[0] for w in ws), min(w[1] for w in ws), max(w[2] for w in ws), max(w[3] for w in ws))
        if rot is not None:
            r = r * rot
        boxes.append((round(r.x0, 2), round(r.y0, 2), round(r.x1, 2), round(r.y1, 2)))
    return boxes, " ".join(w[4] for w in chosen)


# ---- our highlights -> an annotated copy ----------------------------------------------

def _sync_imported(doc, imported: dict) -> None:
    """In the copy: drop the PDF's own annotations deleted in the library (``imported[key]``
    is None) and give recoloured / re-noted ones their library colour and note."""
    for page in doc:
        to_page = page.transformation_matrix
        rot = page.rotation_matrix if page.rotation else None
        for xref, _type, _name in page.annot_xrefs():
            try:
                obj = doc.xref_object(xref, compressed=True)
                m = _SUBTYPE.search(obj)
                kind = _SUBTYPES.get(m.group(1)) if m else None
                found = kind and _read_one(doc, page, to_page, rot, xref, obj, kind, lambda: _NO_WORDS)
                if not found or found.key not in imported:
                    continue
                mine = imported[found.key]
                if mine is None:
                    page.delete_annot(page.load_annot(xref))
                elif mine.color != found.color or mine.note != found.note:
                    annot = page.load_annot(xref)
                    annot.set_colors(stroke=_rgb(mine.color))
                    annot.set_info(content=mine.note)
                    annot.update()
            except Exception:  # noqa: BLE001 - an odd annotation stays as the PDF had it
                continue


class _NoWords:
    @staticmethod
    def text_in(_rects) -> str:
        return ""


_NO_WORDS = _NoWords()


def write_annotated(src: str | Path, out: str | Path, highlights: list[Highlight],
                    password: str | None = None, imported: dict | None = None) -> int:
    """Write a copy of ``src`` to ``out`` with ``highlights`` as standard PDF annotations
    (Highlight / Underline / StrikeOut / Squiggly with their colour and note, Text notes).
    ``imported`` (key -> Highlight, or None when deleted) brings the library's changes to
    the PDF's own annotations into the copy.  ``src`` is never modified; ``out`` is written
    atomically (``core.files.atomic_write``: fsynced, then renamed into place).  Returns how
    many annotations were added."""
    src_p, out_p = Path(src).resolve(), Path(out).expanduser()
    if out_p.exists() and out_p.resolve() == src_p:
        raise BadInput("the annotated copy cannot replace the original PDF; choose another file name")
    if out_p.is_dir():
        raise BadInput(f"{out_p} is a folder; give a file name such as {out_p / 'annotated.pdf'}")
    if not out_p.parent.is_dir():
        raise BadInput(f"no such folder: {out_p.parent}")
    doc = open_pdf(src_p, password)
    added = 0
    try:
        if imported:
            _sync_imported(doc, imported)
        for h in highlights:
            if not 1 <= h.page <= doc.page_count:
                continue
            page = doc[h.page - 1]
            derot = page.derotation_matrix if page.rotation else None
            rects = [pymupdf.Rect(q) * derot if derot is not None else pymupdf.Rect(q) for q in h.quads]
            if not rects:
                continue
            if h.kind in _WRITERS:
                annot = getattr(page, _WRITERS[h.kind])(quads=[r.quad for r in rects])
            else:
                annot = page.add_text_annot(rects[0].tl, h.note or h.text or " ")
            annot.set_colors(stroke=_rgb(h.color))
            annot.set_info(content=h.note or "", title=h.author or AUTHOR)
            annot.update()
            added += 1
        try:  # the whole copy in memory, then one durable write (fsynced, renamed into place)
            atomic_write(out_p, doc.tobytes(garbage=1, deflate=True))
        except (OSError, RuntimeError, ValueError) as exc:
            raise BadInput(f"cannot write {out_p}: {getattr(exc, 'strerror', None) or short_text(exc)}") from None
    except PdfError:
        raise
    finally:
        doc.close()
    return added


# ---- rects from another reader (Zotero) -> boxes as displayed ---------------------------

def place_rects(path: str | Path, marks: list[tuple[int, list]], password: str | None = None) -> list:
    """For each ``(page_index, rects)`` (0-based page; rects ``[x0, y0, x1, y1]`` in PDF
    points, origin bottom left, as Zotero keeps them): ``(page, boxes, text)`` with the
    boxes as displayed (1-based page, clipped to the page) and the words under them, or a
    one-line reason string when the position cannot be used (off the page, malformed)."""
    doc = open_pdf(Path(path), password)
    out: list = []
    pages: dict[int, tuple] = {}
    try:
        for page_index, rects in marks:
            if isinstance(page_index, bool) or not isinstance(page_index, int) or not 0 <= page_index < doc.page_count:
                out.append(f"page {page_index!r} is not in the PDF")
                continue
            if page_index not in pages:
                page = doc[page_index]
                pages[page_index] = (page, page.transformation_matrix,
                                     page.rotation_matrix if page.rotation else None, [],
                                     pymupdf.Rect(0, 0, page.cropbox.width, page.cropbox.height))
            page, to_page, rot, words, area = pages[page_index]
            shown = []
            try:
                for r in rects or []:
                    x0, y0, x1, y1 = (float(v) for v in r)
                    box = (pymupdf.Rect(x0, y0, x1, y1) * to_page).normalize() & area
                    if box.is_valid and not box.is_empty and all(abs(v) < 1e6 for v in box):
                        shown.append(box)
            except (TypeError, ValueError):
                out.append("a position rect is not four numbers")
                continue
            if not shown:
                out.append("the position is off the page" if rects else "the position has no rects")
                continue
            if not words:
                words.append(_PageWords(page))
            text = words[0].text_in(shown)
            boxes = [(round(b.x0, 2), round(b.y0, 2), round(b.x1, 2), round(b.y1, 2))
                     for b in ((b * rot if rot is not None else b) for b in shown)]
            out.append((page_index + 1, boxes, text))
    finally:
        doc.close()
    return out
