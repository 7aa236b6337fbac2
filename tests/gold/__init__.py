"""Gold data for the structure benchmark and its tests, and how they are compared.

- papers-sections.json: top-level headings of ../shared/papers, as printed (rules of
  ../shared/papers-pwl/README.md: numbers dropped; abstract, acknowledgements,
  references left out).
- pwl-metadata.json: title, authors and year of ../shared/papers-pwl as printed on the
  first page (the year of first publication printed there: date, copyright or venue line).
  Three papers print no year of their own anywhere: Bitcoin (2008; its file is dated
  2009), the virtual-synchrony chapter (2010, the book's year; its text says "written
  in 2009", its file is dated 2009) and the consistent-hashing paper (1997, STOC; no
  file date either). Their gold keeps the year of publication, which the file cannot
  tell, so 27/30 is the most a reader of the PDF can score on years.
"""

from __future__ import annotations

import re
import unicodedata

_QUOTES = str.maketrans({c: "" for c in "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u00b4`'\""})
_NUMBER = re.compile(
    r"^(?:chapter|appendix|section|part)?\s*(?:§\s*)?(?:\d{1,2}(?:\.\d{1,2})*|[ivx]{1,5}|[a-h])?\s*[.:)\-–—]?\s+",
    re.IGNORECASE,
)
# Headings the gold leaves out by rule: they are neither counted right nor wrong.
_LEFT_OUT = re.compile(
    r"^(abstract|summary|acknowledge?ments?|acknowledge?ment|funding|references|bibliography|"
    r"literature cited|notes|endnotes|contents|table of contents|keywords|key words|index terms|"
    r"general terms|categories and subject descriptors|appendix|appendices|"
    r"appendix [a-z0-9]{1,2}|chapter [a-z0-9]{1,2})$"
)


def norm(text: str) -> str:
    """Lower case, NFKC (ligatures), no quotes, hyphens, punctuation or spaces."""
    t = unicodedata.normalize("NFKC", text or "").lower().translate(_QUOTES)
    return re.sub(r"[\W_]+", "", t)


def words(text: str) -> str:
    t = unicodedata.normalize("NFKC", text or "").lower().translate(_QUOTES)
    return " ".join(re.sub(r"[\W_]+", " ", t).split())


def matches(title: str, gold: str) -> bool:
    """A detected title finds a gold heading when it contains it."""
    g = norm(gold)
    return bool(g) and g in norm(title)


def gold_heading(title: str) -> bool:
    """False for titles the gold leaves out by rule (abstract, references, ...)."""
    rest = _NUMBER.sub("", words(title), count=1)
    return not (_LEFT_OUT.match(words(title)) or _LEFT_OUT.match(rest))


def surname(name: str) -> str:
    toks = [t for t in re.split(r"[\s.]+", name or "") if len(t) > 1]
    return norm(toks[-1]) if toks else ""


def meta_scores(paper, gold: dict) -> tuple[bool, bool, bool]:
    """(title right, first author right, year right) for one paper."""
    title = norm(paper.title) == norm(gold["title"])
    first = bool(paper.authors) and bool(gold["authors"]) and surname(gold["authors"][0]) in norm(paper.authors[0])
    if not gold["authors"]:
        first = not paper.authors
    year = paper.year == gold["year"]
    return title, first, year


def make_scan(src, out, pages: int, dpi: int = 200) -> None:
    """A scan of ``src``'s first ``pages`` pages: each page a grey image, no text layer."""
    import pymupdf

    doc = pymupdf.open(src)
    scan = pymupdf.open()
    for i in range(min(pages, doc.page_count)):
        pix = doc[i].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
        page = scan.new_page(width=doc[i].rect.width, height=doc[i].rect.height)
        page.insert_image(page.rect, pixmap=pix)
    scan.save(out)
