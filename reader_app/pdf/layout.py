"""Page layout: visual lines, columns, reading order, running headers and footers.

Pure Python over ``lines.Line`` records; no pymupdf here.
"""

from __future__ import annotations

import re
from collections import defaultdict

from reader_app.pdf.lines import Line, PageText

MARGIN = 0.085  # top/bottom fraction of the page where running heads live
_PAGE_NO = re.compile(
    r"^(?:page\s*)?(?:\d{1,4}|(?=[ivxlc]+$)x{0,3}(?:ix|iv|v?i{0,3}))"
    r"(?:\s*(?:of|/)\s*\d{1,4})?$|^[-–—]\s*\d{1,4}\s*[-–—]$",
    re.IGNORECASE,
)


def merge_rows(lines: list[Line]) -> list[Line]:
    """Merge MuPDF lines of one block that sit on the same visual row.

    Justified LaTeX text often comes out one word per "line"; sub/superscripts too.
    """
    by_block: dict[int, list[Line]] = defaultdict(list)
    for ln in lines:
        by_block[ln.block].append(ln)
    out: list[Line] = []
    for blk in by_block.values():
        rows: list[Line] = []
        for ln in sorted(blk, key=lambda l: (l.y0 + l.y1) / 2):
            placed = False
            for r in reversed(rows[-3:]):
                ov = min(r.y1, ln.y1) - max(r.y0, ln.y0)
                if ov >= 0.5 * min(r.height, ln.height) and (ln.x0 >= r.x1 - 1 or ln.x1 <= r.x0 + 1):
                    _join_into(r, ln)
                    placed = True
                    break
            if not placed:
                rows.append(Line(**{f: getattr(ln, f) for f in Line.__slots__}))
        out.extend(rows)
    return out


def _join_into(r: Line, ln: Line) -> None:
    first, second = (r, ln) if ln.x0 >= r.x0 else (ln, r)
    gap = second.x0 - first.x1
    sep = "" if gap < 0.12 * max(first.size, 1) and first.text[-1:].isalnum() and second.text[:1].isalnum() else " "
    text = first.text + sep + second.text
    parts = first.parts + second.parts
    marker = first.marker_start
    n1, n2 = len(r.text), len(ln.text)
    r.bold = (r.bold * n1 + ln.bold * n2) / max(1, n1 + n2)
    if n2 > n1 and ln.size != r.size and ln.height >= r.height * 0.8:
        r.size = ln.size
    r.text, r.parts, r.marker_start = text, parts, marker
    r.x0, r.y0, r.x1, r.y1 = min(r.x0, ln.x0), min(r.y0, ln.y0), max(r.x1, ln.x1), max(r.y1, ln.y1)


def remove_running(pages: list[PageText]) -> None:
    """Drop running headers/footers and page numbers (in place)."""
    n = len(pages)
    counts: dict[str, set[int]] = defaultdict(set)

    def key(t: str) -> str:
        return re.sub(r"\d+", "#", t.lower())

    def in_margin(pg: PageText, ln: Line) -> bool:
        return ln.y1 <= pg.height * MARGIN + 8 or ln.y0 >= pg.height * (1 - MARGIN) - 8

    for pg in pages:
        for ln in pg.lines:
            if in_margin(pg, ln):
                counts[key(ln.text)].add(pg.number)
    need = max(2, int(0.3 * n + 0.5)) if n >= 3 else 10**9
    for pg in pages:
        keep = []
        for ln in pg.lines:
            if in_margin(pg, ln):
                t = ln.text.strip()
                if _PAGE_NO.match(t) or len(counts[key(t)]) >= need:
                    continue
            keep.append(ln)
        pg.lines = keep


def remove_title_heads(pages: list[PageText], title: str) -> None:
    """Drop running heads that repeat the paper's title (often only on odd pages)."""
    t = re.sub(r"[^a-z0-9]", "", title.lower())
    if len(t) < 12:
        return
    for pg in pages[1:]:
        keep = []
        for ln in pg.lines:
            if ln.y1 <= pg.height * MARGIN + 8 or ln.y0 >= pg.height * (1 - MARGIN) - 8:
                n = re.sub(r"[^a-z0-9]", "", ln.text.lower())
                if len(n) >= 12 and (t.startswith(n) or n.startswith(t)):
                    continue
            keep.append(ln)
        pg.lines = keep


def reading_order(pg: PageText) -> list[Line]:
    """Order lines of one page: two-column pages column by column within bands."""
    lines = pg.lines
    if not lines:
        return []
    w = pg.width
    mid = w / 2
    tol = 0.02 * w
    blocks: dict[int, list[Line]] = defaultdict(list)
    for ln in lines:
        blocks[ln.block].append(ln)
    binfo = []
    chars = {0: 0, 1: 0, 2: 0}
    for bno, bl in blocks.items():
        x0 = min(l.x0 for l in bl)
        x1 = max(l.x1 for l in bl)
        y0 = min(l.y0 for l in bl)
        col = 1 if x1 <= mid + tol else 2 if x0 >= mid - tol else 0
        # a block straddling the middle only because of a stray row: check its rows
        if col == 0 and len(bl) > 2:
            left = sum(1 for l in bl if l.x1 <= mid + tol)
            right = sum(1 for l in bl if l.x0 >= mid - tol)
            if left == len(bl):
                col = 1
            elif right == len(bl):
                col = 2
        n = sum(len(l.text) for l in bl)
        chars[col] += n
        binfo.append((y0, x0, bno, col, bl))
    total = sum(chars.values()) or 1
    two_col = chars[1] > 0.15 * total and chars[2] > 0.15 * total
    for _, _, _, col, bl in binfo:
        for l in bl:
            l.col = col if two_col else 0
    if not two_col:
        binfo.sort(key=lambda b: (round(b[0]), b[1]))
        return [l for b in binfo for l in sorted(b[4], key=lambda l: l.y0)]
    # bands separated by full-width blocks
    fulls = sorted((b for b in binfo if b[3] == 0), key=lambda b: b[0])
    cols = [b for b in binfo if b[3] != 0]
    out: list[Line] = []
    cuts = [b[0] for b in fulls] + [1e9]
    prev_cut = -1e9
    fi = 0
    for cut in cuts:
        band = [b for b in cols if prev_cut <= b[0] < cut]
        band.sort(key=lambda b: (b[3], b[0], b[1]))
        for b in band:
            out.extend(sorted(b[4], key=lambda l: l.y0))
        if fi < len(fulls):
            out.extend(sorted(fulls[fi][4], key=lambda l: l.y0))
            fi += 1
        prev_cut = cut
    return out
