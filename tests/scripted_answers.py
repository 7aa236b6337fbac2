"""Scripted model replies for questions across papers (not a test module): used by the Ask
tab's tests and by tests/bench/shot_library_answer.py (the docs' screenshot)."""

from __future__ import annotations

import re

from tests.fakes import passages_of

_WORD = re.compile(r"[a-z][a-z0-9-]{3,}")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _quote(text: str, question: set[str], words: int) -> str:
    """The paragraph's sentence (of 8 words or more) sharing most words with the question,
    cut to ``words`` words, without its full stop."""
    sentences = [x for x in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if len(x.split()) >= 8] or [text]
    best = max(sentences, key=lambda x: len(_words(x) & question))
    cut = best.split()[:words]
    return " ".join(cut).rstrip(".,;:") + ("…" if len(best.split()) > words else "")


def cite_each_paper(papers: int = 2, words: int = 22):
    """A fake model that answers a library question from one paragraph of each of the first
    ``papers`` papers in its prompt (the one sharing most words with the question), quoting
    the start of each so that both citations are verified."""

    def respond(prefix: str, suffix: str) -> str:
        question = _words(suffix.split("Question:")[-1]) if "Question:" in suffix else _words(suffix)
        numbers, quotes = [], []
        for body in re.findall(r"<paper title=\"[^\"]*\">(.*?)</paper>", passages_of(prefix, suffix), re.S)[:papers]:
            lines = re.findall(r"^\[(\d+)\] (.+)$", body, re.M)
            if not lines:
                continue
            n, text = max(lines, key=lambda nl: (len(_words(nl[1]) & question), -int(nl[0])))
            numbers.append(n)
            quote = _quote(text, question, words)
            quotes.append(quote if not quotes else quote[:1].lower() + quote[1:])
        if not numbers:
            return "1]\nAnswer: The papers do not say."
        return f"{', '.join(numbers)}]\nAnswer: {'; and '.join(quotes)}."

    return respond


def cite_needles(*needles: str, answer: str):
    """A fake model that cites the prompt paragraphs holding each of ``needles``."""

    def respond(prefix: str, suffix: str) -> str:
        numbers = []
        for needle in needles:
            m = re.search(r"\[(\d+)\][^\[]*" + re.escape(needle), passages_of(prefix, suffix))
            if m:
                numbers.append(m.group(1))
        return f"{', '.join(numbers) or '1'}]\nAnswer: {answer}"

    return respond
