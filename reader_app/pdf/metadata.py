"""Title, authors, year, DOI and arXiv id from page 1 and the PDF's info dictionary."""

from __future__ import annotations

import re
import unicodedata

from reader_app.pdf.lines import Line

DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>()\[\]{},;]+)", re.IGNORECASE)
ARXIV_RE = re.compile(
    r"arXiv\s*:?\s*(\d{4}\.\d{4,5})(v\d+)?|arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})(v\d+)?"
    r"|arXiv\s*:\s*([a-z\-]+(?:\.[A-Z]{2})?/\d{7})",
    re.IGNORECASE,
)
YEAR_RE = re.compile(r"\b(19\d\d|20[0-4]\d)\b")
_AFFIL = re.compile(
    r"universit|institut|college|school|department|dept\.|laborator|\blab\b|research|center|centre|"
    r"inc\.|corp|company|google|microsoft|meta\b|facebook|amazon|ibm|nvidia|openai|allen|academy|"
    r"hospital|foundation|\bai\b|@|http|www\.|\.com|\.edu|\.org|email|equal contribution|correspond",
    re.IGNORECASE,
)
_NAME_TOKEN = re.compile(r"^(?:[A-Z][\w'’\-]*\.?|[A-Z]\.(?:-?[A-Z]\.)*|van|von|de|der|den|da|di|du|la|le|al|bin|del|dos)$")
_BAD_META = re.compile(
    r"\.(?:dvi|tex|pdf|docx?|pptx?)\b|^untitled|^microsoft|^title$|^paper$|^\s*$|^doi:|^\S+$", re.IGNORECASE)


def plausible_meta(text: str | None) -> str:
    t = " ".join((text or "").split())
    if not t or _BAD_META.search(t) or sum(ch.isalpha() for ch in t) < 4:
        return ""
    return t


def _wordy(text: str) -> bool:
    """Mostly letters: a title, not a formula or a page number."""
    chars = text.replace(" ", "")
    return sum(ch.isalpha() for ch in chars) >= max(3, 0.6 * len(chars))


def find_title(p1: list[Line], body: float, page_h: float, meta_title: str) -> tuple[str, set[int]]:
    """The title as printed on page 1: the largest text in its upper half (or, in a
    paper set all in one size, a bold first line at the top); the info dictionary's
    title when that is printed on the page too (a journal masthead can be larger), or
    when the page has nothing better."""
    meta = plausible_meta(meta_title)
    page_text = _squash(" ".join(l.text for l in p1))
    if meta and len(_squash(meta)) >= 8 and _squash(meta) in page_text:
        ids = _lines_of(p1, meta)
        return meta, ids
    cand = [l for l in p1 if l.y0 < 0.5 * page_h and _wordy(l.text)]
    if cand:
        big = max(l.size for l in cand)
        if big >= body + 1.5:
            idx = [i for i, l in enumerate(cand) if l.size >= big - 0.6]
            first = idx[0]
            chosen = [cand[first]]
            tol = max(1.6, 0.2 * big) if cand[first].ocr else 0.6  # OCR'd sizes are estimates
            for i in range(first + 1, len(cand)):
                l = cand[i]
                if l.size >= big - tol and l.y0 - chosen[-1].y1 < 1.5 * big and len(chosen) < 5:
                    chosen.append(l)
                elif l.size < big - tol:
                    break
            title = " ".join(l.text for l in chosen).strip()
            if len(title) >= 6:
                return title, {id(l) for l in chosen}
        top = cand[0]
        if top.bold >= 0.8 and top.y0 < 0.3 * page_h and len(top.text.split()) >= 3 and not top.text.endswith("."):
            return top.text.strip(), {id(top)}  # a bold first line in a paper set in one size
    if meta:
        return meta, set()
    return "", set()


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _lines_of(p1: list[Line], title: str) -> set[int]:
    """The page-1 lines that spell ``title`` (consecutive, in reading order)."""
    want = _squash(title)
    for i, l in enumerate(p1):
        got = ""
        ids = set()
        for m in p1[i:i + 5]:
            got += _squash(m.text)
            ids.add(id(m))
            if got == want or (want.startswith(got) is False and got.startswith(want)):
                return ids
            if not want.startswith(got):
                break
    return set()


_NOT_NAME = {
    "paper", "position", "project", "group", "team", "draft", "technical", "report", "abstract", "haven", "free",
    "the", "of", "for", "and", "in", "on", "university", "management", "process", "systems", "system", "press",
    "editor", "editors", "techniques", "programming", "magazine", "journal", "proceedings", "supervised", "by",
    "received", "revised", "accepted", "united", "kingdom", "states", "america", "republic",
}
_ACCENT = {"\u00b4": "\u0301", "`": "\u0300", "\u00a8": "\u0308", "^": "\u0302", "\u02dc": "\u0303", "~": "\u0303"}


def fix_accents(text: str) -> str:
    """"L´aszl´o" (TeX's spacing accent before its letter) -> "László"."""
    if not any(a in text for a in _ACCENT):
        return text
    return unicodedata.normalize(
        "NFC", re.sub("([\u00b4`\u00a8^\u02dc~])([A-Za-z])", lambda m: m.group(2) + _ACCENT[m.group(1)], text))


