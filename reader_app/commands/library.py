"""Library commands: add, list, show, search, tag, untag, remove, note, notes, export, bibtex."""

from __future__ import annotations

import os
from pathlib import Path

from reader_app.commands.common import (add_common, authors_text, ocr_progress, open_library, report_failures,
                                        short, table)
from reader_app.commands.highlights import export_annotated
from reader_app.core.errors import BadInput, NotFound, ReaderError
from reader_app.core.files import atomic_write
from reader_app.export.bibtex import bibliography, cite_keys
from reader_app.export.markdown import export_papers
from reader_app.library.import_links import ImportLinks


def register(sub) -> None:
    p = add_common(sub.add_parser("add", help="import PDF files into the library"))
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--tag", action="append", default=[], metavar="T")
    p.add_argument("--password", metavar="PW", default=None)
    p.set_defaults(func=cmd_add, render=render_add)

    p = add_common(sub.add_parser("list", help="list papers"))
    p.add_argument("--tag", metavar="T", default=None)
    p.set_defaults(func=cmd_list, render=render_list)

    p = add_common(sub.add_parser("show", help="show a paper's metadata and structure"))
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=cmd_show, render=render_show)

    p = add_common(sub.add_parser("search", help="full-text search over paragraphs"))
    p.add_argument("query", metavar="QUERY")
    p.add_argument("--tag", metavar="T", default=None)
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_search, render=render_search)

    for name, func in (("tag", cmd_tag), ("untag", cmd_untag)):
        p = add_common(sub.add_parser(name, help=f"{name} a paper"))
        p.add_argument("id", metavar="ID")
        p.add_argument("tags", nargs="+", metavar="TAG")
        p.set_defaults(func=func, render=lambda r: f"{r['id'][:12]}  tags: {', '.join(r['tags']) or '(none)'}")

    p = add_common(sub.add_parser("remove", help="remove a paper, its notes and stored copy"))
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=cmd_remove, render=lambda r: f"removed {r['id'][:12]}  {r['title']}")

    p = add_common(sub.add_parser("note", help="add a note to a paper; prints the note id"))
    p.add_argument("id", metavar="ID")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--page", type=int, default=None)
    p.add_argument("--quote", default=None)
    p.set_defaults(func=cmd_note, render=lambda r: str(r["id"]))

    p = add_common(sub.add_parser("notes", help="list a paper's notes"))
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=cmd_notes, render=render_notes)

    p = add_common(sub.add_parser("export", help="export papers and notes to Markdown"))
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--tag", metavar="T", default=None)
    p.add_argument("--all", action="store_true")
    p.add_argument("--out", metavar="DIR", default=None, help="folder for the Markdown files")
    p.add_argument("--annotated-pdf", metavar="OUT.pdf", default=None,
                   help="write a copy of the paper's PDF with its highlights as annotations")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=cmd_export, render=lambda r: "\n".join(r["files"]) or "nothing to export")

    p = add_common(sub.add_parser("bibtex", help="print or write BibTeX entries for papers"))
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--tag", metavar="T", default=None)
    p.add_argument("--all", action="store_true")
    p.add_argument("--out", metavar="FILE", default=None, help="write a .bib file (replaced atomically)")
    p.set_defaults(func=cmd_bibtex, render=lambda r: r["out"] if r["out"] else r["bib"].rstrip("\n"))


# --- add --------------------------------------------------------------------------

def import_file(lib, path: str, password: str | None, tags: list[str]) -> dict:
    """Import one PDF; returns the CLI's per-file object. Raises ReaderError on refusal."""
    # deferred: pdf/ loads PyMuPDF (~0.9 s); --help stays fast
    from reader_app.pdf import extract_paper_isolated, sha256_file

    p = Path(path)
    if not p.exists():
        raise BadInput(f"no such file: {path}")
    if not p.is_file():
        raise BadInput(f"not a file: {path}")
    try:
        digest = sha256_file(p)
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        paper_id, duplicate = lib.resolve_id(digest), True  # same bytes: skip extraction
    except NotFound:
        paper = extract_paper_isolated(str(p), password=password, on_progress=ocr_progress)
        paper_id, duplicate = lib.add_paper(paper, str(p))
    if tags:
        lib.add_tags(paper_id, tags)
    paper = lib.get_paper(paper_id, with_paragraphs=False)
    return {
        "file": path,
        "id": paper_id,
        "title": paper.title,
        "pages": paper.pages,
        "sections": len(paper.sections),
        "duplicate": duplicate,
    }


