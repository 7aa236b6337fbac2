"""Retrieval by meaning from the command line.

``reader-app vectors [--embedder FILE.gguf]``: compute the paragraph vectors of every paper
without fresh ones (new papers, papers re-extracted since, vectors computed from another
text), with a progress bar on stderr.

``reader-app find QUESTION [--top N] [--words-only]``: the papers that answer a question
best, by BM25 fused with the embedding model's vectors (by words alone without a usable
embedding model, saying so in one line).  An empty library, or a question of only common
words, is one clear error line.

The setting ``semantic_search: false`` turns retrieval by meaning off: ``find`` ranks by
words, ``vectors`` refuses in one line.
"""

from __future__ import annotations

import sys

from reader_app import settings
from reader_app.commands.common import add_common, open_library, short
from reader_app.core.errors import BadInput


def register(sub) -> None:
    p = add_common(sub.add_parser("vectors", help="compute paragraph vectors for retrieval by meaning"))
    p.add_argument("--embedder", metavar="FILE.gguf", default=None,
                   help="embedding model (default: the embedded all-MiniLM-L6-v2)")
    p.set_defaults(func=cmd_vectors, render=render_vectors)
    p = add_common(sub.add_parser("find", help="which papers answer a question (words and meaning)"))
    p.add_argument("question", metavar="QUESTION")
    p.add_argument("--top", type=int, default=5, metavar="N")
    p.add_argument("--words-only", action="store_true", help="rank by words (BM25) only")
    p.add_argument("--embedder", metavar="FILE.gguf", default=None)
    p.set_defaults(func=cmd_find, render=render_find)


def _hybrid():
    # deferred: pulls in llama.cpp and numpy; --help stays fast
    from reader_app.assistant import hybrid

    return hybrid


OFF = ("retrieval by meaning is off in the settings (semantic_search: false); "
       "turn it on to compute paragraph vectors")


def _retrieval(args):
    hybrid = _hybrid()
    embedder, note = hybrid.open_retrieval(args.embedder, enabled=settings.current().semantic_search)
    if note:
        print(f"reader-app: {note}", file=sys.stderr, flush=True)
    return hybrid, embedder


def cmd_vectors(args):
    if not settings.current().semantic_search:
        raise BadInput(OFF)
    hybrid, embedder = _retrieval(args)
    if embedder is None:
        args.exit_code = 2
        return None
    tty = sys.stderr.isatty()

    def progress(done: int, total: int, title: str) -> None:
        if tty and total:
            sys.stderr.write(f"\r\033[Kvectors {done}/{total} {short(title, 50)}")
            sys.stderr.flush()

    try:
        with open_library(args) as lib:
            done = hybrid.embed_library(lib, embedder, progress)
            have, total = lib.vector_count(embedder.name)
    finally:
        embedder.close()
    if tty:
        sys.stderr.write("\r\033[K")
    return {"model": embedder.name, "computed": done, "papers_with_vectors": have, "papers": total}


def render_vectors(r) -> str:
    if r is None:
        return ""
    return (f"{r['computed']} paper(s) embedded; {r['papers_with_vectors']} of {r['papers']} papers have "
            f"vectors ({r['model']})")


def cmd_find(args):
    if args.top < 1:
        raise BadInput("--top must be at least 1")
    with open_library(args) as lib:
        hybrid, embedder = _retrieval(args) if not args.words_only else (_hybrid(), None)
        try:
            hybrid.check_question(lib, args.question)
            ids = hybrid.candidate_papers(lib, args.question, embedder, most=args.top)
            papers = [lib.get_paper(pid, with_paragraphs=False) for pid in ids]
        finally:
            if embedder is not None:
                embedder.close()
    return [{"paper_id": p.id, "title": p.title, "year": p.year} for p in papers]


def render_find(rows) -> str:
    if not rows:
        return "no paper matches the question"
    return "\n".join(f"{i + 1}. {r['paper_id'][:12]}  {short(r['title'], 70)}" + (f" ({r['year']})" if r["year"] else "")
                     for i, r in enumerate(rows))
