"""Markdown export: one UTF-8 CommonMark file per paper (+ index.md), Obsidian-friendly.

Layout of a paper's file: YAML front matter (title, authors, year, doi, arxiv, tags,
source, id), the title, the abstract, the highlights in page order (page, colour, the
quoted text as a blockquote, the highlight's note), the notes in page order (page reference as a
heading, the quote as a blockquote, then the note's own Markdown), the cached summaries
(TL;DR first, then sections, with citations like ``[¶12, p. 4]``) and the Q&A history.
Each export also writes ``references.bib`` (see :mod:`bibtex`) holding the exported
papers; a paper's file names its citation key (front matter ``citekey`` and a
``Cite as: `key``` line under the byline), the same key as in ``references.bib``.

Text that comes from the PDF or the model (titles, quotes, summaries, answers) is
escaped so it shows literally; the user's note text is their Markdown and goes in as is.
Safety: names are slugs (see :mod:`slug`), every target is checked to resolve inside the
output folder, and nothing is overwritten without ``force``. All checks run before the
first byte is written; each file is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote as urlquote

from reader_app.core.errors import BadInput
from reader_app.core.files import atomic_write

from .bibtex import bibliography, cite_keys, merge
from .slug import slugify, unique_names

INDEX_NAME = "index"
BIB_NAME = "references.bib"


# ---------------------------------------------------------------- text helpers

def clean(text: Any) -> str:
    """Printable text: no NUL/controls (newline and tab kept), no lone surrogates."""
    s = str(text if text is not None else "")
    s = s.encode("utf-8", "replace").decode("utf-8")
    return "".join(c for c in s if c in "\n\t" or unicodedata.category(c) != "Cc")


def yaml_str(value: Any) -> str:
    """A YAML double-quoted scalar that any YAML 1.1/1.2 parser reads back exactly."""
    out = ['"']
    for c in str(value).encode("utf-8", "replace").decode("utf-8"):
        o = ord(c)
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif o < 0x20 or 0x7F <= o <= 0x9F:
            out.append(f"\\x{o:02x}")
        elif o in (0x2028, 0x2029, 0xFEFF) or 0xD800 <= o <= 0xDFFF or o in (0xFFFE, 0xFFFF):
            out.append(f"\\u{o:04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _yaml_list(key: str, items: list[str]) -> list[str]:
    if not items:
        return [f"{key}: []"]
    return [f"{key}:"] + [f"  - {yaml_str(i)}" for i in items]


_INLINE = re.compile(r"([\\`*_\[\]<>&$~|^])")
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")


def md_text(text: Any) -> str:
    """Escape plain text so CommonMark (and Obsidian) renders it literally."""
    lines = []
    for line in clean(text).splitlines():
        line = _INLINE.sub(r"\\\1", line.strip())
        line = line.replace("==", "\\=\\=").replace("%%", "\\%\\%")
        line = _LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], line)
        lines.append(line)
    # one paragraph: blank lines inside would end a blockquote or list item
    return "\n".join(ln for ln in lines if ln)


def md_line(text: Any) -> str:
    """Escaped text on one line (for headings and list items)."""
    return md_text(" ".join(clean(text).split()))


def blockquote(text: Any) -> str:
    return "\n".join("> " + ln for ln in md_text(text).splitlines()) or ">"


def obsidian_tag(tag: str) -> str:
    """Obsidian tags allow letters, digits, ``_ - /`` and no spaces; keep the rest readable."""
    t = re.sub(r"[^\w/-]+", "-", clean(tag).strip().lstrip("#"), flags=re.UNICODE).strip("-")
    if t.isdigit():
        t = "tag-" + t
    return t or "tag"


def cite(c: Any) -> str:
    """``[¶12, p. 4]`` for a citation dict/object, ``[¶12]`` when the page is unknown."""
    if isinstance(c, int):
        return f"[¶{c}]"
    get = c.get if isinstance(c, dict) else lambda k, d=None: getattr(c, k, d)
    para, page = get("paragraph"), get("page")
    if para is None:
        return ""
    return f"[¶{para}, p. {page}]" if page else f"[¶{para}]"


# ---------------------------------------------------------------- rendering

def _section_order(key: str) -> tuple:
    if key == "tldr":
        return (0, 0, "")
    m = re.fullmatch(r"s(\d+)", key)
    return (1, int(m.group(1)), "") if m else (2, 0, key)


def _latest_summaries(summaries: list[dict]) -> list[dict]:
    """One summary per section key (the most recently updated, whatever the model)."""
    best: dict[str, dict] = {}
    for s in summaries:
        k = str(s.get("section_key", ""))
        if k not in best or str(s.get("updated", "")) > str(best[k].get("updated", "")):
            best[k] = s
    return [best[k] for k in sorted(best, key=_section_order)]


def render_highlights(highlights: list) -> list[str]:
    """The "## Highlights" section: page order, a heading per mark (page, colour, kind), the
    quoted text as a blockquote, then its note.  A note made here is the reader's Markdown;
    one read from the PDF's annotations (and its author) is escaped like other PDF text."""
    if not highlights:
        return []
    out = ["## Highlights"]
    for h in highlights:
        what = [f"p. {h.page}", h.color_name] + ([] if h.kind == "highlight" else
                                                 ["comment" if h.kind in ("text", "freetext") else h.kind])
        out.append("### " + " · ".join(what))
        if h.text:
            out.append(blockquote(h.text))
        note = clean(h.note).strip()
        if note:
            out.append(note if h.source == "user" else md_text(note))
        if h.source in ("pdf", "zotero"):
            where = "the PDF" if h.source == "pdf" else "Zotero"
            out.append(f"*From {where}{(' — ' + md_line(h.author)) if h.author.strip() else ''}*")
    return out


