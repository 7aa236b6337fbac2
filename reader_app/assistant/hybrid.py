"""Retrieval by meaning: BM25 (FTS5) fused with dense vectors from a small embedding model.

Within one paper, ``hybrid_rank`` fuses the paper's BM25 ranking (``ranking.rank``) with the
cosine of the question's vector against each paragraph's, by reciprocal rank (RRF, k=60;
chosen over a weighted sum of normalized scores by measurement, docs/evaluation.md).  A
paragraph's vector is that of its section title and text; vectors come from the library
when stored and fresh (same text hash: a stale vector is never used), else are computed on
the spot, so a paper ranks the same whether or not it is in the library.  ``hybrid_ranker``
(the app's and ``ask --quick``'s) ranks a library paper whose fresh vectors are not all
stored yet by BM25 and says so (``on_missing``), so a question never waits for vectors.  Across the library, ``library_hybrid`` fuses
the library's BM25 paragraphs with the nearest stored vectors, and ``candidate_papers``
scores a paper by the sum of its best 3 fused paragraphs (weighted, dense 0.3: across papers
no fusion beat BM25 on QASPER, so library answers keep BM25's candidate papers and use the
hybrid ranking within each).

No embedding model (missing, corrupt, wrong architecture): ``open_retrieval`` returns None
and one line saying ranking is by words only; every function here then ranks by BM25.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import numpy as np

from reader_app.assistant.ranking import Ranker, paper_scores, rank as bm25_rank
from reader_app.core.errors import BadInput, ModelError, NotFound
from reader_app.core.model import Paper, Paragraph
from reader_app.core.recent import Recent
from reader_app.library.ranking import RANKED_KINDS, ranked_paragraphs, section_title
from reader_app.library.vectors import text_hash, vector_text
from reader_app.library.words import content_words
from reader_app.llm.embedder import Embedder, open_embedder

log = logging.getLogger("reader_app")
RRF_K = 60  # reciprocal-rank constant (Cormack et al. 2009)
DENSE_WEIGHT = 0.5  # weighted fusion: share of the (min-max normalized) cosine
# across the library (``candidate_papers``): the best fused variant measured on QASPER, which
# only ties BM25 there (paper top-1 48.0% both) and on the topical questions (docs/evaluation.md)
LIBRARY_FUSION, LIBRARY_DENSE_WEIGHT = "weighted", 0.3
LIBRARY_DENSE = 300  # nearest paragraphs taken from the library's vectors
FUSIONS = ("rrf", "weighted")
BATCH = 8  # paragraphs embedded between two ``between()`` calls (~0.6 s on one thread)


_recent = Recent(8)  # vectors of the last papers outside the library, by (model, paper id); hashes checked


def open_retrieval(path=None, threads: int = 1, enabled: bool = True) -> tuple[Embedder | None, str]:
    """(embedder, "") or (None, the one line saying ranking is by words only); ``enabled``:
    the ``semantic_search`` setting; off, it is (None, ""): no model, and nothing to say
    (the reader chose words only)."""
    if not enabled:
        return None, ""
    try:
        return open_embedder(path, threads=threads), ""
    except ModelError as exc:
        return None, f"retrieval by meaning is off ({exc}); ranking by words (BM25) only"


def passage_text(paper: Paper, p: Paragraph) -> str:
    return vector_text(section_title(paper, p), p.text)


def _stored(library, paper: Paper, model: str) -> dict | None:
    if library is None or not paper.id:
        return None
    try:
        return library.stored_vectors(paper.id, model)
    except NotFound:
        return None


def _texts(paper: Paper, kinds: Iterable[str] = RANKED_KINDS) -> dict[int, str]:
    return {p.index: passage_text(paper, p) for p in ranked_paragraphs(paper, kinds)}


def fresh_vectors(paper: Paper, model: str, library, kinds: Iterable[str] = RANKED_KINDS
                  ) -> dict[int, np.ndarray] | None:
    """{paragraph index: vector} when the library holds a fresh vector of ``model`` for each
    paragraph a question is ranked against; None when some are missing or stale (or the
    paper is not in the library)."""
    return _all_fresh(paper, _stored(library, paper, model), kinds)


def _all_fresh(paper: Paper, stored: dict | None, kinds: Iterable[str] = RANKED_KINDS) -> dict[int, np.ndarray] | None:
    if not stored:
        return None
    vecs = {}
    for i, t in _texts(paper, kinds).items():
        found = stored.get(i)
        if found is None or found[0] != text_hash(t):
            return None
        vecs[i] = found[1]
    return vecs


def paper_vectors(paper: Paper, embedder: Embedder, library=None, *, save: bool = True,
                  kinds: Iterable[str] = RANKED_KINDS,
                  between: Callable[[int, int], None] | None = None) -> dict[int, np.ndarray]:
    """{paragraph index: unit vector} of the paragraphs a question is ranked against: the
    library's when fresh (a stale one is never used), the rest computed (and stored, for a
    paper in the library).  ``between(done, todo)`` is called before each batch of
    ``BATCH`` paragraphs (a background job waits there, or raises ``Cancelled``)."""
    texts = _texts(paper, kinds)
    stored = _stored(library, paper, embedder.name)
    hashes = {i: text_hash(t) for i, t in texts.items()}
    kept = stored if stored is not None else _recent.get((embedder.name, paper.id))
    vecs = {i: v for i, (h, v) in (kept or {}).items() if hashes.get(i) == h}
    missing = [i for i in texts if i not in vecs]
    step = BATCH if between is not None else max(1, len(missing))
    for start in range(0, len(missing), step):
        chunk = missing[start:start + step]
        if between is not None:
            between(start, len(missing))
        for i, v in zip(chunk, embedder.embed([texts[i] for i in chunk])):
            vecs[i] = v
    if stored is not None and save and (missing or len(stored) != len(texts)):
        library.save_vectors(paper.id, embedder.name, [(i, hashes[i], vecs[i]) for i in texts])
    if stored is None:  # a paper outside the library: its next question does not embed it again
        _recent.put((embedder.name, paper.id), {i: (hashes[i], vecs[i]) for i in texts})
    return {i: vecs[i] for i in texts}


def embed_question(embedder: Embedder, question: str) -> np.ndarray | None:
    """The question's vector, or None for a question without content words."""
    if not content_words(question or ""):
        return None
    return embedder.embed_one(question)


