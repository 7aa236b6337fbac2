"""Section-aligned context windows for long papers, and question routing.

A paper that does not fit the model's context is cut into windows of whole sections
(a section too long for one window is cut at paragraph boundaries).  Paragraph numbers
are global (``Paragraph.index + 1``), so a citation means the same paragraph whatever
window it came from.  A question goes to the window whose paragraphs rank best under
BM25 (``assistant.ranking.rank``: SQLite FTS5 over the paper's own paragraphs, the same
whether the paper is in the library or in memory).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from reader_app.assistant import prompts
from reader_app.core.model import Paper, Paragraph
from reader_app.library.ranking import RANKED_KINDS, rank_paper, ranked_paragraphs, section_title

INCLUDED_KINDS = RANKED_KINDS  # body text and captions: what a prompt includes and the ranking ranks
MAX_PARAGRAPH_TOKENS = 600  # a runaway "paragraph" (a table dump, say) is cut to this


@dataclass
class Window:
    index: int
    numbers: list[int]  # paragraph numbers (Paragraph.index + 1) in reading order
    text: str  # the fenced, numbered paper text for the prompt
    tokens: int
    paragraphs: dict[int, Paragraph] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return "w" + hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]


def number_of(p: Paragraph) -> int:
    return p.index + 1


def included(paper: Paper) -> list[Paragraph]:
    """The paragraphs a prompt includes, and the ranking ranks."""
    return ranked_paragraphs(paper)


def truncate(text: str, count: Callable[[str], int], limit: int) -> str:
    """``text`` cut to the longest word prefix of at most ``limit`` tokens (then " …")."""
    if count(text) <= limit:
        return text
    words = text.split()
    lo, hi = 1, len(words)
    while lo < hi:  # longest word prefix that fits
        mid = (lo + hi + 1) // 2
        if count(" ".join(words[:mid])) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo]) + " …"


def build_windows(paper: Paper, count_tokens: Callable[[str], int], budget: int) -> list[Window]:
    """Cut the paper into windows whose rendered text takes at most ``budget`` tokens."""
    paras = included(paper)
    # group consecutive paragraphs by section
    groups: list[tuple[str, list[Paragraph]]] = []
    for p in paras:
        title = section_title(paper, p)
        if groups and groups[-1][0] == title:
            groups[-1][1].append(p)
        else:
            groups.append((title, [p]))
    per_para = max(32, min(MAX_PARAGRAPH_TOKENS, budget // 2))
    texts: dict[int, str] = {}
    cost: dict[int, int] = {}
    for p in paras:
        t = truncate(" ".join(p.text.split()), count_tokens, per_para)
        texts[p.index] = t
        cost[p.index] = count_tokens(prompts.paragraph_line(number_of(p), t)) + 1
    overhead = count_tokens(prompts.render_paper(paper.title, [])) + 2

    windows_blocks: list[list[tuple[str, list[Paragraph]]]] = [[]]
    used = overhead
    for title, ps in groups:
        head = count_tokens(f"## {title}") + 1 if title else 0
        size = head + sum(cost[p.index] for p in ps)
        if used + size <= budget:
            windows_blocks[-1].append((title, list(ps)))
            used += size
            continue
        if size + overhead <= budget:  # the whole section starts a new window
            if windows_blocks[-1]:
                windows_blocks.append([])
            windows_blocks[-1].append((title, list(ps)))
            used = overhead + size
            continue
        # a section longer than a window: cut at paragraph boundaries
        for p in ps:
            cur = windows_blocks[-1]
            same = bool(cur) and cur[-1][0] == title
            need = cost[p.index] + (0 if same else head)
            if used + need > budget and cur:
                windows_blocks.append([])
                cur = windows_blocks[-1]
                used = overhead
                same = False
                need = cost[p.index] + head
            if same:
                cur[-1][1].append(p)
            else:
                cur.append((title, [p]))
            used += need
    windows = []
    for blocks in windows_blocks:
        if not blocks:
            continue
        rendered = [(t, [(number_of(p), texts[p.index]) for p in ps]) for t, ps in blocks]
        text = prompts.render_paper(paper.title, rendered)
        members = {number_of(p): p for _, ps in blocks for p in ps}
        windows.append(Window(len(windows), list(members), text, count_tokens(text), members))
    return windows


def rank_in_memory(paper: Paper, query: str) -> list[tuple[int, float]]:
    """[(paragraph index, score)] best first, scoring section title + text: the library's
    ranking (``library.ranking.rank_paper``: FTS5 BM25 over this paper's own paragraphs),
    for a paper held in memory.  Callers use ``assistant.ranking.rank``."""
    return rank_paper(paper, query)


def route(windows: list[Window], ranking: list[tuple[int, float]]) -> Window:
    """The window holding the best-ranked paragraphs (sum of its top-3 scores)."""
    if len(windows) == 1 or not ranking:
        return windows[0]
    where = {n: w.index for w in windows for n in w.numbers}
    per: dict[int, list[float]] = {}
    for idx, score in ranking:
        w = where.get(idx + 1)
        if w is not None:
            per.setdefault(w, []).append(abs(score))
    if not per:
        return windows[0]
    best = max(per, key=lambda w: (sum(sorted(per[w], reverse=True)[:3]), -w))
    return windows[best]
