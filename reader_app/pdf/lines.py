"""One page -> visible text lines, with the hidden-text filter.

A span a reader cannot see is dropped and its reason recorded:
``invisible`` (render mode 3 / fully transparent), ``background`` (fill colour equal to
or near the page background), ``tiny`` (under 2 pt), ``off-page`` (outside the page
box), ``clipped`` (clipped away by a clipping path) and ``covered`` (an opaque box
painted over it later: drawing order from the ``seqno`` of ``get_cdrawings`` and
``get_texttrace``; a box painted first is a background, the text on it stays).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pymupdf

# Flags: keep whitespace, expand ligatures, do *not* clip to the media box (we want to
# see off-page text so we can report it), no images.
FLAGS_ALL = pymupdf.TEXT_PRESERVE_WHITESPACE
FLAGS_CLIPPED = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_CLIP | pymupdf.TEXT_MEDIABOX_CLIP

SUPERSCRIPT = 1
ITALIC = 2
BOLD = 16
CHAR_FILLED = 16
CHAR_STROKED = 32

MIN_SIZE = 2.0
NEAR_WHITE = 0.92  # each channel at least this bright -> same as a white page
MIN_ALPHA = 26  # of 255
COVERED = 0.9  # share of a span's box an opaque box must cover to hide it

# footnote / affiliation markers printed as superscripts
_BOLD_FONT = re.compile(r"bold|-bd|medi|semibold|heavy|black|demi", re.IGNORECASE)
_MONO_FONT = re.compile(r"mono|courier|consol|typewriter|cmtt|menlo|code", re.IGNORECASE)
_BROKEN_LIGATURE = re.compile(r"(?<=[A-Za-z])\ufffd(?=[a-z])|^\ufffd(?=[a-z])|(?<=\s)\ufffd(?=[a-z])")
_MARKER = re.compile(r"[\d\W\u0370-\u03ffa-z]{1,6}")


@dataclass(slots=True)
class Line:
    page: int  # 1-based
    block: int  # page-local block number
    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    size: float  # dominant font size (by characters)
    bold: float  # fraction of characters in bold
    parts: list[str] = field(default_factory=list)  # text split at markers / big gaps
    marker_start: bool = False  # line starts with a superscript marker (footnotes)
    mono: bool = False
    col: int = 0  # 0 full width, 1 left column, 2 right column (set by layout)
    ocr: str = ""  # "layer" (a scan's own OCR text) or "tesseract": sizes are estimates

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)


@dataclass
class PageText:
    number: int  # 1-based
    width: float
    height: float
    lines: list[Line]
    vertical: list[str]  # rotated text (e.g. the arXiv stamp in the margin)
    hidden: set[str]  # reasons for which spans were removed on this page
    raw_text: str  # every visible horizontal line, for id/DOI search
    # what the filter already read, reused by the figure detector (None: not read)
    drawings: list | None = None  # page.get_cdrawings()
    log: list | None = None  # page.get_bboxlog() as (kind, rect)
    ocr: str = ""  # "layer": the scan's own invisible OCR text; "tesseract": OCR'd here


def _rgb(color: int) -> tuple[float, float, float]:
    return ((color >> 16) & 255) / 255.0, ((color >> 8) & 255) / 255.0, (color & 255) / 255.0


def _area(b) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def _outside(b, page_rect) -> bool:
    ix0, iy0 = max(b[0], page_rect.x0), max(b[1], page_rect.y0)
    ix1, iy1 = min(b[2], page_rect.x1), min(b[3], page_rect.y1)
    inter = max(0.0, ix1 - ix0) * max(0.0, iy1 - iy0)
    a = _area(b)
    if a <= 0:
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        return not (page_rect.x0 <= cx <= page_rect.x1 and page_rect.y0 <= cy <= page_rect.y1)
    return inter < 0.5 * a


def _drawings(page) -> list:
    try:
        return page.get_cdrawings()
    except Exception:
        return []


def _fills(drawings: list) -> tuple[list, list, list]:
    """Filled areas of a page: (plain boxes, everything painted, opaque boxes).

    Plain boxes are (x0, y0, x1, y1, area, rgb), smallest first: text sits on the
    innermost box containing it, or on the white page.  "Everything painted" is the
    rects of all non-white fills and images: near-white text on any of them may be
    visible (figure labels on coloured shapes or photos), so it is not flagged.
    Opaque boxes are (x0, y0, x1, y1, seqno): fully opaque plain boxes, which hide any
    text painted before them (smaller ``seqno``) underneath.
    """
    boxes, painted, opaque = [], [], []
    for d in drawings:
        fill = d.get("fill")
        opacity = d.get("fill_opacity")
        if not fill or (opacity if opacity is not None else 1) < 0.3:
            continue
        rgb = tuple(fill[:3]) if len(fill) >= 3 else (fill[0],) * 3
        x0, y0, x1, y1 = d["rect"]
        if not all(c >= NEAR_WHITE for c in rgb):
            painted.append((x0, y0, x1, y1))
        items = d.get("items") or ()
        if len(items) != 1 or items[0][0] not in ("re", "qu") or (opacity if opacity is not None else 1) < 0.9:
            continue  # only plain opaque boxes: a path's rect is the union of all its pieces
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue  # rules and hairlines, not backgrounds
        boxes.append((x0, y0, x1, y1, (x1 - x0) * (y1 - y0), rgb))
        if (opacity if opacity is not None else 1) >= 0.99 and d.get("seqno") is not None:
            opaque.append((x0, y0, x1, y1, d["seqno"]))
    boxes.sort(key=lambda f: f[4])
    return boxes, painted, opaque


_BAND = 24.0  # points: opaque boxes are indexed by the horizontal bands they cross


def _cover_index(opaque) -> dict:
    """Opaque boxes by band of the page (a box covering a span contains its centre)."""
    index: dict[int, list] = {}
    for b in opaque:
        for k in range(int(b[1] // _BAND), int(b[3] // _BAND) + 1):
            index.setdefault(k, []).append(b)
    return index


def _covering(index: dict, bbox) -> int:
    """The latest ``seqno`` of an opaque box covering ``bbox`` (-1: none)."""
    a = _area(bbox)
    best = -1
    if a <= 0:
        return best
    for x0, y0, x1, y1, seq in index.get(int((bbox[1] + bbox[3]) / 2 // _BAND), ()):
        ix = min(x1, bbox[2]) - max(x0, bbox[0])
        iy = min(y1, bbox[3]) - max(y0, bbox[1])
        if ix > 0 and iy > 0 and ix * iy >= COVERED * a and seq > best:
            best = seq
    return best


def _real_covers(opaque, texts) -> dict:
    """The index of the opaque boxes painted over some earlier text (only those can hide
    any): backgrounds painted before all text under them, the common case, drop out."""
    keep = []
    for b in opaque:
        for i, tb in texts:
            if i > b[4]:
                break
            if min(b[2], tb[2]) > max(b[0], tb[0]) and min(b[3], tb[3]) > max(b[1], tb[1]):
                keep.append(b)
                break
    return _cover_index(keep)


def _bboxlog(page) -> list:
    """(kind, rect) of everything painted, in painting order: the index is the ``seqno``
    of ``get_cdrawings`` / ``get_texttrace`` (and far cheaper than the text trace)."""
    try:
        return [(kind, tuple(r)) for kind, r in page.get_bboxlog()]
    except Exception:
        return []


def _images(log) -> list:
    return [r for kind, r in log if "image" in kind or "shade" in kind]


def _texts(log) -> list:
    """(seqno, rect) of the visible text runs, in painting order."""
    return [(i, r) for i, (kind, r) in enumerate(log) if kind in ("fill-text", "stroke-text")]


def _painted_before(texts, bbox, seq: int) -> bool:
    """Was the text at ``bbox`` painted before ``seq`` (so an opaque box with ``seq`` hides it)?

    Invisible text ("ignore-text") does not count, and a later mark must cover a good
    part of the span: a dot painted on top does not make the rest visible.
    """
    a = _area(bbox)
    found = False
    for i, tb in texts:
        ix = min(tb[2], bbox[2]) - max(tb[0], bbox[0])
        iy = min(tb[3], bbox[3]) - max(tb[1], bbox[1])
        if ix <= 0 or iy <= 0:
            continue
        if i > seq:
            if ix * iy >= 0.3 * a:
                return False  # (much of) this text is painted on top of the box
        elif ix * iy >= 0.3 * min(a, _area(tb)):
            found = True
    return found


def _background(boxes, bbox) -> tuple:
    cx, cy = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
    for x0, y0, x1, y1, _, rgb in boxes:
        if x0 <= cx <= x1 and y0 <= cy <= y1:
            return rgb
    return (1.0, 1.0, 1.0)


def _on_painted(painted, bbox) -> bool:
    a = _area(bbox)
    for r in painted:
        ix = min(r[2], bbox[2]) - max(r[0], bbox[0])
        iy = min(r[3], bbox[3]) - max(r[1], bbox[1])
        if ix > 0 and iy > 0 and ix * iy >= 0.3 * a:
            return True
    return False


def _same_colour(a, b) -> bool:
    return max(abs(x - y) for x, y in zip(a, b)) < 1.0 - NEAR_WHITE + 0.005


def _span_key(s) -> tuple:
    o = s["origin"]
    return (s["text"].strip(), round(o[0]), round(o[1]))


def _nonspace(text: str) -> int:
    return len(text) - text.count(" ") - text.count("\n") - text.count("\t")


def read_page(page, number: int, ocr_layer: bool = False) -> PageText:
    """The page's visible lines.  ``ocr_layer``: the page is a scanned image whose text
    layer is invisible OCR text laid over it (a "sandwich" PDF): that text is read as
    the page's text, with only the size and off-page checks."""
    rect = page.rect
    d = page.get_text("dict", flags=FLAGS_ALL, clip=pymupdf.INFINITE_RECT())  # off-page text too
    blocks = [b for b in d.get("blocks", ()) if b.get("type") == 0]

    # Clipped text: compare with an extraction that drops clipped / off-page glyphs.
    all_chars = sum(_nonspace(s["text"]) for b in blocks for ln in b["lines"] for s in ln["spans"])
    clipped_keys: set | None = None
    if all_chars:
        kept = _nonspace(page.get_text("text", flags=FLAGS_CLIPPED))
        if kept < all_chars:
            d2 = page.get_text("dict", flags=FLAGS_CLIPPED)
            present = {
                _span_key(s) for b in d2.get("blocks", ()) if b.get("type") == 0
                for ln in b["lines"] for s in ln["spans"]
            }
            clipped_keys = present

    hidden: set[str] = set()
    fills = images = log = covers = texts = drawings = None
    lines: list[Line] = []
    vertical: list[str] = []
    vlines: list[Line] = []
    for b in blocks:
        bno = b.get("number", 0)
        for ln in b["lines"]:
            dx, dy = ln.get("dir", (1.0, 0.0))
            horizontal = abs(dx) > 0.99 and abs(dy) < 0.1
            vis = []
            for s in ln["spans"]:
                t = s["text"]
                if not t.strip():
                    vis.append(s)
                    continue
                reason = None
                if ocr_layer:
                    reason = "tiny" if s["size"] < MIN_SIZE else ("off-page" if _outside(s["bbox"], rect) else None)
                elif s.get("alpha", 255) < MIN_ALPHA or not (s.get("char_flags", CHAR_FILLED) & (CHAR_FILLED | CHAR_STROKED)):
                    reason = "invisible"
                elif s["size"] < MIN_SIZE:
                    reason = "tiny"
                elif _outside(s["bbox"], rect):
                    reason = "off-page"
                elif clipped_keys is not None and _span_key(s) not in clipped_keys:
                    reason = "clipped"
                else:
                    if fills is None:
                        drawings = _drawings(page)
                        fills = _fills(drawings)
                        covers = _cover_index(fills[2])
                    seq = _covering(covers, s["bbox"]) if covers else -1
                    if seq >= 0 and texts is None:  # under an opaque box: read the painting order
                        log = _bboxlog(page) if log is None else log
                        texts = _texts(log)
                        covers = _real_covers(fills[2], texts)
                        seq = _covering(covers, s["bbox"])
                    if seq >= 0 and _painted_before(texts, s["bbox"], seq):
                        reason = "covered"  # painted before an opaque box on top of it
                    colour = _rgb(s.get("color", 0))
                    bg = _background(fills[0], s["bbox"]) if reason is None else None
                    if bg is not None and _same_colour(colour, bg):
                        if all(c >= NEAR_WHITE for c in bg):  # white on white, unless on a shape/image
                            if images is None:
                                log = _bboxlog(page) if log is None else log
                                images = _images(log)
                            if not (_on_painted(fills[1], s["bbox"]) or _on_painted(images, s["bbox"])):
                                reason = "background"
                        else:
                            reason = "background"
                if reason:
                    hidden.add(reason)
                else:
                    vis.append(s)
            if not any(s["text"].strip() for s in vis):
                continue
            if not horizontal:
                vertical.append("".join(s["text"] for s in vis))
                vline = _make_line(vis, number, bno)
                if vline is not None:
                    vline.block = 100000 + len(vlines)  # one row per paragraph: no row merging
                    vlines.append(vline)
                continue
            line = _make_line(vis, number, bno)
            if line is not None:
                if ocr_layer:
                    line.ocr, line.mono, line.text = "layer", False, ocr_digits(line.text)
                lines.append(line)
    if sum(len(v.text) for v in vlines) > max(200, sum(len(ln.text) for ln in lines)):
        lines.extend(vlines)  # a sideways page (rotated table): keep its text rather than lose it
    raw = "\n".join(ln.text for ln in lines)
    return PageText(number, rect.width, rect.height, lines, vertical, hidden, raw, drawings, log)


