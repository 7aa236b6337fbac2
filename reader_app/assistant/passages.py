"""Instant passages: the paragraphs that best match a question, before the model answers.

They come from the ranking the assistant already computes (BM25 over the library's
FTS5 index, or in memory for a paper outside the library), so they are ready in
milliseconds (``ranking.Ranker.passages``).  Only paragraphs a prompt would include count (body text and captions).
"""

from __future__ import annotations

from reader_app.assistant.windows import INCLUDED_KINDS
from reader_app.core.model import Paragraph, Passage

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
