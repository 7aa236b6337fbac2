"""BibTeX export of library papers.

``entry(paper) -> str`` gives one entry, ``bibliography(papers) -> str`` a whole ``.bib``
file whose citation keys are unique; ``cite_keys(papers)`` gives those keys alone (the
Markdown export uses it so its ``Cite as:`` lines match ``references.bib``).

Entry types: ``@article`` with ``journal = {arXiv preprint arXiv:ID}``, ``eprint`` and
``archivePrefix = {arXiv}`` when the paper has an arXiv id (Google Scholar's form);
``@misc`` otherwise. A known DOI adds ``doi`` and ``url = {https://doi.org/...}``; an
arXiv paper without a DOI gets ``url = {https://arxiv.org/abs/ID}``. Empty fields are
left out (no ``year = {None}``).

Citation keys follow Google Scholar: first author's last name (with its particles,
"van der Maaten" -> ``vandermaaten``), year, first significant title word, all ASCII-folded
and lower case: ``lo2020s2orc``. No authors -> ``anon``; neither authors nor a title
word -> ``paper<year>_<id prefix>``. Clashes within one bibliography get ``a``, ``b``, ...
appended in order (``lo2020s2orc``, ``lo2020s2orca``).

Names: "First Last" becomes ``Last, First`` (``von Last, Jr, First`` when there are
lower-case particles or a suffix); a one-word name or one already written "Last, First"
is kept as it is; a name containing the word "and" is braced so BibTeX keeps it whole.

Escaping: title and author text has the LaTeX specials ``& % $ # _ { } ~ ^ \\`` escaped;
braces and backslashes become ``\\textbraceleft{}`` / ``\\textbraceright{}`` /
``\\textbackslash{}``, so no brace from the data ever reaches the file and every entry's
braces balance. Capitalisation: the whole title is protected by an outer pair of braces
(``title = {{...}}``), so styles never lower-case it. DOI, eprint and URL are verbatim
fields: braces, backslashes and whitespace are dropped from them. Non-ASCII text is kept
as UTF-8 (write the file as UTF-8; biber and modern BibTeX/LaTeX read it), control
characters are dropped and whitespace runs collapse to one space.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable
from urllib.parse import quote

from reader_app.core.model import Paper

MAX_PART = 20  # characters of the name and of the title word in a key

__all__ = ["entry", "bibliography", "cite_keys", "cite_key", "bibtex_name", "latex_escape"]

_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL_RE = re.compile(r"[\\{}&%$#_~^]")

# letters NFKD does not decompose into ASCII
_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d",
                       "Đ": "D", "þ": "th", "Þ": "Th", "œ": "oe", "Œ": "OE", "ı": "i", "ð": "d", "Ð": "D"})

_STOPWORDS = frozenset("""a an the and or but nor of on in into at to for from by with without via
    as about over under is are was were be do does how what why when where which who can towards toward
    its it this that these those we our your their not no""".split())

_PARTICLES = frozenset("""van von der den de del della di da dos das du la le les ten ter zu vom
    al el bin ibn""".split())
_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})


def _clean(text) -> str:
    """One line of printable text: no controls, no lone surrogates, single spaces."""
    s = str(text if text is not None else "").encode("utf-8", "replace").decode("utf-8")
    s = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in s)
    return " ".join(s.split())


def latex_escape(text) -> str:
    """LaTeX specials escaped; the result contains no unescaped brace from ``text``."""
    return _SPECIAL_RE.sub(lambda m: _SPECIALS[m.group(0)], _clean(text))


def _fold(text: str) -> str:
    """ASCII letters and digits only, lower case ("Müller-Lüdenscheidt" -> "mullerludenscheidt")."""
    s = unicodedata.normalize("NFKD", str(text or "").translate(_FOLD))
    s = "".join(c for c in s if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "", s.lower())


def _verbatim(text) -> str:
    """DOI / eprint text: no braces, backslashes or whitespace (they cannot occur in one)."""
    return re.sub(r"[{}\\\s]+", "", _clean(text))


def _split_name(name: str) -> tuple[str, str, str, str] | None:
    """(first, von, last, jr) for a "First von Last Jr" name; None to keep the name as is."""
    words = name.split()
    if len(words) < 2 or "," in name:
        return None
    jr = ""
    if len(words) > 2 and words[-1].lower().rstrip(",") in _SUFFIXES:
        jr = words.pop()
    # like BibTeX, only lower-case words are particles ("Jose Da Silva" has none)
    von_at = next((i for i, w in enumerate(words[1:-1], 1) if w in _PARTICLES), None)
    if von_at is None:
        return " ".join(words[:-1]), "", words[-1], jr
    von_end = von_at
    while von_end < len(words) - 1 and words[von_end] in _PARTICLES:
        von_end += 1
    return " ".join(words[:von_at]), " ".join(words[von_at:von_end]), " ".join(words[von_end:]), jr


def bibtex_name(name: str) -> str:
    """ "Kyle Lo" -> "Lo, Kyle"; one-word and "Last, First" names unchanged; escaped."""
    name = _clean(name)
    if re.search(r"\band\b", name, re.IGNORECASE):
        return "{" + latex_escape(name) + "}"  # "Research and Development Team" stays one author
    parts = _split_name(name)
    if parts is None:
        return latex_escape(name)
    first, von, last, jr = (latex_escape(x) for x in parts)
    return f"{von + ' ' if von else ''}{last}{', ' + jr if jr else ''}, {first}"


def _last_name(name: str) -> str:
    name = _clean(name)
    if "," in name:
        return name.split(",", 1)[0]
    parts = _split_name(name)
    if parts is None:
        return name
    return f"{parts[1]}{parts[2]}"


def _title_word(title: str) -> str:
    for word in re.split(r"[^\w]+|_", _clean(title)):
        folded = _fold(word)
        if folded and re.search(r"[a-z]", folded) and folded not in _STOPWORDS:
            return folded
    return ""


def _year(paper) -> str:
    y = getattr(paper, "year", None)
    try:
        y = int(str(y).strip())
    except (TypeError, ValueError):
        return ""
    return str(y) if 0 < y < 10000 else ""


def cite_key(paper: Paper) -> str:
    """The paper's base key (before de-duplication): ``lo2020s2orc``."""
    authors = [a for a in (paper.authors or []) if _clean(a)]
    name = _fold(_last_name(authors[0]))[:MAX_PART] if authors else ""
    word = _title_word(paper.title)[:MAX_PART]
    year = _year(paper)
    if name or word:
        return f"{name or 'anon'}{year}{word}"
    idpart = _fold(paper.id)[:8]
    return f"paper{year}_{idpart}" if idpart else f"paper{year}"


