"""Does a scan's invisible text layer say what the page shows?

A scanned page often carries the scanner's own OCR text as an invisible layer over the
image (OCRmyPDF, Adobe, office scanners).  Such a layer is also the easiest place to hide
an instruction: invisible text over a picture of a page.  So each line of the layer is
compared with a fresh OCR of the page image (Tesseract's words, with their boxes): a line
is kept when the words OCR sees where the line sits are, for the most part, its words.

A line fails when less than ``MIN_AGREE`` of its letters (by word length) are matched by
words OCR sees inside the line's box, or when ``MAX_UNSEEN_RUN`` words in a row are not
seen (an instruction appended to a true line).  OCR misreads ("rn" for "m") are allowed
for by a fuzzy match of longer words.  Pure Python over ``Line`` records and word boxes.
"""

from __future__ import annotations

import difflib
import re

from reader_app.pdf.lines import Line

MIN_AGREE = 0.5  # share of a layer line's letters that OCR must see where the line is
MAX_UNSEEN_RUN = 4  # this many words in a row that OCR does not see: the line fails
FUZZY = 0.7  # similarity at which a longer word counts as OCR's reading of it
TALL = 3.0  # a line box taller than this many typical word heights is searched near its middle only

Word = tuple[float, float, float, float, str]  # x0, y0, x1, y1 (points), text

_TOKEN = re.compile(r"[^\W_]+")


def tokens(text: str) -> list[str]:
    """Lower-case letters and digits of each word: "Peer-to-peer," -> ["peertopeer"]."""
    out = []
    for w in text.split():
        t = "".join(_TOKEN.findall(w.lower()))
        if t:
            out.append(t)
    return out


def offset(layer: list[Line], words: list[Word]) -> tuple[float, float]:
    """How far the page's words lie from where the layer's boxes put them (dx, dy): the
    median over lines whose first word OCR reads exactly once on the page.  A layer's
    boxes come from its font's metrics, which scanners' invisible fonts often get wrong."""
    once: dict[str, list] = {}
    for w in words:
        t = tokens(w[4])
        if len(t) == 1 and len(t[0]) >= 4:
            once.setdefault(t[0], []).append(w)
    dxs, dys = [], []
    for ln in layer:
        t = tokens(ln.text)
        hits = once.get(t[0]) if t else None
        if hits and len(hits) == 1:
            x0, y0, _, y1, _ = hits[0]
            dxs.append(x0 - ln.x0)
            dys.append((y0 + y1) / 2 - (ln.y0 + ln.y1) / 2)
    if len(dxs) < 3:
        return 0.0, 0.0
    dxs.sort()
    dys.sort()
    return dxs[len(dxs) // 2], dys[len(dys) // 2]


def typical_height(words: list[Word]) -> float:
    """The median height of the page's OCR words (about a line's x-height to cap height)."""
    hs = sorted(w[3] - w[1] for w in words)
    return hs[len(hs) // 2] if hs else 10.0


def _seen_near(line: Line, words: list[Word], shift: tuple[float, float] = (0.0, 0.0),
               typical: float = 10.0) -> list[str]:
    """Tokens of the OCR words whose centre lies in the line's box, moved by ``shift``
    (with a little slack).  A box far taller than a line of text (a layer line can claim
    any box) is searched only near its middle, so it cannot gather the words of a page."""
    h = min(max(line.y1 - line.y0, 1.0), TALL * typical)
    slack = max(3.0, 0.5 * h)
    mid = (line.y0 + line.y1) / 2 + shift[1]
    lx0, lx1 = line.x0 + shift[0] - slack, line.x1 + shift[0] + slack
    ly0, ly1 = mid - h / 2 - slack, mid + h / 2 + slack
    found = []
    for x0, y0, x1, y1, text in words:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        if lx0 <= cx <= lx1 and ly0 <= cy <= ly1:
            found.extend(tokens(text))
    return found


def _match(tok: str, pool: list[str]) -> bool:
    """Take ``tok`` (or OCR's near reading of it) out of ``pool``; False when not there."""
    if tok in pool:
        pool.remove(tok)
        return True
    if len(tok) >= 3:
        best = difflib.get_close_matches(tok, pool, n=1, cutoff=FUZZY)
        if best:
            pool.remove(best[0])
            return True
        if any(tok in p for p in pool if len(p) <= 2 * len(tok) + 2):
            return True  # a word OCR ran together with its neighbour
    else:
        return any(tok in p for p in pool)
    return False


def agreement(line: Line, words: list[Word], shift: tuple[float, float] = (0.0, 0.0),
              typical: float | None = None) -> tuple[float, int]:
    """(share of the line's letters OCR sees there, longest run of words of three letters
    or more that it does not see; shorter ones, often symbols of a formula, neither
    lengthen nor end a run)."""
    toks = tokens(line.text)
    if not toks:
        return 1.0, 0  # no letters or digits: nothing to say, nothing to hide
    pool = _seen_near(line, words, shift, typical_height(words) if typical is None else typical)
    seen = total = run = longest = 0
    for tok in toks:
        total += len(tok)
        if _match(tok, pool):
            seen += len(tok)
            run = 0
        elif len(tok) >= 3:
            run += 1
            longest = max(longest, run)
    return seen / total, longest


def agrees(line: Line, words: list[Word], shift: tuple[float, float] = (0.0, 0.0),
           typical: float | None = None) -> bool:
    share, run = agreement(line, words, shift, typical)
    return share >= MIN_AGREE and run < MAX_UNSEEN_RUN


def check(layer: list[Line], words: list[Word]) -> tuple[list[Line], list[Line]]:
    """Split a page's layer lines into (what the image shows, what it does not)."""
    shift = offset(layer, words)
    typical = typical_height(words)
    kept, hidden = [], []
    for ln in layer:
        (kept if agrees(ln, words, shift, typical) else hidden).append(ln)
    return kept, hidden


_PLAIN_WORD = re.compile(r"^[(\[\"'“‘]*[A-Za-z]{3,}[.,;:!?)\]\"'”’]*$")


def says_something(line: Line) -> bool:
    """Two plain words or more: a line that could carry a message, rather than a formula,
    a figure label or a scanner's misreading ("A11x*A21y", "MEMREAD", "Faultiadrtioni")."""
    return sum(1 for w in line.text.split() if _PLAIN_WORD.match(w)) >= 2


def fill_in(kept: list[Line], ocr_lines: list[Line]) -> list[Line]:
    """The kept layer lines, plus the OCR lines where none of them lies (where the page
    shows text that the layer left out or put a hidden line over)."""
    def covered(o: Line) -> bool:
        for k in kept:
            ov = min(k.y1, o.y1) - max(k.y0, o.y0)
            if ov >= 0.5 * min(k.y1 - k.y0, o.y1 - o.y0) and min(k.x1, o.x1) > max(k.x0, o.x0):
                return True
        return False

    return kept + [o for o in ocr_lines if not covered(o)]
