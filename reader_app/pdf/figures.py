"""Text inside figures and tables -> paragraph kind ``"figure"``.

Axis labels, diagram boxes and table cells come out of the text layer like any other
text. They are found from the page's graphics, read once per page:

* figure regions: clusters of vector shapes (at least 4 paths of 3 or more different
  x-extents: a single frame or a code listing's stacked background bands is not a
  figure) or an image (not a full-page scan), widened a little for tick labels, and
  down to a "Figure N:" caption right below;
* table regions: 2 or more horizontal rules of the same x-extent (booktabs: top rule,
  mid rule, bottom rule), split at headings, captions and prose; the text between the
  top and the bottom rule is the table.  A region needs a "Table N" caption next to it,
  or 3 rules; an "Algorithm N" block with rules is not a table.

Precision first: a paragraph in a region stays body when it reads as prose (25+ words,
ends a sentence, few numbers) and spans most of the region's width (a framed prose box,
a ruled algorithm description); code listings (monospaced) stay body outside images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reader_app.core.text import ends_sentence

Rect = tuple[float, float, float, float]

RULE_MAX_H = 2.0  # a rule is thinner than this ...
RULE_MIN_W = 100.0  # ... and wider than this (points); shorter lines are drawing strokes
SAME_EXTENT = 3.0  # rules of one table start and end within this many points
CLUSTER_GAP = 8.0  # shapes closer than this belong to one figure
LABEL_MARGIN = 14.0  # tick labels and axis titles sit this far outside the drawing
MIN_SHAPES = 4
MIN_EXTENTS = 3
MIN_IMAGE = 20.0  # images smaller than this (both sides) are glyphs or icons alone
PROSE_WORDS = 25
MAX_DRAWINGS = 20000  # per page: a map or a dense scatter plot is read in part only
WIDE = 0.8  # prose spanning this share of a region's width is the page's own text

_TABLE_CAP = re.compile(r"^(table|tab)\.?\s*(?:[A-Z]\.?)?\d+", re.IGNORECASE)
_FIG_CAP = re.compile(r"^(fig(?:ure)?)\.?\s*(?:[A-Z]\.?)?\d+", re.IGNORECASE)
_OTHER_CAP = re.compile(r"^(algorithm|listing|procedure)\s*\d+", re.IGNORECASE)
_MARKER = re.compile(r"^(?:[•◦▪‣∙●○■□–—*-]|\(?\d{1,2}[.)]|\(?[a-z][.)])$")
_NUMERIC = re.compile(r"^[-+±(]?[\d.,%]+[)%*]?$")


@dataclass
class PageGraphics:
    rules: list[Rect] = field(default_factory=list)  # thin horizontal lines
    shapes: list[Rect] = field(default_factory=list)  # other vector paths
    images: list[Rect] = field(default_factory=list)


@dataclass
class Region:
    rect: Rect
    kind: str  # "table" | "figure"
    image: bool = False


def _near_white(c) -> bool:
    return c is not None and len(c) >= 1 and all(v >= 0.92 for v in c)


def page_graphics(page, drawings=None, log=None) -> PageGraphics:
    """Rules, shapes and images of a page (``drawings`` / ``log``: already read)."""
    g = PageGraphics()
    area = max(1.0, page.rect.width * page.rect.height)
    if drawings is None:
        drawings = page.get_cdrawings()
    for d in drawings[:MAX_DRAWINGS]:
        items = d.get("items") or ()
        if d.get("type") == "f" and _near_white(d.get("fill")):
            continue  # white fill on a white page: nothing to see
        if items and all(it[0] == "l" for it in items):
            for it in items:  # a grid drawn as one path: each line on its own
                (ax, ay), (bx, by) = it[1], it[2]
                _add(g, (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)), area)
            continue
        if len(items) == 1 and items[0][0] == "re":
            x0, y0, x1, y1 = items[0][1]  # not normalised: a rect may be drawn right to left
            _add(g, (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), area)
            continue
        _add(g, tuple(d["rect"]), area)
    if log is None:
        # images are only in the painting log, which costs about a sixth of the text
        # extraction: read it only where the page uses images (image masks included:
        # some TeX drivers paint table rules as 1x1 image masks stretched)
        log = page.get_bboxlog() if page.get_images(full=True) or _INLINE_IMAGE.search(_contents(page)) else ()
    for kind, r in log:
        if "image" in kind or "imgmask" in kind or "shade" in kind:
            w, h = r[2] - r[0], r[3] - r[1]
            if h < RULE_MAX_H and w >= RULE_MIN_W:
                g.rules.append(tuple(r))  # some TeX drivers paint rules as image masks
            elif min(w, h) >= MIN_IMAGE and w * h < 0.5 * area:
                g.images.append(tuple(r))
    return g


def _add(g: PageGraphics, r: Rect, page_area: float) -> None:
    w, h = r[2] - r[0], r[3] - r[1]
    if h < RULE_MAX_H and w >= RULE_MIN_W:
        g.rules.append(r)
    elif w * h < 0.5 * page_area:
        g.shapes.append(r)


# -- regions -------------------------------------------------------------------------
def _near(a, b, gap: float) -> bool:
    return a[0] <= b[2] + gap and a[2] >= b[0] - gap and a[1] <= b[3] + gap and a[3] >= b[1] - gap


def _grow(box: list[float], r) -> None:
    box[:] = [min(box[0], r[0]), min(box[1], r[1]), max(box[2], r[2]), max(box[3], r[3])]


def _cluster(rects: list[Rect], gap: float) -> list[list[Rect]]:
    """Rects whose boxes come within ``gap`` of each other, top to bottom: a cluster
    ending above the next rect (less the gap) is closed, so each rect meets only the
    few clusters still open around it."""
    active: list[tuple[list[float], list[Rect]]] = []
    done: list[tuple[list[float], list[Rect]]] = []
    last = None
    purged = -1e9
    for r in sorted(rects, key=lambda q: q[1]):
        if last is not None:
            b = last[0]
            if b[0] <= r[0] and b[1] <= r[1] and r[2] <= b[2] and r[3] <= b[3]:
                last[1].append(r)  # inside the box just grown (dense plots): nothing changes
                continue
        if r[1] - purged > gap:
            purged = r[1]
            done.extend(c for c in active if c[0][3] < r[1] - gap)
            active = [c for c in active if c[0][3] >= r[1] - gap]
        hits = [c for c in active if _near(r, c[0], gap)]
        if not hits:
            last = ([*r], [r])
            active.append(last)
            continue
        last = hits[0]
        box, members = last
        for other in hits[1:]:
            members.extend(other[1])
            _grow(box, other[0])
        if len(hits) > 1:
            drop = {id(h) for h in hits[1:]}
            active = [c for c in active if id(c) not in drop]
        members.append(r)
        _grow(box, r)
    clusters = done + active
    # a box that grew sideways may now reach another: settle
    changed = True
    while changed and len(clusters) > 1:
        changed = False
        out: list[tuple[list[float], list[Rect]]] = []
        for c in sorted(clusters, key=lambda q: q[0][1]):
            for o in out:
                if _near(c[0], o[0], gap):
                    _grow(o[0], c[0])
                    o[1].extend(c[1])
                    changed = True
                    break
            else:
                out.append(c)
        clusters = out
    return [members for _, members in clusters]


def figure_regions(g: PageGraphics) -> list[Region]:
    out = []
    image_ids = {id(r) for r in g.images}
    for members in _cluster(g.shapes + g.images, CLUSTER_GAP):
        box = (min(r[0] for r in members), min(r[1] for r in members),
               max(r[2] for r in members), max(r[3] for r in members))
        for r in g.rules:  # a plot's frame lines and grid belong to it
            if r[0] <= box[2] + CLUSTER_GAP and r[2] >= box[0] - CLUSTER_GAP and box[1] - CLUSTER_GAP <= r[1] <= box[3] + CLUSTER_GAP:
                box = (min(box[0], r[0]), box[1], max(box[2], r[2]), box[3])
        has_image = any(id(r) in image_ids for r in members)
        shapes = [r for r in members if id(r) not in image_ids]
        extents = {(round(r[0] / 3), round(r[2] / 3)) for r in shapes}
        big = box[2] - box[0] >= 40 and box[3] - box[1] >= 25
        if has_image or (big and len(shapes) >= MIN_SHAPES and len(extents) >= MIN_EXTENTS):
            out.append(Region(box, "figure", has_image))
    return out


def table_regions(rules: list[Rect], paras: list, page_h: float, lefts: set[int] = frozenset()) -> list[Region]:
    """Runs of same-extent rules; ``paras`` (this page's) split runs and name captions;
    ``lefts``: the text columns' left edges (a heading there ends a table)."""
    groups: list[list[Rect]] = []
    for r in sorted(rules, key=lambda q: (round(q[0]), q[1])):
        for grp in groups:
            if abs(grp[0][0] - r[0]) <= SAME_EXTENT and abs(grp[0][2] - r[2]) <= SAME_EXTENT:
                grp.append(r)
                break
        else:
            groups.append([r])
    out = []
    for grp in groups:
        grp.sort(key=lambda q: q[1])
        run = [grp[0]]
        for r in grp[1:]:
            if _barrier(paras, run[-1], r, lefts):
                out.extend(_accept(run, paras, page_h))
                run = [r]
            else:
                run.append(r)
        out.extend(_accept(run, paras, page_h))
    return out


def _between(p, x0: float, x1: float, y0: float, y1: float) -> bool:
    b = _bb(p)
    return b[1] >= y0 - 1 and b[3] <= y1 + 1 and min(b[2], x1) - max(b[0], x0) > 0.5 * (b[2] - b[0])


def _barrier(paras, top: Rect, bottom: Rect, lefts) -> bool:
    width = top[2] - top[0]
    for p in paras:
        if not _between(p, top[0], top[2], top[3], bottom[1]):
            continue
        if p.kind == "caption" or (_prose(p) and _bb(p)[2] - _bb(p)[0] >= WIDE * width):
            return True
        if p.kind == "heading" and (_real_heading(p) or _on_edge(_bb(p)[0], lefts)):
            return True  # (bold table cells are often read as headings)
    return False


def _real_heading(p) -> bool:
    return bool(p.extra.get("title") or p.extra.get("num") or p.numbered)


def _accept(run: list[Rect], paras, page_h: float) -> list[Region]:
    if len(run) < 2:
        return []
    x0, x1 = min(r[0] for r in run), max(r[2] for r in run)
    top, bottom = run[0][1], run[-1][3]
    if bottom - top > 0.85 * page_h:
        return []
    inside = [p for p in paras if _between(p, x0, x1, top, bottom)]
    if inside and _OTHER_CAP.match(inside[0].text):
        return []  # a ruled algorithm / listing block
    caption = None
    for p in paras:
        b = _bb(p)
        if p.kind != "caption" or min(b[2], x1) - max(b[0], x0) < 0.3 * min(b[2] - b[0], x1 - x0):
            continue
        if -2 <= top - b[3] <= 40 or -2 <= b[1] - bottom <= 40:
            caption = p
            break
    if caption is not None and not _TABLE_CAP.match(caption.text):
        if _OTHER_CAP.match(caption.text):
            return []
    elif caption is None and (len(run) < 3 or not _tabular(inside)):
        return []  # rules alone: only with columns or figures between them (not a ruled form)
    return [Region((x0, top, x1, bottom), "table")]


def _cells(ln) -> int:
    """Pieces of a line cut at wide gaps, not counting a list item's bullet or number."""
    parts = ln.parts
    if parts and _MARKER.match(parts[0]):
        parts = parts[1:]
    return len(parts)


def _tabular(paras) -> bool:
    """Columns side by side, rows cut at wide gaps, or mostly numbers."""
    lines = [ln for p in paras for ln in p.lines]
    if not lines:
        return False
    if sum(1 for ln in lines if _cells(ln) >= 2) >= 0.4 * len(lines):
        return True
    boxes = [_bb(p) for p in paras]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if min(a[3], b[3]) - max(a[1], b[1]) > 2 and (a[2] <= b[0] or b[2] <= a[0]):
                return True
    words = [w for p in paras for w in p.text.split()]
    return sum(1 for w in words if _NUMERIC.match(w)) >= 0.3 * max(1, len(words))


# -- paragraphs ----------------------------------------------------------------------
def _bb(p) -> Rect:
    """A paragraph's box, computed once (its lines no longer change here)."""
    b = p.extra.get("bbox")
    if b is None:
        b = p.extra["bbox"] = p.bbox
    return b


def _prose(p) -> bool:
    """Reads as running text: enough words, ends a sentence, mostly not numbers."""
    cached = p.extra.get("prose")
    if cached is None:
        words = p.text.split()
        if len(words) < PROSE_WORDS or not ends_sentence(p.text):
            cached = False
        else:
            cached = sum(1 for w in words if _NUMERIC.match(w)) < 0.2 * len(words)
        p.extra["prose"] = cached
    return cached


def _inside(b: Rect, r: Rect, margin: float) -> float:
    """Share of ``b``'s area within ``r`` widened by ``margin``."""
    ix = min(b[2], r[2] + margin) - max(b[0], r[0] - margin)
    iy = min(b[3], r[3] + margin) - max(b[1], r[1] - margin)
    area = max(1e-6, (b[2] - b[0]) * (b[3] - b[1]))
    if ix <= 0 or iy <= 0:
        return 0.0
    return ix * iy / area


def _with_caption(region: Region, paras) -> Region:
    """A figure's labels and legend may reach down to its caption: widen to it."""
    x0, y0, x1, y1 = region.rect
    best = None
    for p in paras:
        b = _bb(p)
        if p.kind == "caption" and _FIG_CAP.match(p.text) and 0 <= b[1] - y1 <= 60:
            if min(b[2], x1) - max(b[0], x0) > 0.3 * (x1 - x0) and (best is None or b[1] < best):
                best = b[1]
    if best is None:
        return region
    return Region((x0, y0, x1, best), region.kind, region.image)


def _column_edges(paras: list) -> tuple[set[int], set[int]]:
    """Left and right edges (points, rounded) of prose paragraphs on 3 or more pages
    (all pages, in a shorter paper): the text columns, not one table's cells."""
    lefts: dict[int, set] = {}
    rights: dict[int, set] = {}
    pages = set()
    for p in paras:
        if p.kind == "body" and _prose(p):
            b = _bb(p)
            pages.add(p.page)
            lefts.setdefault(round(b[0]), set()).add(p.page)
            rights.setdefault(round(b[2]), set()).add(p.page)
    need = max(1, min(3, len(pages)))
    return ({x for x, n in lefts.items() if len(n) >= need}, {x for x, n in rights.items() if len(n) >= need})


def _on_edge(x: float, edges: set[int]) -> bool:
    return any(abs(x - e) <= 2.5 for e in edges)


def mark(paras: list, graphics: dict[int, PageGraphics], page_heights: dict[int, float],
         page_widths: dict[int, float] | None = None) -> int:
    """Set kind "figure" on body / footnote paragraphs inside figures and tables."""
    by_page: dict[int, list] = {}
    for p in paras:
        by_page.setdefault(p.page, []).append(p)
    lefts, rights = _column_edges(paras)
    count = 0
    for num, page_paras in by_page.items():
        g = graphics.get(num)
        if g is None or not (g.rules or g.shapes or g.images):
            continue
        regions = table_regions(g.rules, page_paras, page_heights.get(num, 792.0), lefts)
        regions += [_with_caption(r, page_paras) for r in figure_regions(g)]
        if not regions:
            continue
        mid = (page_widths or {}).get(num, 612.0) / 2
        for p in page_paras:
            b = _bb(p)
            if p.kind == "heading" and not _real_heading(p) and not _on_edge(b[0], lefts):
                if any(_inside(b, r.rect, 0.0) >= 0.9 for r in regions):
                    p.kind = "figure"  # a bold table cell or figure label read as a heading
                    count += 1
                continue
            if p.kind not in ("body", "footnote"):
                continue
            if _prose(p) and _on_edge(b[0], lefts) and _on_edge(b[2], rights):
                continue  # a paragraph set in the page's own column: never a figure
            if _figure_text(p, regions) or _axis_label(p, regions, mid):
                p.kind = "figure"
                count += 1
    return count


def _label_like(p) -> bool:
    words = p.text.split()
    return len(words) <= 12 and not ends_sentence(p.text) and len(p.lines) <= 8


def _axis_label(p, regions: list[Region], mid: float) -> bool:
    """A short label beside a drawing (y-axis names, x-axis title) on its side of the page."""
    if not _label_like(p):
        return False
    b = _bb(p)
    for r in regions:
        if r.kind != "figure":
            continue
        x0, y0, x1, y1 = r.rect
        if x1 <= mid + 5 and b[2] > mid + 5 or x0 >= mid - 5 and b[0] < mid - 5:
            continue  # the other column
        if _inside(b, (x0 - 50, y0, x1 + 50, y1), 2.0) >= 0.9:
            return True  # left or right of the drawing, within its height
        if _inside(b, (x0, y0, x1, y1 + 30), 2.0) >= 0.9:
            return True  # just below it (an x-axis title), within its width
    return False


def _figure_text(p, regions: list[Region]) -> bool:
    b = _bb(p)
    for r in regions:
        margin = 2.0 if r.kind == "table" else LABEL_MARGIN
        if _inside(b, r.rect, margin) < 0.7:
            continue
        width = r.rect[2] - r.rect[0]
        if _prose(p) and b[2] - b[0] >= WIDE * width:
            continue  # a framed prose box: the page's own text
        if r.kind == "figure" and not r.image and sum(ln.mono for ln in p.lines) > len(p.lines) / 2:
            continue  # a code listing on drawn background bands
        return True
    return False


_INLINE_IMAGE = re.compile(rb"(^|\s)BI\s")


def _contents(page) -> bytes:
    """The page's content stream (inline images, ``BI ... EI``, are not in get_images)."""
    try:
        return page.read_contents() or b""
    except Exception:
        return b""
