"""Lines in reading order -> paragraphs with kinds, and layout-detected headings."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from reader_app.pdf.lines import Line

NUM_RE = re.compile(
    r"^(?P<num>\d{1,2}(?:\.\d{1,2}){0,3}\.?|[IVX]{1,5}\.(?:\d{1,2}\.?)?|[A-H](?:\.\d{1,2}){0,2}\.?)\s+(?P<rest>\S.*)$"
)
KNOWN_RE = re.compile(
    r"^(abstract|introduction|related work|background|preliminaries|methods?|methodology|approach|"
    r"experiments?|experimental setup|evaluation|results|analysis|discussion|conclusions?(?: and future work)?|"
    r"future work|limitations|ethics(?: statement)?|ethical considerations|broader impacts?|"
    r"acknowledge?ments?|references|bibliography|appendix|appendices|supplementary materials?)$",
    re.IGNORECASE,
)
REF_RE = re.compile(r"^(references|bibliography|literature cited|works cited|cited literature)$", re.IGNORECASE)
CAPTION_RE = re.compile(
    r"^(fig(?:ure)?|table|tab|algorithm|listing)\.?\s*(?:[A-Z]\.?)?\d+(?:\.\d+)?\s*[:.|—–-]", re.IGNORECASE
)
_END = (".", "!", "?", ":")
_LABEL = re.compile(r"^(fig(?:ure)?|table|tab|algorithm|listing|scheme|plate|chart)\.?\s*[A-Z]?[\dIVXl]+\b", re.IGNORECASE)
_REF_START = re.compile(r"^(\[\d+\]|\d{1,3}\.\s)")
_URL_END = re.compile(r"(?:https?://|www\.|github\.com|\.(?:com|org|io|edu|net)/)\S*$")
_LETTER = re.compile(r"[^\W\d_]")
_BULLET = re.compile(r"^[•◦▪‣∙●○■□–—*-]\s|^\(?\d{1,2}\)\s|^\(?[a-z]\)\s")


@dataclass
class Para:
    page: int
    lines: list[Line]
    kind: str = "body"
    level: int = 0  # headings: 1, 2, ... (0 = to be resolved)
    numbered: bool = False
    text: str = ""
    section_index: int | None = None
    section: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def bbox(self):
        return (
            min(l.x0 for l in self.lines),
            min(l.y0 for l in self.lines),
            max(l.x1 for l in self.lines),
            max(l.y1 for l in self.lines),
        )

    @property
    def size(self) -> float:
        return Counter(l.size for l in self.lines).most_common(1)[0][0]


def body_style(lines: list[Line]) -> tuple[float, float]:
    """(body font size, fraction of bold) weighted by characters."""
    c: Counter = Counter()
    bold = total = 0
    for ln in lines:
        c[ln.size] += len(ln.text)
    if not c:
        return 10.0, 0.0
    size = c.most_common(1)[0][0]
    for ln in lines:
        if ln.size == size:
            bold += ln.bold * len(ln.text)
            total += len(ln.text)
    return size, bold / max(1, total)


def _all_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters)


def heading_rest(text: str) -> tuple[str | None, str]:
    m = NUM_RE.match(text)
    if m:
        return m.group("num"), m.group("rest")
    return None, text


_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9, "X": 10,
          "XI": 11, "XII": 12, "XIII": 13, "XIV": 14, "XV": 15}


def _top_value(num: str | None) -> int | None:
    """"3." -> 3, "IV." -> 4 ("I." is also how OCR reads "1."); None for "3.1" or "A"."""
    n = (num or "").rstrip(".")
    if n.isdigit():
        return int(n)
    return _ROMAN.get(n)


def num_level(num: str) -> int:
    n = num.rstrip(".")
    if re.fullmatch(r"[IVX]+", n):
        return 1
    return n.count(".") + 1


class Builder:
    """Groups lines into paragraphs page by page, tracking headings and references."""

    def __init__(self, body_size: float, body_bold: float, words: set[str]):
        self.body = body_size
        self.body_bold = body_bold
        self.words = words
        self.paras: list[Para] = []
        self.in_refs = False
        self.front_matter = True  # page-1 title/authors block: no headings there
        self.last_top: int | None = None  # value of the last top-level heading number
        self.words_since = 0  # words of text since the last heading

    # -- headings -----------------------------------------------------------------
    def heading(self, ln: Line, alone: bool, free: bool = False) -> tuple[int, bool] | None:
        """(level, numbered) when ``ln`` is a heading.  ``alone``: its text block has at
        most two rows; ``free``: it stands apart from the text around it (see ``_free``)."""
        t = ln.text.strip()
        if len(t) > 120 or len(t.split()) > 14 or sum(map(str.isalpha, t)) < 2:
            return None
        # OCR'd sizes are estimates: allow a point more of noise, and trust no size cue
        # from Tesseract (it reports none); a scan's own OCR layer keeps its bold fonts.
        slack = 1.6 if ln.ocr else 0.6
        if t.endswith((",", ";")):
            return None
        num, rest = heading_rest(t)
        rest_clean = rest.rstrip(":. ")
        if not rest_clean or not (rest_clean[0].isupper() or rest_clean[0].isdigit()):
            return None
        if num is not None and num[0].isalpha() and re.match(r"[A-Z]\.(\s|-)", rest):
            return None  # initials: "E. W. DIJKSTRA", "C. A. R. HOARE"
        if _LABEL.match(t):
            return None  # "TABLE II", "Figure 3": a label, not a heading
        chars = rest_clean.replace(" ", "")
        if sum(map(str.isalpha, chars)) < 0.6 * len(chars):
            return None  # a formula, a table row or page furniture ("1978 IEEE")
        known = bool(KNOWN_RE.match(rest_clean))
        if num is None and not known and (t.endswith(":") or re.search(r":\s+[a-z][^:]*,", rest)):
            return None  # "Note:", "Keywords: a, b": a lead-in to what follows
        if t.endswith(".") and not known and len(rest.split()) > 4:
            return None
        if num is None and re.search(r"[.?!]\s+\S", rest) and not (free and ln.bold >= 0.95):
            return None  # a run-in heading followed by the paragraph's first words
        letters = list(filter(str.isalpha, rest_clean))
        caps = len(letters) >= 4 and all(map(str.isupper, letters))
        if ln.size < self.body - slack and not (caps and num is not None and ln.size >= 0.7 * self.body):
            return None  # smaller than the body, except numbered small capitals (IEEE)
        big = ln.size >= self.body + (1.5 if ln.ocr else 0.8) and ln.ocr != "tesseract"
        styled = big or (ln.bold >= 0.8 and self.body_bold < 0.5)
        if num is not None and num[0].isalpha() and len(num.rstrip(".")) == 1 and not (styled or caps or known):
            return None  # "A Study of ..." is a sentence, not appendix A
        if num is not None and (styled or caps):
            return num_level(num), True
        if known and num is None and t.endswith(".") and len(rest.split()) <= 3:
            return (2, False) if styled or alone else None  # "Method." run in: a paragraph heading
        if styled and (known or alone or (free and ln.bold >= 0.95)):
            return (1 if known else 0), False
        if caps and alone and (known or len(rest.split()) <= 6):
            return (1 if known else 0), False
        if known and (alone or free) and not t.endswith("."):
            return 1, False
        if num is not None and alone and len(rest.split()) <= 8 and not t.endswith((".", ":")) and "." in num.strip("."):
            return num_level(num), True  # "4.2 Computer Science Domain" set in a font without bold flags
        if num is not None and (alone or free) and self._next_in_sequence(num) and len(rest.split()) <= 10 \
                and not t.endswith((".", ":", ",")):
            return 1, True  # "3. Program Execution" in plain type, between "2." and "4." headings
        return None

    def _next_in_sequence(self, num: str) -> bool:
        """``num`` is the top-level number after the last numbered heading, and a good
        stretch of text lies between them (list items follow each other closely)."""
        value = _top_value(num)
        return value is not None and self.last_top is not None and value == self.last_top + 1 \
            and self.words_since >= 60

    # -- grouping -------------------------------------------------------------------
    def add_page(self, lines: list[Line], page_h: float, title_ids: set[int]) -> None:
        block_right: dict[int, float] = {}
        block_rows: Counter = Counter()
        for ln in lines:
            block_right[ln.block] = max(block_right.get(ln.block, 0.0), ln.x1)
            block_rows[ln.block] += 1
        cur: Para | None = None
        col_right: dict[int, float] = {}
        for ln in lines:
            col_right[ln.col] = max(col_right.get(ln.col, 0.0), ln.x1)
        for k, ln in enumerate(lines):
            if id(ln) in title_ids:
                cur = self._close(cur)
                if self.paras and self.paras[-1].kind == "heading" and self.paras[-1].extra.get("title"):
                    self.paras[-1].lines.append(ln)
                else:
                    self.paras.append(Para(ln.page, [ln], "heading", extra={"title": True}))
                continue
            alone = block_rows[ln.block] <= 2
            if cur is None and self._heading_continues(ln):
                self.paras[-1].lines.append(ln)
                continue
            h = self.heading(ln, alone, self._free(lines, k, col_right))
            if h and self.front_matter:
                num, rest = heading_rest(ln.text)
                if KNOWN_RE.match(rest.rstrip(":. ")) or (num and h[1] and not num[0].isalpha()) or ln.page > 1 \
                        or (self.words_since >= 60 and h[0] <= 1 and not _all_caps(ln.text)):  # after a paragraph
                    self.front_matter = False
                else:
                    h = None
            if h:
                cur = self._close(cur)
                level, numbered = h
                p = Para(ln.page, [ln], "heading", level, numbered, extra={"num": heading_rest(ln.text)[0]})
                self.paras.append(p)
                value = _top_value(p.extra["num"]) if level == 1 else None
                if value is not None:
                    self.last_top = value
                self.words_since = 0
                _, rest = heading_rest(ln.text)
                if REF_RE.match(rest.rstrip(":. ")):
                    self.in_refs = True
                elif self.in_refs and (level == 1 or level == 0):
                    self.in_refs = False
                continue
            if cur is not None and self._breaks(cur, ln, block_right):
                cur = self._close(cur)
            self.words_since += len(ln.text.split())
            if cur is None:
                cur = Para(ln.page, [ln], "reference" if self.in_refs else "body")
            else:
                cur.lines.append(ln)
        self._close(cur)

    def _free(self, lines: list[Line], k: int, col_right: dict[int, float]) -> bool:
        """A short line standing alone between paragraphs, whatever its text block: the
        line before it ends a sentence (or is far above, or in another column), it stops
        well short of the column's right edge, and the line after it is not in the same
        bold type (a bold paragraph is emphasis, not a heading)."""
        ln = lines[k]
        if len(ln.text.split()) > 12 or ln.text.rstrip().endswith((":", ",", ";", "-")):
            return False  # (a lead-in ending in a colon starts its paragraph)
        if ln.x1 > col_right.get(ln.col, ln.x1) - 3 * ln.size and ln.bold < 0.95:
            return False
        if k > 0:
            prev = lines[k - 1]
            near = prev.col == ln.col and prev.page == ln.page and 0 <= ln.y0 - prev.y1 < 0.6 * ln.size
            if near and not prev.text.rstrip().endswith((".", "!", "?", ":", '"', "\u201d")) and prev.bold < 0.95:
                return False
        if k + 1 < len(lines):
            nxt = lines[k + 1]
            if ln.bold >= 0.5 and nxt.bold >= 0.5 and nxt.col == ln.col and 0 <= nxt.y0 - ln.y1 < 0.6 * ln.size:
                return False
        return True

    def _heading_continues(self, ln: Line) -> bool:
        """A wrapped heading: the next row in the same style right below the heading."""
        prev = self.paras[-1] if self.paras else None
        if prev is None or prev.kind != "heading" or prev.extra.get("title") or prev.page != ln.page:
            return False
        last = prev.lines[-1]
        if len(prev.lines) >= 3 or len(ln.text) > 80 or ln.col != last.col or NUM_RE.match(ln.text):
            return False
        caps = _all_caps(last.text) and _all_caps(ln.text)
        if abs(last.size - ln.size) >= (1.1 if caps and ln.ocr else 0.3) or abs(last.bold - ln.bold) > 0.2:
            return False
        if ln.size <= self.body + 0.3 and ln.bold < 0.8 and not caps:
            return False  # plain body text after an unstyled heading
        gap = ln.y0 - last.y1
        return -0.5 * ln.size <= gap < 0.6 * ln.size and ln.x0 >= prev.lines[0].x0 - 2 and not last.text.endswith(".")

    def _breaks(self, cur: Para, ln: Line, block_right: dict[int, float]) -> bool:
        last = cur.lines[-1]
        size = max(ln.size, 1.0)
        if ln.col != last.col or ln.y0 < last.y0 - 2:
            return True
        if abs(ln.size - last.size) > 1.0:
            return True
        gap = ln.y0 - last.y1
        if gap > 0.8 * size:
            return True
        ends = last.text.rstrip().endswith(_END)
        if self.in_refs:
            if _REF_START.match(ln.text):
                return True
            first = cur.lines[0]
            hanging = any(l.x0 > first.x0 + 3 for l in cur.lines[1:])
            return ln.x0 <= first.x0 + 1.5 and (hanging or ends)
        if _BULLET.match(ln.text):
            return True  # each list item is a paragraph
        indent = ln.x0 - last.x0
        if 0.6 * size <= indent <= 4 * size and not (_BULLET.match(cur.lines[0].text) and ln.x0 > cur.lines[0].x0):
            return True  # first-line indent (but not a list item's hanging indent)
        if ln.block != last.block:
            # MuPDF may split a paragraph into blocks; continue only if it looks like one
            return ends or gap > 0.5 * size or gap < -2
        right = block_right.get(last.block, last.x1)
        if ends and last.x1 < right - 2 * size and ln.text[:1].isupper():
            return True
        return False

    def _close(self, cur: Para | None) -> None:
        if cur is not None:
            self.paras.append(cur)
        return None

    # -- text -----------------------------------------------------------------------
    def join(self, lines: list[Line]) -> str:
        out = ""
        for ln in lines:
            t = ln.text.strip()
            if not out:
                out = t
                continue
            if out.endswith("\u00ad"):
                out = out[:-1] + t
            elif len(out) > 1 and out[-1] in "-\u2010" and out[-2].isalnum() and t[:1].islower():
                head = re.findall(r"[\w-]+$", out)
                frag = head[0][:-1] if head else ""
                nxt = re.match(r"[\w]+", t)
                tail = nxt.group(0) if nxt else ""
                head_word = frag.split("-")[-1].lower()
                joined = head_word + tail.lower()
                hyph = (frag + "-" + tail).lower()
                if joined in self.words:
                    out = out[:-1] + t
                elif hyph in self.words or (
                    len(head_word) >= 3 and len(tail) >= 3 and head_word in self.words and tail.lower() in self.words
                ) or (len(head_word) >= 6 and head_word.endswith("ly")):
                    out = out + t  # a real compound ("automatically-detected") broken at its hyphen
                else:
                    out = out[:-1] + t
            elif out.endswith(("/", "_", "#", "=")) and _URL_END.search(out):
                out = out + t  # a URL wrapped across lines
            else:
                out = out + " " + t
        return out


def finish(paras: list[Para], builder: Builder, page_heights: dict[int, float]) -> list[Para]:
    """Fill text and kinds (caption / footnote), drop empty noise."""
    out = []
    body = builder.body
    for p in paras:
        p.text = builder.join(p.lines)
        if p.kind != "heading" and len(_LETTER.findall(p.text, 0, 400)) < 3:
            continue
        if p.kind in ("body", "reference"):
            if CAPTION_RE.match(p.text):
                p.kind = "caption"
            elif p.kind == "body":
                h = page_heights.get(p.page, 792.0)
                y0 = p.bbox[1]
                small = p.size <= body - 0.9
                first = p.lines[0]
                marker = first.marker_start or re.match(r"^([\d*†‡§¶∗]|https?://)", p.text)
                code = sum(1 for ln in p.lines if ln.mono) > len(p.lines) / 2  # a code listing
                if small and not code and ((marker and y0 > 0.5 * h) or y0 > 0.9 * h):
                    p.kind = "footnote"
                    parts = _split_footnotes(p, builder)
                    if len(parts) > 1:
                        out.extend(parts)
                        continue
        out.append(p)
    return out


_FOOT_START = re.compile(r"^(\d{1,2}|[*†‡§¶∗])\s?(?:[A-Z]|https?:|www\.)")


def _split_footnotes(p: Para, builder: Builder) -> list[Para]:
    """Several footnotes stacked in one block -> one paragraph each."""
    groups: list[list[Line]] = []
    for i, ln in enumerate(p.lines):
        if not groups or (i > 0 and (ln.marker_start or _FOOT_START.match(ln.text))):
            groups.append([ln])
        else:
            groups[-1].append(ln)
    if len(groups) == 1:
        return [p]
    parts = []
    for g in groups:
        q = Para(p.page, g, "footnote")
        q.text = builder.join(g)
        parts.append(q)
    return parts
