"""Answers from passages: questions across papers, and a quick answer before a paper is prepared.

Both build one prompt from a few passages instead of the whole paper, so the first token
comes in seconds rather than minutes:

- **library questions** (``Assistant.ask_library``): the library's index (FTS5, BM25 with
  word weights across the library) finds the papers whose paragraphs match the question
  best (sum of each paper's best 3 paragraph scores); within each of those papers the one
  ranker (ranking.py) picks the best paragraphs;
- **quick answers** (``Assistant.ask_quick``): the same, for one paper: its passages are
  the ones the Ask panel lists.

Passages are long units in the LongRAG sense: each best paragraph comes with its
neighbours in the same section and under its section title, taken round-robin across
papers while they fit the budget.  Every paragraph gets a number of its own in the prompt
([1], [2], ... across all papers), so the model's Evidence names paragraphs as it does for
one paper; the numbers map back to (paper, paragraph) and citations are verified against
the paragraph's text as usual (answers.py).  When no cited paragraph supports the answer,
it is marked unanswerable ("the papers do not seem to answer this").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from reader_app.assistant import prompts
from reader_app.assistant.citations import content_words
from reader_app.assistant.windows import INCLUDED_KINDS, truncate
from reader_app.core.errors import BadInput, NotFound
from reader_app.core.model import Citation, Paper, Paragraph, Scope

LIBRARY_PAPERS = 4  # papers a library question draws passages from
PAPER_SCORE_TOP = 3  # a paper's score: the sum of its best paragraphs' scores
UNITS_PER_PAPER = 3  # best paragraphs per paper (each with its neighbours)
NEIGHBOURS = 1  # paragraphs before and after a best one, in the same section
PARAGRAPH_TOKENS = 220  # a passage paragraph is cut to this many tokens
LIBRARY_BUDGET = 1800  # prompt tokens for passages of a library question
QUICK_BUDGET = 380  # ... of a quick answer (1.5B model on 2 cores: ~30 tokens/s)


@dataclass
class PassagePrompt:
    """The passages of one question: the prompt text and what each number stands for."""

    text: str
    paragraphs: dict[int, Paragraph]  # prompt number -> the paragraph (its text as shown)
    where: dict[int, tuple[Paper, int]]  # prompt number -> (paper, paragraph number in it)
    papers: list[Paper] = field(default_factory=list)  # in the order they appear


def candidate_papers(library, question: str, scope: Scope, most: int = LIBRARY_PAPERS) -> list[str]:
    """Ids of the papers in ``scope`` that match ``question`` best, best first."""
    hits = library.rank_library(question, paper_ids=scope.paper_ids, tag=scope.tag)
    per: dict[str, list[float]] = {}
    for pid, _idx, score in hits:
        per.setdefault(pid, []).append(score)
    ranked = sorted(per, key=lambda pid: -sum(sorted(per[pid], reverse=True)[:PAPER_SCORE_TOP]))
    return ranked[:most]


def _units(paper: Paper, ranking: list[tuple[int, float]], per_paper: int) -> list[list[Paragraph]]:
    """The paper's best paragraphs, each with its neighbours in the same section."""
    body = [p for p in paper.paragraphs if p.kind in INCLUDED_KINDS and p.text.strip()]
    pos = {p.index: i for i, p in enumerate(body)}
    units, used = [], set()
    for idx, _score in ranking:
        if idx not in pos or idx in used:
            continue
        i = pos[idx]
        unit = [p for p in body[max(0, i - NEIGHBOURS): i + NEIGHBOURS + 1]
                if p.section_index == body[i].section_index and p.index not in used]
        used.update(p.index for p in unit)
        units.append(unit)
        if len(units) >= per_paper:
            break
    return units


def build(papers: list[tuple[Paper, list[tuple[int, float]]]], count: Callable[[str], int], budget: int,
          per_paper: int = UNITS_PER_PAPER) -> PassagePrompt:
    """The passage prompt for ``papers`` ([(paper, its ranking for the question)], best first)."""
    units = {p.id: _units(p, ranking, per_paper) for p, ranking in papers}
    chosen: dict[str, list[Paragraph]] = {p.id: [] for p, _ in papers}
    used = 0
    for r in range(per_paper):  # round-robin: every paper's best unit before any second one
        for paper, _ in papers:
            if r >= len(units[paper.id]):
                continue
            unit = units[paper.id][r]
            cost = sum(min(count(p.text), PARAGRAPH_TOKENS) + 4 for p in unit) + 8
            if used + cost > budget and used:
                continue
            chosen[paper.id] += unit
            used += cost
    out, paragraphs, where, shown = ["<papers>"], {}, {}, []
    n = 0
    for paper, _ in papers:
        paras = sorted(chosen[paper.id], key=lambda p: p.index)
        if not paras:
            continue
        shown.append(paper)
        out.append(f'<paper title="{prompts.clean(paper.title or "Untitled")}">')
        section = None
        for p in paras:
            title = p.section or (paper.sections[p.section_index].title
                                  if p.section_index is not None and 0 <= p.section_index < len(paper.sections) else "")
            if title != section:
                section = title
                if title:
                    out.append(f"## {prompts.clean(title)}")
            n += 1
            text = truncate(" ".join(p.text.split()), count, PARAGRAPH_TOKENS)
            out.append(prompts.paragraph_line(n, text))
            paragraphs[n] = replace(p, text=p.text, section=title)
            where[n] = (paper, p.index + 1)
        out.append("</paper>")
    out.append("</papers>")
    return PassagePrompt("\n".join(out) + "\n", paragraphs, where, shown)


def library_prompt(assistant, question: str, scope: Scope, budget: int = LIBRARY_BUDGET) -> PassagePrompt:
    """Passages for a question across the papers of ``scope`` (``assistant``'s library)."""
    library = assistant.store.library
    if library is None:
        raise BadInput("library questions need a library")
    if not content_words(question):
        raise BadInput("the question has only common words: name what you are looking for")
    ids = candidate_papers(library, question, scope)
    if not ids:
        raise NotFound(f"no paper in {scope.describe()} matches this question")
    papers = []
    for pid in ids:
        try:
            paper = library.get_paper(pid)
        except NotFound:  # removed while the question runs
            continue
        papers.append((paper, assistant.ranking(paper, question)))
    prompt = build(papers, assistant.engine.count_tokens, budget)
    if not prompt.paragraphs:
        raise NotFound(f"no paper in {scope.describe()} matches this question")
    return prompt


def paper_prompt(assistant, paper: Paper, question: str, budget: int = QUICK_BUDGET) -> PassagePrompt:
    """Passages of one paper: what a quick answer reads."""
    return build([(paper, assistant.ranking(paper, question))], assistant.engine.count_tokens, budget)


def locate(citations: list[Citation], prompt: PassagePrompt) -> list[Citation]:
    """Citations by prompt number -> citations naming their paper and paragraph number there."""
    out = []
    for c in citations:
        found = prompt.where.get(c.paragraph)
        if found is None:
            continue
        paper, number = found
        out.append(replace(c, paragraph=number, paper_id=paper.id, paper_title=paper.title or ""))
    return out