def dense_rank(paper: Paper, question: str, embedder: Embedder, library=None,
               vectors: dict[int, np.ndarray] | None = None) -> list[tuple[int, float]]:
    """[(paragraph index, cosine)] best first (ties: smaller index first); ``vectors``: the
    paper's, when already at hand (else ``paper_vectors``)."""
    q = embed_question(embedder, question)
    if q is None:
        return []
    vecs = vectors if vectors is not None else paper_vectors(paper, embedder, library)
    if not vecs:
        return []
    idx = list(vecs)
    sims = np.stack([vecs[i] for i in idx]) @ q
    return sorted(zip(idx, (float(s) for s in sims)), key=lambda t: (-t[1], t[0]))


def fuse(rankings: list[list[tuple]], how: str = "rrf", weights: list[float] | None = None) -> list[tuple]:
    """One ranking from several [(key, score)] best first: reciprocal rank (sum of
    1/(k+rank)) or a weighted sum of min-max normalized scores.  [(key, fused)] best first."""
    weights = weights or [1.0] * len(rankings)
    total: dict = {}
    for ranking, w in zip(rankings, weights):
        if not ranking:
            continue
        if how == "rrf":
            for r, (key, _s) in enumerate(ranking):
                total[key] = total.get(key, 0.0) + w / (RRF_K + r + 1)
        else:
            scores = [s for _k, s in ranking]
            lo, hi = min(scores), max(scores)
            for key, s in ranking:
                total[key] = total.get(key, 0.0) + w * ((s - lo) / (hi - lo) if hi > lo else 1.0)
    return sorted(total.items(), key=lambda t: (-t[1], t[0]))


def fusion_weights(how: str, dense_weight: float = DENSE_WEIGHT) -> list[float]:
    """[BM25's weight, dense's weight] for ``fuse``."""
    return [1.0 - dense_weight, dense_weight] if how == "weighted" else [1.0, 1.0]


def hybrid_rank(paper: Paper, question: str, embedder: Embedder | None, library=None,
                how: str = "rrf", vectors: dict[int, np.ndarray] | None = None) -> list[tuple[int, float]]:
    """[(paragraph index, fused score)] best first: BM25 fused with dense; BM25 alone
    without an embedder."""
    words = bm25_rank(paper, question, library)
    if embedder is None:
        return words
    return fuse([words, dense_rank(paper, question, embedder, library, vectors)], how, fusion_weights(how))


def hybrid_ranker(library, embedder: Embedder | None, how: str = "rrf",
                  on_missing: Callable[[str], None] | None = None) -> Ranker:
    """A ``Ranker`` (the Ask panel's and the assistant's one ranking) that fuses BM25 with
    ``embedder``'s vectors; plain BM25 when ``embedder`` is None, and for a library paper
    whose fresh vectors the background job (``embed_library``, the app's embedding worker)
    has not computed yet (new, re-extracted, or stale), so that a question never waits for
    a paper's vectors: ``on_missing(paper id)`` hears of such a paper (the app computes its
    vectors next)."""
    if embedder is None:
        return Ranker(library)

    def rank(paper: Paper, question: str, lib) -> list[tuple[int, float]]:
        stored = _stored(lib, paper, embedder.name)
        try:
            if stored is None:  # not in the library: its vectors on the spot
                return hybrid_rank(paper, question, embedder, lib, how)
            vectors = _all_fresh(paper, stored)
            if vectors is not None:
                return hybrid_rank(paper, question, embedder, lib, how, vectors)
        except ModelError as exc:  # the embedding model failed (or was closed): words, the question goes on
            log.warning("ranking by words: %s", exc)
            return bm25_rank(paper, question, lib)
        if on_missing is not None:  # words until the background job has computed them
            on_missing(paper.id)
        return bm25_rank(paper, question, lib)

    return Ranker(library, rank_fn=rank, kind="hybrid")


