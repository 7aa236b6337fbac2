"""Checks on what the model writes: is a demonstration usable, is an answer an answer?

Standard library plus citations.py; used by answers.py and demos.py.
"""

from __future__ import annotations

import re
import unicodedata

from reader_app.assistant.citations import NUMBER_WORDS, STOPWORDS, content_words, is_yes_no, support, words
from reader_app.core.text import sentence_ends, split_sentences

# questions/answers that read as instructions are never used as demonstrations
INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|obey|pretend|jailbreak|say|says|said|respond|reply|output|print|"
    r"instructions?|prompt|command)\b|\banswer (only|with|in)\b|\byou (must|should|are now|will)\b|"
    r"\bact as\b|\bthe word\b",
    re.I,
)
# paragraphs that carry an injected instruction are never turned into demonstrations
INJECTED = re.compile(
    r"\b(ignore|disregard|forget)\b[^.]{0,40}\b(instructions?|previous|above|prior|rules)\b|"
    r"\b(answer|respond|reply)\b[^.]{0,20}\b(only|solely)\b[^.]{0,20}\bwith\b|\bsystem prompt\b|\byou must\b",
    re.I,
)
# "How does the paragraph answer the question ..." - about the page, not the paper's content
META_QUESTION = re.compile(r'\b(paragraph|passage|this text|the text|article|the question|the answer)\b|"', re.I)
def sentences(text: str) -> int:
    """How many sentence ends ``text`` has (``core.text.sentence_ends``: demonstration
    paragraphs need two; counted as when the saved demonstrations were written)."""
    return sentence_ends(text)


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


# what a converted paper leaves where its maths, tables, figures and citations were
_MARKUP = re.compile(r"(inlineform|displayform|bibref|tabref|figref|secref|eqref)\d*")
_COUNT_WORDS = {w: n for w, n in NUMBER_WORDS.items() if 2 <= n <= 10}


def _repeats_itself(ws: list[str], n: int = 3) -> bool:
    grams = [tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)]
    return len(grams) != len(set(grams))


def _too_few_items(question: str, answer_words: list[str]) -> bool:
    """"What are the four languages ...?" answered with one word."""
    counts = [_COUNT_WORDS[w] for w in words(question) if w in _COUNT_WORDS]
    return bool(counts) and len(answer_words) < max(counts)


# a capable model's demonstration answer is a name, a number or a short phrase: the model
# answers as its examples do, and examples that copy a sentence teach it to answer with the
# opening of its evidence paragraph (docs/evaluation.md, "QASPER (answer quality)")
DEMO_ANSWER_WORDS = 12


def _opens_a_sentence(answer: str, paragraph: str, longer_than: int = 6) -> bool:
    """"We apply the same attention-pooling process to ...": the first words of one of the
    paragraph's sentences, copied as the answer."""
    a = norm(answer).split()
    if len(a) <= longer_than:
        return False
    return any(norm(s).split()[:4] == a[:4] for s in split_sentences(" ".join(paragraph.split())))


def demo_problem(question: str, answer: str, paragraph: str, strict: bool = False) -> str | None:
    """Why a generated demonstration is unusable, or None when it is fine.  ``strict`` (capable
    models, whose demonstrations teach the answer's shape): the answer must also be short
    (``DEMO_ANSWER_WORDS``) and not the opening words of one of the paragraph's sentences;
    end as a phrase ends, not on "of", "the" or "by"; hold a word besides markup
    ("INLINEFORM0"); not repeat itself; name at least as many words as the items the
    question counts ("the four languages"); and the question must be in the paper's script."""
    q, a = question.strip(), answer.strip()
    if strict and len(a.split()) > DEMO_ANSWER_WORDS:
        return "answer is a sentence, not a short answer"
    if strict and _opens_a_sentence(a, paragraph):
        return "answer copies the opening of a sentence"
    if strict and a and words(a) and words(a)[-1] in STOPWORDS:
        return "answer is cut off"
    if strict and a:
        said = [w for w in words(a) if w not in STOPWORDS and not _MARKUP.fullmatch(w)]
        if not said:
            return "answer is only markup"
        if _repeats_itself(words(a)):
            return "answer repeats itself"
        if _too_few_items(q, said):
            return "answer names fewer items than the question counts"
    if strict and q and off_language(q, paragraph, 0.0):
        return "question is not in the paper's language"
    if not q or not a:
        return "empty question or answer"
    if not 3 <= len(q.split()) <= 40:
        return "question length"
    if len(a.split()) > 25:
        return "answer too long"
    if INSTRUCTION.search(q) or INSTRUCTION.search(a):
        return "reads as an instruction"
    if is_yes_no(a) or not content_words(a):
        return "answer has no content"
    if set(content_words(q)) >= set(content_words(a)):
        return "answer repeats the question"
    if support(a, paragraph) < 0.75:
        return "answer not supported by its paragraph"
    if META_QUESTION.search(q):
        return "question is about the text, not its content"
    if support(q, paragraph) < 0.5:
        return "question not about its paragraph"
    return None


_QUANTITY_QUESTION = re.compile(
    r"\bhow (many|much|large|big|long|small|fast|often)\b|\bby how\b|\b(number|percentage|percent|size|"
    r"year|score|accuracy|f1|bleu|rate|ratio|count|amount|margin|dimension|value)s?\b", re.I)


def not_an_answer(question: str, answer: str, evidence: list[int]) -> bool:
    """A bare number that echoes the cited paragraph number ("Evidence: [1] Answer: 1"),
    or that answers a question asking for no quantity, says nothing."""
    a = answer.strip().rstrip(".")
    if not re.fullmatch(r"\d+", a):
        return False
    return int(a) in evidence or not _QUANTITY_QUESTION.search(question)


def _non_latin_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if not unicodedata.name(c, "LATIN").startswith("LATIN")) / len(letters)


def off_language(answer: str, source: str, share: float = 0.5) -> bool:
    """An answer mostly (more than ``share`` of its letters) in another script than the paper
    (a Chinese reply about an English paper)."""
    return _non_latin_share(answer) > share and _non_latin_share(source[:4000]) < 0.2


def echoes_question(question: str, answer: str) -> bool:
    """The reply only repeats the question: a question of its own, or most of the question's
    content words and nothing else ("Which dataset do they use?" / "The dataset they use.").
    A choice ("BERT or ELMo?" / "BERT") and a yes/no answer are answers."""
    if is_yes_no(answer):
        return False
    if answer.strip().endswith("?"):
        return True
    a, q = ({w[:5] for w in content_words(t)} for t in (answer, question))  # "reaches" ~ "reach"
    return bool(a) and a <= q and len(a) >= 0.6 * len(q)