def _suffixes():
    letters = "abcdefghijklmnopqrstuvwxyz"
    for a in letters:
        yield a
    for a in letters:
        for b in letters:
            yield a + b


def cite_keys(papers: Iterable[Paper]) -> list[str]:
    """Keys unique within this list, in its order: a clash gets ``a``, ``b``, ... appended."""
    used: set[str] = set()
    out = []
    for p in papers:
        base = cite_key(p)
        key = base
        if key in used:
            key = next((base + s for s in _suffixes() if base + s not in used), None) or \
                next(f"{base}_{n}" for n in range(len(used) + 1) if f"{base}_{n}" not in used)
        used.add(key)
        out.append(key)
    return out


def _fields(paper: Paper) -> tuple[str, list[tuple[str, str]]]:
    arxiv = _verbatim(paper.arxiv_id or "")
    arxiv = re.sub(r"^arxiv:", "", arxiv, flags=re.IGNORECASE)
    doi = _verbatim(paper.doi or "")
    doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", doi, flags=re.IGNORECASE)
    title = latex_escape(paper.title)
    authors = [bibtex_name(a) for a in (paper.authors or []) if _clean(a)]
    fields = [("title", "{" + title + "}" if title else ""),
              ("author", " and ".join(authors))]
    if arxiv:
        fields.append(("journal", f"arXiv preprint arXiv:{arxiv}"))
    fields.append(("year", _year(paper)))
    if arxiv:
        fields += [("eprint", arxiv), ("archivePrefix", "arXiv")]
    if doi:
        fields += [("doi", doi), ("url", "https://doi.org/" + quote(doi, safe="/:;()<>-._~+!*',@=$&?"))]
    elif arxiv:
        fields.append(("url", "https://arxiv.org/abs/" + quote(arxiv, safe="/.-_")))
    return ("article" if arxiv else "misc"), [(k, v) for k, v in fields if v]


def entry(paper: Paper, key: str | None = None) -> str:
    """One BibTeX entry (no trailing newline); ``key`` defaults to :func:`cite_key`."""
    kind, fields = _fields(paper)
    lines = [f"@{kind}{{{key or cite_key(paper)},"]
    lines += [f"  {k} = {{{v}}}," for k, v in fields]
    if len(lines) > 1:
        lines[-1] = lines[-1][:-1]  # no comma after the last field
    lines.append("}")
    return "\n".join(lines)


def bibliography(papers: Iterable[Paper]) -> str:
    """A ``.bib`` text (UTF-8) for ``papers`` with unique keys; "" for no papers."""
    papers = list(papers)
    keys = cite_keys(papers)
    return "".join(entry(p, k) + "\n\n" for p, k in zip(papers, keys)).rstrip("\n") + ("\n" if papers else "")


_ENTRY_START = re.compile(r"^@\s*(\w+)\s*\{\s*([^,\s{}]+)\s*,", re.M)


def split_entries(text: str) -> list[tuple[str | None, str]]:
    """``text`` as [(key, entry text)], in order; text between entries (comments,
    ``@string``s) comes as (None, text).  An entry runs to its matching closing brace."""
    out: list[tuple[str | None, str]] = []
    pos = 0
    for m in _ENTRY_START.finditer(text):
        if m.start() < pos:
            continue  # an "@" inside the previous entry
        if m.start() > pos:
            out.append((None, text[pos:m.start()]))
        depth, j = 0, text.index("{", m.start())
        while j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                break
            j += 1
        out.append((m.group(2), text[m.start():j + 1]))
        pos = j + 1
    if pos < len(text):
        out.append((None, text[pos:]))
    return out


def merge(existing: str, new: str) -> str:
    """``existing`` .bib text with the entries of ``new`` added; an existing entry with
    the same key is replaced, everything else (other entries, comments) is kept."""
    fresh = [(k, t) for k, t in split_entries(new) if k]
    keys = {k for k, _ in fresh}
    kept = "".join(t for k, t in split_entries(existing) if k not in keys).strip()
    added = "\n\n".join(t for _, t in fresh)
    return "\n\n".join(x for x in (kept, added) if x) + "\n"
