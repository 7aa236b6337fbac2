"""reextract: run extraction again on stored PDFs (after an upgrade), keeping what hangs off them."""

from __future__ import annotations

from reader_app.commands.common import add_common, ocr_progress, open_library, report_failures, short
from reader_app.core.errors import BadInput, ReaderError


def register(sub) -> None:
    p = add_common(sub.add_parser(
        "reextract", help="extract stored PDFs again (notes, tags, Q&A and summaries are kept)"))
    p.add_argument("ids", nargs="*", metavar="ID")
    p.add_argument("--all", action="store_true", help="every paper in the library")
    p.set_defaults(func=cmd_reextract, render=render_reextract)


def cmd_reextract(args):
    # deferred: pdf/ loads PyMuPDF (~0.9 s); --help stays fast
    from reader_app.pdf import extract_paper_isolated

    if bool(args.ids) == bool(args.all):
        raise BadInput("reextract needs paper IDs or --all (not both)")
    results = []
    with open_library(args) as lib:
        ids = list(dict.fromkeys(lib.resolve_id(i) for i in args.ids)) if args.ids else \
            [p.id for p in lib.list_papers()]
        if not ids:
            raise BadInput("the library is empty")
        for pid in ids:
            old = lib.get_paper(pid, with_paragraphs=False)
            row = {"id": pid, "title": old.title, "sections_before": len(old.sections)}
            try:
                if not old.file:
                    raise BadInput("no stored PDF (imported without a file)")
                new = extract_paper_isolated(old.file, on_progress=ocr_progress)
                paper = lib.replace_extraction(pid, new)
            except ReaderError as exc:
                row["error"] = str(exc)
                results.append(row)
                continue
            row.update(title=paper.title, sections=len(paper.sections), paragraphs=lib.paragraph_count(pid),
                       ocr_pages=paper.ocr_pages, warnings=paper.warnings)
            results.append(row)
    return report_failures(args, results, "id", 12)


def render_reextract(results) -> str:
    lines = []
    for r in results:
        if "error" in r:
            continue
        ocr = f", OCR pages {len(r['ocr_pages'])}" if r["ocr_pages"] else ""
        lines.append(f"{r['id'][:12]}  {short(r['title'], 60)}  sections {r['sections_before']} -> "
                     f"{r['sections']}, {r['paragraphs']} paragraphs{ocr}")
    return "\n".join(lines)
