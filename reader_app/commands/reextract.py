"""reextract: run extraction again on stored PDFs (after an upgrade), keeping what hangs off them.

A paper's paragraph vectors (retrieval by meaning) are dropped with its old paragraphs; a
paper that had vectors of the embedding model gets new ones at once (``vectors`` in its
row: how many), unless the ``semantic_search`` setting is off or the model is unusable
(one line; ``reader-app vectors`` or the window computes them later).
"""

from __future__ import annotations

import sys

from reader_app import settings
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
    vectors = _Revectors()
    with open_library(args) as lib:
        ids = list(dict.fromkeys(lib.resolve_id(i) for i in args.ids)) if args.ids else \
            [p.id for p in lib.list_papers()]
        if not ids:
            raise BadInput("the library is empty")
        try:
            for pid in ids:
                old = lib.get_paper(pid, with_paragraphs=False)
                row = {"id": pid, "title": old.title, "sections_before": len(old.sections)}
                had = lib.vector_models(pid)  # replace_extraction drops them
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
                           ocr_pages=paper.ocr_pages, warnings=paper.warnings, vectors=vectors.redo(lib, pid, had))
                results.append(row)
        finally:
            vectors.close()
    return report_failures(args, results, "id", 12)


class _Revectors:
    """New vectors for re-extracted papers that had some, with the embedding model opened
    once, on the first such paper."""

    def __init__(self):
        self._hybrid = None
        self._embedder = None
        self._tried = False

    def redo(self, lib, pid: str, had: list[str]) -> int:
        """The paper's new vectors (how many), or 0 when it had none of this model (or the
        setting is off, or the model is unusable)."""
        if not had or not settings.current().semantic_search:
            return 0
        if not self._tried:
            self._tried = True
            # deferred: the embedder pulls in llama.cpp and numpy, needed only for papers with vectors
            from reader_app.assistant import hybrid

            self._hybrid = hybrid
            self._embedder, note = hybrid.open_retrieval()
            if note:
                print(f"reader-app: {note}; run `reader-app vectors` once it is usable", file=sys.stderr, flush=True)
        if self._embedder is None or self._embedder.name not in had:
            return 0
        return self._hybrid.embed_paper(lib, pid, self._embedder)

    def close(self) -> None:
        if self._embedder is not None:
            self._embedder.close()


def render_reextract(results) -> str:
    lines = []
    for r in results:
        if "error" in r:
            continue
        ocr = f", OCR pages {len(r['ocr_pages'])}" if r["ocr_pages"] else ""
        lines.append(f"{r['id'][:12]}  {short(r['title'], 60)}  sections {r['sections_before']} -> "
                     f"{r['sections']}, {r['paragraphs']} paragraphs{ocr}")
    return "\n".join(lines)
