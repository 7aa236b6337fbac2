"""Title, authors, year, DOI and arXiv id from page 1 and the PDF's info dictionary."""

from __future__ import annotations

import re

from reader_app.pdf.lines import Line

DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>()\[\]{},;]+)", re.IGNORECASE)
ARXIV_RE = re.compile(
    r"arXiv\s*:?\s*(\d{4}\.\d{4,5})(v\d+)?|arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})(v\d+)?"
    r"|arXiv\s*:\s*([a-z\-]+(?:\.[A-Z]{2})?/\d{7})",
    re.IGNORECASE,
)
YEAR_RE = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
_AFFIL = re.compile(
    r"universit|institut|college|school|department|dept\.|laborator|\blab\b|research|center|centre|"
    r"inc\.|corp|company|google|microsoft|meta\b|facebook|amazon|ibm|nvidia|openai|allen|academy|"
    r"hospital|foundation|\bai\b|@|http|www\.|\.com|\.edu|\.org|email|equal contribution|correspond",
    re.IGNORECASE,
)
_NAME_TOKEN = re.compile(r"^(?:[A-Z][\w'’\-]*\.?|[A-Z]\.(?:-?[A-Z]\.)*|van|von|de|der|den|da|di|du|la|le|al|bin|del|dos)$")
_BAD_META = re.compile(r"\.(?:dvi|tex|pdf|docx?|pptx?)\b|^untitled|^microsoft|^title$|^paper$|^\s*$", re.IGNORECASE)


def plausible_meta(text: str | None) -> str:
    t = " ".join((text or "").split())
    if not t or _BAD_META.search(t) or sum(ch.isalpha() for ch in t) < 4:
        return ""
    return t


def find_title(p1: list[Line], body: float, page_h: float, meta_title: str) -> tuple[str, set[int]]:
    """Largest text in the upper half of page 1; falls back to the info dictionary."""
    cand = [l for l in p1 if l.y0 < 0.5 * page_h and sum(ch.isalpha() for ch in l.text) >= 3]
    if cand:
        big = max(l.size for l in cand)
        if big >= body + 1.5:
            idx = [i for i, l in enumerate(cand) if l.size >= big - 0.6]
            first = idx[0]
            chosen = [cand[first]]
            for i in range(first + 1, len(cand)):
                l = cand[i]
                if l.size >= big - 0.6 and l.y0 - chosen[-1].y1 < 1.5 * big and len(chosen) < 5:
                    chosen.append(l)
                elif l.size < big - 0.6:
                    break
            title = " ".join(l.text for l in chosen).strip()
            if len(title) >= 6:
                return title, {id(l) for l in chosen}
    meta = plausible_meta(meta_title)
    if meta:
        return meta, set()
    return "", set()


def split_names(text: str) -> list[str]:
    out = []
    for chunk in re.split(r"\s*(?:,|;|\band\b|&|\s{2,})\s*", text):
        chunk = chunk.strip(" *†‡§¶∗·•,.")
        chunk = re.sub(r"\s*\d+$", "", chunk)
        toks = chunk.split()
        if 2 <= len(toks) <= 5 and all(_NAME_TOKEN.match(t) for t in toks) and not _AFFIL.search(chunk):
            if sum(1 for t in toks if t[0].isupper()) >= 2:
                out.append(chunk)
    return out


def find_authors(p1_order: list[Line], title_ids: set[int], meta_author: str) -> list[str]:
    meta = plausible_meta(meta_author)
    if meta:
        names = [n.strip() for n in re.split(r"\s*(?:;|,|\band\b|&)\s*", meta) if n.strip()]
        names = [n for n in names if sum(ch.isalpha() for ch in n) >= 3]
        if names:
            return names
    authors: list[str] = []
    started = False
    for l in p1_order:
        if id(l) in title_ids:
            started = True
            continue
        if not started:
            continue
        t = l.text.strip()
        if re.match(r"^(abstract|\d?\s*introduction)\b", t, re.IGNORECASE) or len(t) > 200:
            break
        if _AFFIL.search(t) and not l.bold > 0.5:
            continue
        for part in l.parts or [t]:
            for n in split_names(part):
                if n not in authors:
                    authors.append(n)
        if len(authors) > 40:
            break
    return authors


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


def find_year(arxiv_id: str | None, first_page_text: str, meta: dict) -> int | None:
    if arxiv_id and re.match(r"\d{4}\.", arxiv_id):
        return 2000 + int(arxiv_id[:2])
    for line in first_page_text.splitlines():
        if re.search(r"proceedings|conference|©|\(c\)|copyright|published|journal|workshop|arxiv", line, re.I):
            m = YEAR_RE.search(line)
            if m:
                return int(m.group(1))
    m = re.match(r"D:(\d{4})", str(meta.get("creationDate") or ""))
    if m:
        y = int(m.group(1))
        if 1950 <= y <= 2100:
            return y
    return None