def render_paper(paper, notes: list, summaries: list[dict], history: list, citekey: str | None = None,
                 highlights: list = ()) -> str:
    title = clean(paper.title).strip()
    fm = ["---", f"title: {yaml_str(title or 'Untitled')}"]
    fm += _yaml_list("authors", [clean(a) for a in paper.authors])
    fm.append(f"year: {int(paper.year)}" if paper.year else "year: null")
    fm.append(f"doi: {yaml_str(clean(paper.doi))}" if paper.doi else "doi: null")
    fm.append(f"arxiv: {yaml_str(clean(paper.arxiv_id))}" if paper.arxiv_id else "arxiv: null")
    fm += _yaml_list("tags", list(dict.fromkeys(obsidian_tag(t) for t in paper.tags)))
    fm.append(f"source: {yaml_str(clean(paper.file or paper.original_path))}")
    fm.append(f"id: {yaml_str(paper.id)}")
    if citekey:
        fm.append(f"citekey: {yaml_str(citekey)}")
    fm.append("---")
    out = ["\n".join(fm), f"# {md_line(title) or 'Untitled'}"]
    byline = ", ".join(clean(a) for a in paper.authors)
    if paper.year:
        byline = f"{byline} ({paper.year})" if byline else str(paper.year)
    if byline:
        out.append(md_line(byline))
    if citekey:
        out.append(f"Cite as: `{citekey}` (in {BIB_NAME})")
    if clean(paper.abstract).strip():
        out += ["## Abstract", md_text(paper.abstract)]

    out += render_highlights(list(highlights))
    out.append("## Notes")
    if not notes:
        out.append("*No notes.*")
    for n in notes:
        out.append(f"### p. {n.page}" if n.page else "### General note")
        if n.quote:
            out.append(blockquote(n.quote))
        out.append(clean(n.text).strip())

    latest = _latest_summaries(summaries)
    if latest:
        out.append("## Summaries")
        models = sorted({str(s.get("model")) for s in latest if s.get("model")})
        if models:
            out.append(f"*Model: {md_line(', '.join(models))}*")
        for s in latest:
            heading = "TL;DR" if s.get("section_key") == "tldr" else (s.get("title") or s.get("section_key"))
            out.append(f"### {md_line(heading)}")
            body = md_text(s.get("summary", "")) or "*(empty)*"
            cites = " ".join(filter(None, (cite(c) for c in s.get("citations") or [])))
            out.append(f"{body} {cites}".rstrip())

    if history:
        out.append("## Questions and answers")
        for a in history:
            out.append(f"### Q: {md_line(a.question)}")
            meta = " · ".join(md_line(x) for x in (a.mode, a.model, (a.created or "")[:10]) if x)
            if meta:
                out.append(f"*{meta}*")
            body = md_text(a.answer) or "*(no answer)*"
            if not a.answerable:
                body += "\n\n*The paper does not seem to answer this.*"
            out.append(body)
            if a.citations:
                items = []
                for c in a.citations:
                    where = f" *{md_line(c.section)}*" if c.section else ""
                    excerpt = md_line(" ".join(clean(c.text).split())[:200])
                    flag = "" if c.verified else " (unverified)"
                    items.append(f"- {cite(c)}{where}{flag}" + (f": {excerpt}" if excerpt else ""))
                out.append("\n".join(items))
    return "\n\n".join(x for x in out if x is not None) + "\n"


