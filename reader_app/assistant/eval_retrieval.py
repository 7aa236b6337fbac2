"""``reader-app eval qasper FILE --retrieval-only``: how well each ranking finds the evidence.

No language model: the first ``papers`` QASPER papers go into one SQLite library (a
temporary one, or ``library_dir`` to keep their vectors between runs), their paragraph
vectors are computed by the embedding model, and for each question with gold evidence:

- **within its paper**: is a gold evidence paragraph among the top 5 paragraphs?
- **across the library**: is its paper the first (top-1) / among the first 3 candidate papers?

for BM25 alone, dense alone, and both fused (reciprocal rank and weighted).  Without an
embedding model only BM25 is reported, with the one line saying why.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable

from reader_app.assistant import hybrid, qasper
from reader_app.assistant.ranking import rank as bm25_rank
from reader_app.core.errors import BadInput, NotFound

TOP = 5
RANKINGS = ("bm25", "dense", "rrf", "weighted")


def gold_paragraphs(paper, entry_q: dict) -> set[int]:
    """Indexes of the paper's paragraphs that an annotator gave as evidence (tables left out)."""
    texts = {" ".join(e.split()) for a in entry_q.get("answers") or []
             for e in a["answer"].get("evidence") or [] if not e.startswith("FLOAT SELECTED")}
    return {p.index for p in paper.paragraphs if " ".join(p.text.split()) in texts}


def _within(paper, question: str, embedder, lib) -> dict[str, list[int]]:
    words = bm25_rank(paper, question, lib)
    out = {"bm25": [i for i, _ in words]}
    if embedder is not None:
        dense = hybrid.dense_rank(paper, question, embedder, lib)
        out["dense"] = [i for i, _ in dense]
        for how in ("rrf", "weighted"):
            out[how] = [i for i, _ in hybrid.fuse([words, dense], how, hybrid.fusion_weights(how))]
    return out


def _across(lib, question: str, embedder) -> dict[str, list[str]]:
    out = {"bm25": hybrid.candidate_papers(lib, question, None, most=10)}
    if embedder is not None:
        out["dense"] = hybrid.candidate_papers(lib, question, embedder, most=10, words=False)
        for how in ("rrf", "weighted"):
            out[how] = hybrid.candidate_papers(lib, question, embedder, most=10, how=how, dense_weight=0.5)
    return out


def run_retrieval(path: str, *, papers: int = 40, skip: int = 0, embedder=None, note: str = "",
                  library_dir: str | None = None, on_progress: Callable[[str], None] | None = None) -> dict:
    from reader_app.library import Library  # deferred: assistant/ modules reach the library through a handle

    data = qasper.load_dataset(path)
    ids = list(data)[skip:][:papers]
    if not ids:
        raise BadInput(f"--skip {skip} passes over all {len(data)} papers")
    with tempfile.TemporaryDirectory(prefix="reader-app-retrieval-") as tmp:
        lib = Library.open(library_dir or tmp)
        try:
            for arxiv_id in ids:
                try:
                    lib.get_paper(f"qasper:{arxiv_id}", with_paragraphs=False)
                except NotFound:
                    lib.add_paper(qasper.paper_from_qasper(arxiv_id, data[arxiv_id]))
            embed_s = 0.0
            if embedder is not None:
                t0 = time.perf_counter()
                hybrid.embed_library(lib, embedder, (lambda d, n, t: on_progress(f"vectors {d}/{n} {t[:50]}"))
                                     if on_progress else None)
                embed_s = time.perf_counter() - t0
            within: dict[str, list[bool]] = {}
            top1: dict[str, list[bool]] = {}
            top3: dict[str, list[bool]] = {}
            secs: dict[str, list[float]] = {}
            for arxiv_id in ids:
                pid = f"qasper:{arxiv_id}"
                paper = lib.get_paper(pid)
                for q in data[arxiv_id].get("qas") or []:
                    gold = gold_paragraphs(paper, q)
                    if not gold:
                        continue
                    for name, ranked in _within(paper, q["question"], embedder, lib).items():
                        within.setdefault(name, []).append(bool(gold & set(ranked[:TOP])))
                    t = time.perf_counter()
                    for name, cands in _across(lib, q["question"], embedder).items():
                        top1.setdefault(name, []).append(cands[:1] == [pid])
                        top3.setdefault(name, []).append(pid in cands[:3])
                    secs.setdefault("across", []).append(time.perf_counter() - t)
                if on_progress:
                    on_progress(f"{arxiv_id}: {len(within.get('bm25', []))} questions so far")
        finally:
            lib.close()
    share = (lambda xs: round(sum(xs) / len(xs), 4) if xs else None)
    return {
        "dataset": "qasper", "mode": "retrieval", "papers": len(ids), "skipped": skip,
        "questions": len(within.get("bm25", [])), "embedder": embedder.name if embedder else None,
        "note": note,
        "gold_paragraph_top5": {k: share(v) for k, v in within.items()},
        "paper_top1": {k: share(v) for k, v in top1.items()},
        "paper_top3": {k: share(v) for k, v in top3.items()},
        "embed_s": round(embed_s, 1),
        "rank_across_s_median": round(statistics.median(secs["across"]), 3) if secs.get("across") else None,
    }