def split_names(text: str) -> list[str]:
    out = []
    text = fix_accents(text)
    for chunk in re.split(r"\s*(?:,|;|\band\b|&|\s{2,})\s*", text):
        chunk = chunk.strip(" *†‡§¶∗·•,.")
        chunk = re.sub(r"\s*\d+$", "", chunk)
        toks = chunk.split()
        if any(t.lower().strip(".") in _NOT_NAME or any(ch.isdigit() for ch in t) for t in toks):
            continue
        if 2 <= len(toks) <= 5 and all(_NAME_TOKEN.match(t) for t in toks) and not _AFFIL.search(chunk):
            if sum(1 for t in toks if t[0].isupper()) >= 2:
                out.append(chunk)
    return out


def find_authors(p1_order: list[Line], title_ids: set[int], meta_author: str) -> list[str]:
    """Names printed between the title and the abstract, row by row as printed (a grid
    of authors reads left to right, then down); the info dictionary's author only when
    the page has none (producers write "Administrator" there)."""
    block: list[Line] = []
    started = False
    for l in p1_order:
        if id(l) in title_ids:
            started = True
            continue
        if not started:
            continue
        t = l.text.strip()
        if re.match(r"^(abstract|\d?\.?\s*introduction|keywords?|key words)\b", t, re.IGNORECASE) or len(t) > 200:
            break
        block.append(l)
        if len(block) > 60:
            break
    block.sort(key=lambda l: (round(l.y1 / 4), l.x0))  # (bottoms: superscripts raise tops)
    authors: list[str] = []
    for l in block:
        t = l.text.strip()
        if _AFFIL.search(t) and not l.bold > 0.5:
            continue
        for part in l.parts or [t]:
            for n in split_names(part):
                if n not in authors:
                    authors.append(n)
        if len(authors) > 40:
            break
    if authors:
        return authors
    meta = plausible_meta(meta_author)
    if meta:
        names = [n.strip() for n in re.split(r"\s*(?:;|\band\b|&)\s*", meta) if n.strip()]
        if len(names) == 1 and meta.count(",") >= 1 and not re.search(r"\S+ \S+,", meta):
            names = [meta]  # "Casimir, H.B.G.": one name, family name first
        elif len(names) == 1:
            names = [n.strip() for n in meta.split(",")]
        names = [n for n in names if sum(ch.isalpha() for ch in n) >= 3]
        return names
    return []


def find_ids(first_page_text: str, meta: dict) -> tuple[str | None, str | None]:
    text = first_page_text + "\n" + " ".join(str(meta.get(k) or "") for k in ("subject", "keywords"))
    doi = None
    m = DOI_RE.search(text)
    if m:
        doi = m.group(1).rstrip(".")
    arxiv = None
    m = ARXIV_RE.search(first_page_text)
    if m:
        arxiv = m.group(1) or m.group(3) or m.group(5)
    return doi, arxiv


_COPYRIGHT = re.compile(
    r"©|\(c\)|copyright|\b(?:19\d\d|20[0-4]\d)\s+(?:ACM|IEEE|Elsevier|Springer|Academic Press|"
    r"International Association|Association|by )", re.IGNORECASE)
_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December|"
          r"Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)")
_VENUE = re.compile(
    r"proceedings|conference|symposium|workshop|journal|transactions|magazine|published|to appear|draft of|"
    r"\bvol(?:ume)?\b\.?|\bno\.\s*\d|\bnumber\s+\d|\bp?v?ldb\b|arxiv|"
    r"(?-i:\b[A-Z]{3,8}\s?['’]?(?:\d{2}|\d{4})\b)|"
    r"\(\s*(?:19\d\d|20[0-4]\d)\s*\)\s*\d+[:\u2013-]\d+", re.IGNORECASE)
_DATE = re.compile(_MONTH + r",?\s+(?:\d{1,2}[.,]?\s+)?(?:19\d\d|20[0-4]\d)", re.IGNORECASE)
_NOT_PUBLISHED = re.compile(r"received|revised|accepted|submitted|manuscript|\bsince\b", re.IGNORECASE)
_RECEIVED = re.compile(r"received|revised|accepted|submitted", re.IGNORECASE)
# A date the authors put on the text itself ("Dated: May 3, 2004", "This version: 2012").
_LABELLED = re.compile(
    r"(?:\bdate\s*:|\bdated\b|\bthis (?:version|draft)\b|\bdraft(?: of)?\b|\blast (?:revised|updated|modified)\b|"
    r"\bto appear\b).{0,30}?\b(?:19\d\d|20[0-4]\d)\b", re.IGNORECASE)
# A year on its own: "1965", "(2012)", "June 1965", "May 29, 1948."
_LONE = re.compile(r"^\W*" + _MONTH + r"?\s*(?:\d{1,2}[.,]?\s*)?,?\s*"
                   r"(?:19\d\d|20[0-4]\d)\W*$", re.IGNORECASE)