def cmd_add(args):
    results = []
    with open_library(args) as lib:
        for path in args.files:
            try:
                results.append(import_file(lib, path, args.password, args.tag))
            except ReaderError as exc:
                results.append({"file": path, "error": str(exc)})
    return report_failures(args, results, "file")


def render_add(results) -> str:
    lines = []
    for r in results:
        if "error" in r:
            continue
        state = "already in library" if r["duplicate"] else "added"
        lines.append(f"{r['id'][:12]}  {state}: {short(r['title'] or r['file'], 70)} "
                     f"({r['pages']} pages, {r['sections']} sections)")
    return "\n".join(lines)


# --- list / show / search ------------------------------------------------------------

def cmd_list(args):
    with open_library(args) as lib:
        papers = lib.list_papers(tag=args.tag)
    return [
        {"id": p.id, "title": p.title, "authors": p.authors, "year": p.year, "tags": p.tags, "pages": p.pages}
        for p in papers
    ]


def render_list(rows) -> str:
    if not rows:
        return "The library is empty. Add papers with: reader-app add FILE.pdf"
    return table(
        ([r["id"][:12], short(r["title"], 50), authors_text(r["authors"], 2), r["year"] or "",
          ", ".join(r["tags"])] for r in rows),
        ["ID", "TITLE", "AUTHORS", "YEAR", "TAGS"],
    )


def cmd_show(args):
    with open_library(args) as lib:
        paper = lib.get_paper(args.id, with_paragraphs=True)
        imported = ImportLinks(lib, "").paper_data(paper.id)  # from Zotero or a .bib file
    return {
        "id": paper.id,
        "title": paper.title,
        "authors": paper.authors,
        "year": paper.year,
        "doi": paper.doi,
        "arxiv_id": paper.arxiv_id,
        "pages": paper.pages,
        "tags": paper.tags,
        "sections": [{"title": s.title, "level": s.level, "page": s.page} for s in paper.sections],
        "paragraphs": len(paper.paragraphs),
        "warnings": paper.warnings,
        "ocr": bool(paper.ocr_pages),
        "ocr_pages": paper.ocr_pages,
        "file": paper.file,
        "publication": imported.get("publication") or None,
        "url": imported.get("url") or None,
    }


def render_show(r) -> str:
    lines = [r["title"] or "(untitled)", authors_text(r["authors"], 8)]
    meta = [f"id {r['id'][:12]}", f"{r['pages']} pages", f"{r['paragraphs']} paragraphs"]
    if r["year"]:
        meta.append(str(r["year"]))
    if r["doi"]:
        meta.append(f"doi:{r['doi']}")
    if r["arxiv_id"]:
        meta.append(f"arXiv:{r['arxiv_id']}")
    lines.append(" · ".join(meta))
    if r.get("publication"):
        lines.append(f"in {r['publication']}")
    if r.get("url"):
        lines.append(r["url"])
    if r["tags"]:
        lines.append("tags: " + ", ".join(r["tags"]))
    for w in r["warnings"]:
        lines.append(f"warning: {w}")
    lines.append("")
    lines += [f"{'  ' * (s['level'] - 1)}{s['title']}  (p. {s['page']})" for s in r["sections"]]
    return "\n".join(x for x in lines if x is not None)


def cmd_search(args):
    if not args.query.strip():
        raise BadInput("empty search query")
    with open_library(args) as lib:
        hits = lib.search(args.query, tag=args.tag, limit=args.limit)
    return [
        {"paper_id": h.paper_id, "title": h.title, "page": h.page, "section": h.section, "snippet": h.snippet}
        for h in hits
    ]


def render_search(rows) -> str:
    if not rows:
        return "no matches"
    return "\n\n".join(
        f"{r['paper_id'][:12]}  p. {r['page']}  {short(r['title'], 50)} — {short(r['section'], 30)}\n    {r['snippet']}"
        for r in rows
    )


# --- tags / remove ---------------------------------------------------------------------

def _tags_result(lib, paper_id):
    return {"id": paper_id, "tags": lib.get_paper(paper_id, with_paragraphs=False).tags}


def cmd_tag(args):
    with open_library(args) as lib:
        paper_id = lib.resolve_id(args.id)
        lib.add_tags(paper_id, args.tags)
        return _tags_result(lib, paper_id)


