"""Answers from passages: questions across papers, and a quick answer before a paper is prepared.

Both build one prompt from a few passages instead of the whole paper, so the first token
comes in seconds rather than minutes:

- **library questions** (``Assistant.ask_library``): the library's index (FTS5, BM25 with
  word weights across the library) finds the papers whose paragraphs match the question
  best (sum of each paper's best 3 paragraph scores) and keeps the best one with those
  scoring nearly as well (``CLOSE``) or holding a word of the question the ones before lack
  (``reading_papers``): a question one paper clearly answers reads that paper alone, with
  the whole budget; papers the reader selected are all read;
  within each kept paper the one ranker (ranking.py) picks the best paragraphs;
- **quick answers** (``Assistant.ask_quick``): the same, for one paper: its passages are
  the ones the Ask panel lists.

Passages are long units in the LongRAG sense: each best paragraph comes with its
neighbours in the same section and under its section title, taken round-robin across
papers while they fit the budget.  The budget follows the machine (budget.py): as many
passage tokens as this model reads on this machine in the ``answer_ttft_s`` setting's
seconds, at least ``QUICK_FLOOR`` (``LIBRARY_FLOOR`` across papers), at most what the
context holds; a larger budget takes more best paragraphs per paper, and one that holds the
whole paper takes the whole paper, in reading order.  Every paragraph gets a number of its
own in the prompt ([1], [2], ... across all papers), so the model's Evidence names paragraphs as it does for
one paper; the numbers map back to (paper, paragraph) and citations are verified against
the paragraph's text as usual (answers.py).  When no cited paragraph supports the answer,
it is marked unanswerable ("the papers do not seem to answer this").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from reader_app.assistant import prompts, reply
from reader_app.assistant.budget import LIBRARY_FLOOR, QUICK_FLOOR
from reader_app.assistant.citations import content_words
from reader_app.assistant.ranking import paper_scores
from reader_app.assistant.style import BUDGET
from reader_app.assistant.windows import INCLUDED_KINDS, truncate
from reader_app.core.errors import BadInput, NotFound
from reader_app.core.model import Citation, Paper, Paragraph, Scope

LIBRARY_PAPERS = 4  # papers a library question draws passages from, at most
CLOSE = 0.85  # ... the best one, and those scoring at least this share of its score (reading_papers)
UNITS_PER_PAPER = 3  # best paragraphs per paper (each with its neighbours), at least
UNIT_TOKENS = 300  # ... and one more per this many tokens of a larger budget (a unit: ~3 paragraphs)
NEIGHBOURS = 1  # paragraphs before and after a best one, in the same section
PARAGRAPH_TOKENS = 220  # a passage paragraph is cut to this many tokens
PASSAGES_MODE = "zero-shot-evidence"  # the prompt mode of answers from passages


@dataclass
class PassagePrompt:
    """The passages of one question: the prompt text and what each number stands for."""

    text: str
    paragraphs: dict[int, Paragraph]  # prompt number -> the paragraph (its text as shown)
    where: dict[int, tuple[Paper, int]]  # prompt number -> (paper, paragraph number in it)
    papers: list[Paper] = field(default_factory=list)  # in the order they appear
    budget: int = 0  # the passage tokens it could take
    tokens: int = 0  # ... and those it took (estimated as the budget counts them)


def scored_papers(library, question: str, scope: Scope, most: int = LIBRARY_PAPERS) -> list[tuple[str, float]]:
    """[(paper id, score)] of the papers in ``scope`` that match ``question`` best, best first;
    a paper's score is the sum of its best paragraph scores (``ranking.paper_scores``)."""
    hits = library.rank_library(question, paper_ids=scope.paper_ids, tag=scope.tag)
    scores = paper_scores((pid, score) for pid, _idx, score in hits)
    return sorted(scores.items(), key=lambda ps: -ps[1])[:most]


def candidate_papers(library, question: str, scope: Scope, most: int = LIBRARY_PAPERS) -> list[str]:
    """Ids of the papers in ``scope`` that match ``question`` best, best first."""
    return [pid for pid, _score in scored_papers(library, question, scope, most)]