# A year as a number of its own: not part of a page range ("1999-2005"), a code or a longer number.
_YEAR = re.compile(r"(?<!\d)(?<!\d[-\u2010\u2013])(19\d\d|20[0-4]\d)(?![\d/]|\s?[-\u2010\u2013]\s?\d{3})")
# A line that cites other work: its years are theirs ("[12] Smith 1999", "(Smith and Jones, 2003)").
_CITATION = re.compile(
    r"^\s*\[\d{1,3}\]|^\s*\d{1,3}\.\s+[A-Z]\.|\bet al\b|\[\d{1,3}(?:\s*[,\u2013-]\s*\d{1,3})*\]|"
    r"\([A-Z][\w'’\-]+(?:\s+(?:and|&)\s+[A-Z][\w'’\-]+)?,?\s+(?:19\d\d|20[0-4]\d)[a-z]?[;,)]")


def _year_in(line: str) -> int | None:
    if _CITATION.search(line):
        return None
    m = _YEAR.search(line)
    return int(m.group(1)) if m else None


def _continues(line, lines) -> bool:
    """``line`` ends a wrapped sentence or reference: the line just above it starts at
    the same margin and does not end a sentence ("... by September 21," / "2020."), or
    is a reference."""
    above = [l for l in lines if l is not line and l.y1 <= line.y0 + 1 and line.y0 - l.y1 < 1.5 * max(line.size, 1)
             and min(l.x1, line.x1) > max(l.x0, line.x0)]
    if not above:
        return False
    prev = max(above, key=lambda l: l.y1)
    ends = prev.text.rstrip(" \"'’”)")
    return bool(_CITATION.search(prev.text)) or (abs(prev.x0 - line.x0) <= 2 and not ends.endswith((".", "!", "?")))


def _lone_years(lines, page_height: float) -> list[int]:
    """Years standing alone on a line in the top third or the bottom fifth of the page
    (a title block's date, a thesis's year, a journal footer), in print size: not a
    figure's tick label, nor the end of a wrapped sentence or reference."""
    if not lines or page_height <= 0:
        return []
    sizes = sorted(l.size for l in lines)
    typical = sizes[len(sizes) // 2]
    out = []
    for l in lines:
        if (_LONE.match(l.text.strip()) and l.size >= 0.7 * typical
                and (l.y0 < 0.35 * page_height or l.y1 > 0.8 * page_height) and not _continues(l, lines)):
            y = _year_in(l.text)
            if y:
                out.append(y)
    return out


def _context(rows: list[str]) -> list[tuple[str, str]]:
    """Each row with the row before it when that runs on into it ("Received June 13," / "1984")."""
    return [(rows[i - 1] if i and not _YEAR.search(rows[i - 1]) else "", r) for i, r in enumerate(rows)]


def _venue_or_date(rows: list[tuple[str, str]]) -> int | None:
    """A venue line first (the journal issue's year rather than an earlier online
    copyright), then a copyright line, then a date that is not a "received" one."""
    for test in (lambda p, l: _VENUE.search(l) and not _NOT_PUBLISHED.search(p + " " + l),
                 lambda p, l: _COPYRIGHT.search(l),
                 lambda p, l: _DATE.search(l) and not _NOT_PUBLISHED.search(p + " " + l)):
        for prev, line in rows:
            if test(prev, line) and _year_in(line):
                return _year_in(line)
    return None


def find_year(arxiv_id: str | None, first_page_text: str, meta: dict, lines=(), page_height: float = 0.0,
              next_page=(), scanned: bool = False) -> int | None:
    """The year printed on the paper, else the file's.

    An arXiv id's year first. Then page 1 (its ``lines``, rows with their positions, and
    its raw text): a venue, copyright or date line, then a year standing alone near the
    top or the bottom. Then page 2 (``next_page``, its lines): a copyright or dated line,
    or a venue or date line in its running head or foot. Lines that cite other work,
    page ranges and larger numbers give no year. Then the PDF's creation date, unless
    page 1 is a scan (``scanned``: that date is the scan's); a received / accepted date
    last."""
    if arxiv_id and re.match(r"\d{4}\.", arxiv_id):
        return 2000 + int(arxiv_id[:2])
    rows = _context([l.text for l in lines] + first_page_text.splitlines())
    year = _venue_or_date(rows) or next(iter(_lone_years(lines, page_height)), None)
    if year:
        return year
    for l in next_page:
        if (_COPYRIGHT.search(l.text) or _LABELLED.search(l.text)) and _year_in(l.text):
            return _year_in(l.text)
    if page_height > 0:
        margins = [l for l in next_page if l.y0 < 0.08 * page_height or l.y1 > 0.94 * page_height]
        year = _venue_or_date(_context([l.text for l in margins]))
        if year:
            return year
    m = re.match(r"D:(\d{4})", str(meta.get("creationDate") or ""))
    if m and not scanned:
        y = int(m.group(1))
        if 1950 <= y <= 2100:
            return y
    received = [int(y) for p, r in rows if _RECEIVED.search(p + " " + r) and not _CITATION.search(r)
                for y in _YEAR.findall(r)]
    return max(received, default=None)