def render_index(title: str, entries: list[tuple[str, Any]]) -> str:
    lines = ["---", f"title: {yaml_str(clean(title))}", "---", "", f"# {md_line(title)}", ""]
    for name, paper in entries:
        label = md_line(paper.title) or "Untitled"
        extra = ", ".join(clean(a) for a in paper.authors[:3]) + (" et al." if len(paper.authors) > 3 else "")
        if paper.year:
            extra = f"{extra} ({paper.year})" if extra else str(paper.year)
        lines.append(f"- [{label}]({urlquote(name + '.md')})" + (f" — {md_line(extra)}" if extra else ""))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- writing

def export_papers(lib, paper_ids: Iterable[str], out_dir: str | os.PathLike, *, force: bool = False,
                  index_title: str | None = None) -> list[Path]:
    """Write one Markdown file per paper into ``out_dir``, ``references.bib`` with their
    BibTeX entries (merged into an existing one: its other entries stay, entries with the
    same keys are replaced), and ``index.md`` when ``index_title`` is given. Returns the paths
    written: papers first, then ``references.bib``, then ``index.md``.

    Raises BadInput, before writing anything, when a target exists and ``force`` is false,
    or when any target would land outside ``out_dir``.
    """
    ids = list(dict.fromkeys(lib.resolve_id(i) for i in paper_ids))
    if not ids:
        raise BadInput("nothing to export")
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out} exists and is not a folder")
    root = out.resolve()

    papers = [lib.get_paper(pid, with_paragraphs=False) for pid in ids]
    names = unique_names([slugify(p.title, p.id[:12]) for p in papers], ids,
                         reserved={INDEX_NAME} if index_title is not None else set())
    targets = [root / f"{n}.md" for n in names] + [root / BIB_NAME]
    if index_title is not None:
        targets.append(root / f"{INDEX_NAME}.md")

    for t in targets:  # every check before any write
        if t.parent != root or t.resolve().parent != root or t.name in (".md", "..md"):
            raise BadInput(f"refusing to write {t.name!r}: it would land outside {root}")
        merged = t.name == BIB_NAME and not t.is_symlink() and not t.is_dir()  # merged, never lost
        if os.path.lexists(t) and not merged and (not force or t.is_dir() or t.is_symlink()):
            if t.is_dir():
                raise BadInput(f"{t} is a folder")
            existing = [x.name for x in targets if os.path.lexists(x) and x.name != BIB_NAME]
            raise BadInput(f"{len(existing)} file(s) already exist in {root} ({', '.join(existing[:3])}"
                           f"{', ...' if len(existing) > 3 else ''}); use --force to overwrite")

    # render everything first: a failing lookup must not leave a half-written export
    keys = cite_keys(papers)
    texts = [render_paper(p, lib.notes(p.id), lib.summaries(p.id), lib.qa_history(p.id), citekey=k,
                          highlights=lib.highlights(p.id))
             for p, k in zip(papers, keys)]
    bib = root / BIB_NAME
    try:
        texts.append(merge(bib.read_text(encoding="utf-8"), bibliography(papers)) if bib.is_file()
                     else bibliography(papers))
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"cannot read {bib}: {getattr(e, 'strerror', None) or e}") from None
    if index_title is not None:
        texts.append(render_index(index_title, list(zip(names, papers))))
    try:
        root.mkdir(parents=True, exist_ok=True)
        for t, text in zip(targets, texts):
            atomic_write(t, text, mode=0o644)  # a link at t is replaced, never followed
    except OSError as e:
        raise BadInput(f"cannot write to {root}: {e.strerror or e}") from None
    return targets