def library_dense(library, question: str, embedder: Embedder, limit: int = LIBRARY_DENSE,
                  paper_ids: set[str] | None = None) -> list[tuple[tuple[str, int], float]]:
    """[((paper id, paragraph index), cosine)] of the nearest stored paragraph vectors."""
    q = embed_question(embedder, question)
    if q is None:
        return []
    keys, mat = library.vector_matrix(embedder.name)
    if not keys:
        return []
    sims = mat @ q
    if paper_ids is not None:
        keep = np.fromiter((k[0] in paper_ids for k in keys), dtype=bool, count=len(keys))
        sims = np.where(keep, sims, -np.inf)
    n = min(limit, len(keys))
    top = np.argpartition(-sims, n - 1)[:n]
    top = top[np.argsort(-sims[top], kind="stable")]
    return [(keys[i], float(sims[i])) for i in top if np.isfinite(sims[i])]


def library_hybrid(library, question: str, embedder: Embedder | None, *, paper_ids=None, tag: str | None = None,
                   how: str = "rrf", dense: bool = True, words: bool = True,
                   dense_weight: float = DENSE_WEIGHT) -> list[tuple[tuple[str, int], float]]:
    """[((paper id, paragraph index), score)] best first across the library (or ``paper_ids``
    / papers tagged ``tag``): BM25, dense, or both fused."""
    bm25 = ([((pid, idx), s) for pid, idx, s in library.rank_library(question, paper_ids=paper_ids, tag=tag)]
            if words else [])
    if embedder is None or not dense:
        return bm25
    allowed = None
    if paper_ids is not None or tag is not None:
        allowed = {p.id for p in library.list_papers(tag=tag)} if tag is not None else None
        if paper_ids is not None:
            ids = {library.resolve_id(p) for p in paper_ids}
            allowed = ids if allowed is None else allowed & ids
    near = library_dense(library, question, embedder, paper_ids=allowed)
    if not words:
        return near
    return fuse([bm25, near], how, fusion_weights(how, dense_weight))


def check_question(library, question: str) -> None:
    """BadInput, one line, for an empty library or a question of only common words."""
    if not library.list_papers():
        raise BadInput("the library has no papers; add some with `reader-app add FILE.pdf`")
    if not content_words(question or ""):
        raise BadInput("the question has only common words (like 'what', 'is', 'the'); "
                       "name what you are looking for")


def candidate_papers(library, question: str, embedder: Embedder | None, most: int = 4, **kw) -> list[str]:
    """Ids of the papers matching ``question`` best: the sum of each paper's best fused
    paragraph scores, best first (``reader-app find``; library answers keep BM25's
    candidates, ``passage_qa.candidate_papers``, since fusion did not beat it there)."""
    kw.setdefault("how", LIBRARY_FUSION)
    if kw["how"] == "weighted":
        kw.setdefault("dense_weight", LIBRARY_DENSE_WEIGHT)
    scores = paper_scores((pid, score) for (pid, _idx), score in library_hybrid(library, question, embedder, **kw))
    ranked = sorted(scores, key=lambda pid: (-scores[pid], pid))
    return ranked[:most]


def embed_paper(library, paper_id: str, embedder: Embedder,
                between: Callable[[int, int], None] | None = None) -> int:
    """Compute and store the vectors of one library paper that are missing or stale (fresh
    ones are kept); ``between`` as for ``paper_vectors``.  Returns the paragraphs it has."""
    return len(paper_vectors(library.get_paper(paper_id), embedder, library, between=between))


def embed_library(library, embedder: Embedder, progress: Callable[[int, int, str], None] | None = None,
                  cancelled: Callable[[], bool] | None = None) -> int:
    """Compute the vectors of every paper without fresh ones for ``embedder`` (new papers,
    papers re-extracted since, stale vectors), reporting ``progress(done, total, title)``.
    Returns papers done."""
    todo = library.papers_without_vectors(embedder.name)
    done = 0
    for pid in todo:
        if cancelled is not None and cancelled():
            break
        if progress is not None:
            progress(done, len(todo), library.get_paper(pid, with_paragraphs=False).title or pid[:8])
        embed_paper(library, pid, embedder)
        done += 1
    if progress is not None:
        progress(done, len(todo), "")
    return done