_OCR_ONE = re.compile(r"\b[Il](?=,\s*\d)|(?<=\d,\s)[Il]\b|(?<=\d, and\s)[Il]\b")


def ocr_digits(text: str) -> str:
    """OCR's "I" or "l" for a 1 in a list of numbers: "Algorithms I, 2, and 3" -> "1, 2, and 3"."""
    return _OCR_ONE.sub("1", text) if ("I" in text or "l" in text) and "," in text else text


def _make_line(spans, number: int, bno: int) -> Line | None:
    pieces: list[str] = []
    parts: list[str] = []
    cur = ""
    sizes: dict[float, int] = {}
    bold = total = 0
    mono = 0
    x0 = y0 = 1e9
    x1 = y1 = -1e9
    marker_start = False
    prev_x1 = None
    for i, s in enumerate(spans):
        t = s["text"]
        st = t.strip()
        bb = s["bbox"]
        if st and s["flags"] & SUPERSCRIPT and _MARKER.fullmatch(st) and len(spans) > 1:
            # footnote / affiliation marker: drop from the text, but split there
            if not pieces or not "".join(pieces).strip():
                marker_start = True
            if cur.strip():
                parts.append(cur.strip())
            cur = ""
            prev_x1 = bb[2]
            continue
        if prev_x1 is not None and st and bb[0] - prev_x1 > 1.5 * s["size"]:
            if cur.strip():
                parts.append(cur.strip())
            cur = ""
            if pieces and not pieces[-1].endswith(" "):
                pieces.append(" ")
        pieces.append(t)
        cur += t
        if st:
            n = len(st)
            sz = round(s["size"] * 2) / 2
            sizes[sz] = sizes.get(sz, 0) + n
            total += n
            if s["flags"] & BOLD or _BOLD_FONT.search(s["font"]):
                bold += n
            if s["flags"] & 8 or _MONO_FONT.search(s["font"]):
                mono += n
            x0, y0 = min(x0, bb[0]), min(y0, bb[1])
            x1, y1 = max(x1, bb[2]), max(y1, bb[3])
            prev_x1 = bb[2]
    if cur.strip():
        parts.append(cur.strip())
    text = " ".join("".join(pieces).split())
    if "\ufffd" in text:  # a ligature without a Unicode mapping: "fi" is by far the most common
        text = _BROKEN_LIGATURE.sub("fi", text)
    if not text or total == 0:
        return None
    size = max(sizes.items(), key=lambda kv: kv[1])[0]
    return Line(number, bno, x0, y0, x1, y1, text, size, bold / total, parts, marker_start, mono > total / 2)