def cmd_untag(args):
    with open_library(args) as lib:
        paper_id = lib.resolve_id(args.id)
        lib.remove_tags(paper_id, args.tags)
        return _tags_result(lib, paper_id)


def cmd_remove(args):
    with open_library(args) as lib:
        paper = lib.get_paper(args.id, with_paragraphs=False)
        lib.remove_paper(paper.id)
    return {"id": paper.id, "title": paper.title, "removed": True}


# --- notes -------------------------------------------------------------------------------

def _note_dict(n) -> dict:
    return {"id": n.id, "page": n.page, "quote": n.quote, "text": n.text, "created": n.created}


def cmd_note(args):
    if not args.text.strip():
        raise BadInput("empty note text")
    with open_library(args) as lib:
        paper = lib.get_paper(args.id, with_paragraphs=False)
        if args.page is not None and not (1 <= args.page <= max(paper.pages, 1)):
            raise BadInput(f"page {args.page} is out of range (the paper has {paper.pages} pages)")
        note = lib.add_note(paper.id, args.text, page=args.page, quote=args.quote)
    return _note_dict(note)


def cmd_notes(args):
    with open_library(args) as lib:
        paper_id = lib.resolve_id(args.id)
        return [_note_dict(n) for n in lib.notes(paper_id)]


def render_notes(rows) -> str:
    if not rows:
        return "no notes"
    out = []
    for r in rows:
        head = f"#{r['id']}  " + (f"p. {r['page']}" if r["page"] else "(no page)") + f"  {r['created']}"
        body = [head]
        if r["quote"]:
            body.append(f"    > {r['quote']}")
        body.append("    " + r["text"].replace("\n", "\n    "))
        out.append("\n".join(body))
    return "\n\n".join(out)


# --- export ------------------------------------------------------------------------------

def _require_one_choice(args, command: str) -> None:
    if sum(bool(x) for x in (args.ids, args.tag, args.all)) != 1:
        raise BadInput(f"{command} needs exactly one of: paper IDs, --tag T, or --all")


def _chosen_ids(args, lib) -> tuple[list[str], str | None]:
    """(paper ids, index title) for the IDs (prefixes resolve), --tag T or --all."""
    if args.ids:
        return list(dict.fromkeys(lib.resolve_id(i) for i in args.ids)), None
    if args.tag:
        ids = [p.id for p in lib.list_papers(tag=args.tag)]
        if not ids:
            raise BadInput(f"no papers tagged {args.tag!r}")
        return ids, f"Papers tagged {args.tag}"
    ids = [p.id for p in lib.list_papers()]
    if not ids:
        raise BadInput("the library is empty")
    return ids, "Library"


def cmd_export(args):
    _require_one_choice(args, "export")
    if not args.out and not args.annotated_pdf:
        raise BadInput("export needs --out DIR (Markdown) or --annotated-pdf OUT.pdf")
    result = {"out": None, "files": []}
    with open_library(args) as lib:
        ids, index_title = _chosen_ids(args, lib)
        if args.annotated_pdf:
            if not args.ids:
                raise BadInput("--annotated-pdf takes exactly one paper ID")
            done = export_annotated(lib, ids, args.annotated_pdf, force=args.force)
            result.update(done, files=[done["annotated_pdf"]])
        if args.out:
            out = os.path.abspath(args.out)
            files = export_papers(lib, ids, out, force=args.force, index_title=index_title)
            result.update(out=out, files=result["files"] + [str(f) for f in files])
    return result


# --- bibtex ------------------------------------------------------------------------------

def _write_text_atomic(path: str, text: str) -> None:
    target = Path(path)
    if target.is_dir():
        raise BadInput(f"{path} is a folder; give a file name such as {os.path.join(path, 'references.bib')}")
    if not target.parent.is_dir():
        raise BadInput(f"no such folder: {target.parent}")
    try:
        atomic_write(target, text)  # a link at the target is replaced, never followed
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from None


def cmd_bibtex(args):
    _require_one_choice(args, "bibtex")
    with open_library(args) as lib:
        ids, _title = _chosen_ids(args, lib)
        papers = [lib.get_paper(i, with_paragraphs=False) for i in ids]
    text = bibliography(papers)
    out = None
    if args.out:
        out = os.path.abspath(args.out)
        _write_text_atomic(out, text)
    result = {"entries": len(papers), "keys": cite_keys(papers), "out": out}
    if out is None:
        result["bib"] = text  # --json without --out: the entries are in the JSON
    return result
