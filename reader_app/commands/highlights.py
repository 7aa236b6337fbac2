"""Highlight commands: highlights, highlight, unhighlight (and ``export --annotated-pdf``)."""

from __future__ import annotations

import os
from pathlib import Path

from reader_app.commands.common import add_common, open_library, short
from reader_app.core.errors import BadInput
from reader_app.core.model import HIGHLIGHT_COLORS


def register(sub) -> None:
    p = add_common(sub.add_parser("highlights", help="list a paper's highlights (and the PDF's own annotations)"))
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=cmd_highlights, render=render_highlights)

    p = add_common(sub.add_parser("highlight", help="highlight text on a page; prints the highlight id"))
    p.add_argument("id", metavar="ID")
    p.add_argument("--page", type=int, required=True, metavar="N")
    p.add_argument("--text", required=True, metavar="TEXT", help="the exact words to highlight")
    p.add_argument("--color", default="yellow", metavar="C", help=f"{', '.join(HIGHLIGHT_COLORS)} or #rrggbb")
    p.add_argument("--note", default="", metavar="N", help="a note on the highlight (Markdown)")
    p.set_defaults(func=cmd_highlight, render=lambda r: str(r["id"]))

    p = add_common(sub.add_parser("unhighlight", help="delete a highlight"))
    p.add_argument("id", metavar="ID")
    p.add_argument("highlight_id", type=int, metavar="HIGHLIGHT_ID")
    p.set_defaults(func=cmd_unhighlight, render=lambda r: f"deleted highlight {r['deleted']}")


def cmd_highlights(args):
    with open_library(args) as lib:
        return [h.to_dict() for h in lib.highlights(args.id)]


def render_highlights(rows) -> str:
    if not rows:
        return "no highlights"
    out = []
    for r in rows:
        head = f"#{r['id']}  p. {r['page']}  {r['color_name']} {r['kind']}"
        if r["source"] in ("pdf", "zotero"):
            where = "the PDF" if r["source"] == "pdf" else "Zotero"
            head += f"  (from {where}{', ' + r['author'] if r['author'] else ''})"
        body = [head]
        if r["text"]:
            body.append(f"    > {short(r['text'], 300)}")
        if r["note"]:
            body.append("    " + r["note"].replace("\n", "\n    "))
        out.append("\n".join(body))
    return "\n\n".join(out)


def cmd_highlight(args):
    # deferred: pdf/ loads PyMuPDF (~0.9 s); --help stays fast
    from reader_app.pdf.annotations import find_text

    with open_library(args) as lib:
        paper = lib.get_paper(args.id, with_paragraphs=False)
        if not paper.file:
            raise BadInput("the paper has no stored PDF to highlight")
        if not 1 <= args.page <= max(paper.pages, 1):
            raise BadInput(f"page {args.page} is out of range (the paper has {paper.pages} pages)")
        boxes, words = find_text(paper.file, args.page, args.text)
        h = lib.add_highlight(paper.id, args.page, boxes, text=words, color=args.color, note=args.note)
    return h.to_dict()


def cmd_unhighlight(args):
    with open_library(args) as lib:
        pid = lib.resolve_id(args.id)
        h = lib.get_highlight(args.highlight_id)
        if h.paper_id != pid:
            raise BadInput(f"highlight {args.highlight_id} belongs to another paper ({h.paper_id[:12]})")
        lib.delete_highlight(h.id)
    return {"id": pid, "deleted": h.id}


def export_annotated(lib, paper_ids: list[str], out: str, force: bool = False) -> dict:
    """``export ID --annotated-pdf OUT.pdf``: a copy of the paper's PDF with its highlights
    as standard annotations (those read from the PDF are in the copy already: recoloured,
    re-noted or deleted here, they are changed or dropped in the copy)."""
    # deferred: pdf/ loads PyMuPDF (~0.9 s); --help stays fast
    from reader_app.pdf.annotations import write_annotated

    if len(paper_ids) != 1:
        raise BadInput("--annotated-pdf takes exactly one paper ID")
    paper = lib.get_paper(paper_ids[0], with_paragraphs=False)
    if not paper.file or not Path(paper.file).is_file():
        raise BadInput("the paper has no stored PDF to annotate")
    target = os.path.abspath(out)
    if os.path.lexists(target) and not force:
        raise BadInput(f"{target} already exists; use --force to overwrite")
    if paper.original_path and os.path.exists(target) and os.path.samefile(target, paper.original_path):
        raise BadInput("the annotated copy cannot replace the original PDF; choose another file name")
    marks = lib.highlights(paper.id)
    imported = {h.key: h for h in marks if h.source == "pdf"}
    imported.update((k, None) for k in lib.deleted_import_keys(paper.id))
    added = write_annotated(paper.file, target, [h for h in marks if h.source != "pdf"], imported=imported)
    return {"id": paper.id, "annotated_pdf": target, "annotations": added}
