"""Instant passages: the paragraphs that best match a question, before the model answers.

They come from the ranking the assistant already computes (BM25 over the library's
FTS5 index, or in memory for a paper outside the library), so they are ready in
milliseconds.  Only paragraphs a prompt would include count (body text and captions).
"""

from __future__ import annotations

from reader_app.assistant.windows import INCLUDED_KINDS, rank_in_memory
from reader_app.core.model import Paper, Paragraph, Passage

PASSAGES = 5  # how many are shown


def top_passages(paragraphs: list[Paragraph], ranking: list[tuple[int, float]], n: int = PASSAGES,
                 sections: list | None = None) -> list[Passage]:
    """The ``n`` best of ``ranking`` ([(paragraph index, score)], best first) as Passages."""
    by_index = {p.index: p for p in paragraphs}
    out: list[Passage] = []
    for idx, _score in ranking:
        p = by_index.get(idx)
        if p is None or p.kind not in INCLUDED_KINDS or not p.text.strip():
            continue
        section = p.section
        if not section and sections and p.section_index is not None and 0 <= p.section_index < len(sections):
            section = sections[p.section_index].title
        out.append(Passage(paragraph=p.index + 1, page=p.page, section=section, text=" ".join(p.text.split()),
                           bbox=tuple(p.bbox)))
        if len(out) >= n:
            break
    return out


def passages_in_library(library, paper_id: str, question: str, n: int = PASSAGES) -> list[Passage]:
    """Passages for ``question`` from the library (its FTS5 index), for the Ask panel."""
    ranking = library.rank_paragraphs(paper_id, question)
    if not ranking:
        return []
    return top_passages(library.paragraphs(paper_id), ranking, n)


def passages_in_paper(paper: Paper, question: str, n: int = PASSAGES) -> list[Passage]:
    """Passages for a paper held in memory (not in a library)."""
    return top_passages(paper.paragraphs, rank_in_memory(paper, question), n, paper.sections)