def reading_papers(scored: list[tuple[str, float]], matched: dict[str, set[str]], close: float = CLOSE) -> list[str]:
    """The papers a library answer reads, of ``scored`` (best first): the best one; then each
    that scores at least ``close`` of its score, or holds a word of the question (``matched``:
    paper id -> the question's content words it holds) that none of those kept before holds.
    A question one paper clearly answers reads that paper alone, with the whole budget; one
    that several papers match about equally, or that names one paper's subject and another's
    ("graph networks and speech recognition"), reads them side by side."""
    if not scored:
        return []
    (first, best), kept = scored[0], [scored[0][0]]
    covered = set(matched.get(first, ()))
    for pid, score in scored[1:]:
        words = matched.get(pid, set())
        if score >= close * best or words - covered:
            kept.append(pid)
            covered |= words
    return kept


def _body(paper: Paper) -> list[Paragraph]:
    """The paragraphs passages may hold, in reading order."""
    return [p for p in paper.paragraphs if p.kind in INCLUDED_KINDS and p.text.strip()]


def _units(paper: Paper, ranking: list[tuple[int, float]], per_paper: int) -> list[list[Paragraph]]:
    """The paper's best paragraphs, each with its neighbours in the same section."""
    body = _body(paper)
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


def units_per_paper(budget: int, papers: int) -> int:
    """Best paragraphs (with their neighbours) taken per paper: ``UNITS_PER_PAPER``, more
    when the budget holds more."""
    return max(UNITS_PER_PAPER, budget // (UNIT_TOKENS * max(1, papers)))


def _cost(count: Callable[[str], int], unit: list[Paragraph]) -> int:
    """Tokens a unit of paragraphs takes in the prompt, as the budget counts them."""
    return sum(min(count(p.text), PARAGRAPH_TOKENS) + 4 for p in unit) + 8


def whole_paper_fits(paper: Paper, count: Callable[[str], int], budget: int) -> bool:
    """Whether all of ``paper``'s passage paragraphs fit ``budget`` (counted as if each
    were a unit of its own: an upper bound; stops counting once over)."""
    used = 0
    for p in _body(paper):
        used += _cost(count, [p])
        if used > budget:
            return False
    return True


def build(papers: list[tuple[Paper, list[tuple[int, float]]]], count: Callable[[str], int], budget: int,
          per_paper: int | None = None) -> PassagePrompt:
    """The passage prompt for ``papers`` ([(paper, its ranking for the question)], best first);
    ``per_paper``: best paragraphs per paper (None: ``units_per_paper``)."""
    if per_paper is None:
        per_paper = units_per_paper(budget, len(papers))
    units = {p.id: _units(p, ranking, per_paper) for p, ranking in papers}
    chosen: dict[str, list[Paragraph]] = {p.id: [] for p, _ in papers}
    used = 0
    for r in range(per_paper):  # round-robin: every paper's best unit before any second one
        for paper, _ in papers:
            if r >= len(units[paper.id]):
                continue
            unit = units[paper.id][r]
            cost = _cost(count, unit)
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
    return PassagePrompt("\n".join(out) + "\n", paragraphs, where, shown, budget=budget, tokens=used)


def prompt_overhead(assistant, question: str) -> tuple[int, int]:
    """Tokens of a passages prompt besides its passages: (those evaluated anew: the question
    with its instruction and the reply's primer; those a cached state may hold: the system
    prompt and the chat template)."""
    count = assistant.engine.count_tokens
    tail = prompts.question_tail(question, PASSAGES_MODE, assistant.style.name) + reply.primer(PASSAGES_MODE)
    return count(tail), count(prompts.SYSTEM_PASSAGES) + BUDGET.chat_template


def library_papers(assistant, question: str, scope: Scope) -> list[tuple[Paper, list[tuple[int, float]]]]:
    """The papers a question across ``scope`` reads, best first, each with its ranking for
    the question: those ``reading_papers`` keeps, or every matching one (at most
    ``LIBRARY_PAPERS``) when the reader chose the papers (``scope.paper_ids``)."""
    library = assistant.store.library
    if library is None:
        raise BadInput("library questions need a library")
    if not content_words(question):
        raise BadInput("the question has only common words: name what you are looking for")
    scored = scored_papers(library, question, scope)
    ranked = {}
    for pid, _score in scored:
        try:
            paper = library.get_paper(pid)
        except NotFound:  # removed while the question runs
            continue
        ranked[pid] = (paper, assistant.ranking(paper, question))
    if not ranked:
        raise NotFound(f"no paper in {scope.describe()} matches this question")
    if scope.paper_ids is not None or len(ranked) == 1:
        return list(ranked.values())
    asked = set(content_words(question))
    held = {pid: asked & _words_ranked(paper, ranking) for pid, (paper, ranking) in ranked.items()}
    return [ranked[pid] for pid in reading_papers([ps for ps in scored if ps[0] in ranked], held)]


def _words_ranked(paper: Paper, ranking: list[tuple[int, float]]) -> set[str]:
    """The content words of the paragraphs ``ranking`` names."""
    texts = {p.index: p.text for p in paper.paragraphs}
    return set().union(*(content_words(texts.get(i, "")) for i, _ in ranking))


def library_prompt(assistant, question: str, scope: Scope, budget: int | None = None, cached_tokens: int = 0,
                   papers: list[tuple[Paper, list[tuple[int, float]]]] | None = None) -> PassagePrompt:
    """Passages for a question across the papers of ``scope`` (``assistant``'s library), or
    of ``papers`` when ``library_papers`` chose them already; ``budget``: passage tokens
    (None: ``assistant.passage_budget``, at least ``LIBRARY_FLOOR``, also when one paper is
    read: with a quick answer's 380 tokens, 5 of 43 topical questions lost their verified
    answer, docs/evaluation.md)."""
    if papers is None:
        papers = library_papers(assistant, question, scope)
    if budget is None:
        fixed, other = prompt_overhead(assistant, question)
        budget = assistant.passage_budget(fixed, other_tokens=other + cached_tokens, floor=LIBRARY_FLOOR)
    if len(papers) == 1:  # one paper answers it: read as much of it as a quick answer would
        prompt = _one_paper(papers[0][0], papers[0][1], assistant.engine.count_tokens, budget)
    else:
        prompt = build(papers, assistant.engine.count_tokens, budget)
    if not prompt.paragraphs:
        raise NotFound(f"no paper in {scope.describe()} matches this question")
    return prompt


def paper_prompt(assistant, paper: Paper, question: str, budget: int | None = None,
                 cached_tokens: int = 0) -> PassagePrompt:
    """Passages of one paper: what a quick answer reads; ``budget``: passage tokens (None:
    ``assistant.passage_budget``, at least ``QUICK_FLOOR``).  A budget that holds the whole
    paper gets the whole paper.  ``cached_tokens``: more of the prompt's prefix (recycled
    demonstrations), which takes room in the context but no time (its state is cached)."""
    if budget is None:
        fixed, other = prompt_overhead(assistant, question)
        budget = assistant.passage_budget(fixed, other_tokens=other + cached_tokens, floor=QUICK_FLOOR)
    return _one_paper(paper, assistant.ranking(paper, question), assistant.engine.count_tokens, budget)


def _one_paper(paper: Paper, ranking: list[tuple[int, float]], count: Callable[[str], int],
               budget: int) -> PassagePrompt:
    """Passages of one paper: its best paragraphs as the budget holds them, or the whole
    paper when it fits."""
    per_paper = None
    if whole_paper_fits(paper, count, budget):  # the rest after the best, so all of it is taken
        ranked = {i for i, _ in ranking}
        ranking = ranking + [(p.index, 0.0) for p in _body(paper) if p.index not in ranked]
        per_paper = len(ranking)
    return build([(paper, ranking)], count, budget, per_paper)


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
