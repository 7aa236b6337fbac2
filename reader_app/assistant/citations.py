"""Citation verification: does a paragraph lexically support an answer?

A citation is *verified* only when the answer has lexical support in the cited
paragraph: enough of the answer's content words occur in it.  What a content word is
(tokens, stop words, Porter stems, numbers kept whole) is ``library.words``, the analysis
the ranker's queries use too.  Yes/no answers carry no content of their own, so for them
the question's content words stand in.
"""

from __future__ import annotations

import re

from reader_app.core.model import Citation, Paragraph
from reader_app.library.words import (  # noqa: F401 (NUMBER_WORDS, plain_numbers, words: imported from here)
    NUMBER_WORDS,
    STOP_WORDS,
    content_words,
    plain_numbers,
    words,
)

_NUM = re.compile(r"^\d+(?:\.\d+)?$")
YES_NO = re.compile(r"^\W*(yes|no)\b", re.I)
NOT_ANSWERED = re.compile(
    r"(does not (say|mention|state|specify|answer|provide|discuss|contain)|doesn't (say|mention)|"
    r"not (mentioned|stated|specified|given|provided|discussed|answered)|unanswerable|no information|"
    r"cannot be answered|can't be answered|is unknown|not enough information|paper does not)",
    re.I,
)
STOPWORDS = STOP_WORDS  # the name other assistant modules import


def is_yes_no(answer: str) -> bool:
    return bool(YES_NO.match(answer or ""))


def says_not_answered(answer: str) -> bool:
    return bool(NOT_ANSWERED.search(answer or ""))


def support(answer: str, paragraph: str, question: str = "", ignore: frozenset[str] = frozenset()) -> float:
    """Fraction (0..1) of the answer's content words found in ``paragraph``.

    Every number in the answer must appear in the paragraph, or the score is halved.  For a
    bare yes/no answer the question's content words are used instead.  Words in ``ignore``
    are left out, unless nothing else would be left.
    """
    a = set(content_words(answer))
    if is_yes_no(answer) and len(a) <= 2:
        a = set(content_words(question))
    a = (a - ignore) or a
    if not a:
        return 0.0
    p = set(content_words(paragraph))
    hit = a & p
    score = len(hit) / len(a)
    nums = {w for w in a if _NUM.match(w)}
    if nums - p:
        score *= 0.5
    return score


VERIFY_THRESHOLD = 0.5
INFER_THRESHOLD = 0.6


def is_supported(answer: str, paragraph: str, question: str = "", threshold: float = VERIFY_THRESHOLD) -> bool:
    a = content_words(answer)
    if not a and not is_yes_no(answer):
        return False
    return support(answer, paragraph, question) >= threshold


def make_citation(number: int, para: Paragraph, verified: bool) -> Citation:
    return Citation(paragraph=number, page=para.page, section=para.section, text=para.text,
                    bbox=tuple(para.bbox), verified=bool(verified))


def best_supporting(answer: str, candidates: dict[int, Paragraph], question: str = "",
                    threshold: float = INFER_THRESHOLD) -> int | None:
    """The paragraph number that best supports ``answer`` (ties: earliest), or None."""
    if not content_words(answer) and not is_yes_no(answer):
        return None
    best, best_score = None, threshold
    for number, para in candidates.items():
        s = support(answer, para.text, question)
        if s > best_score or (s == best_score and best is None and s >= threshold):
            best, best_score = number, s
    return best


def joint_support(answer: str, question: str, texts: list[str]) -> float:
    """``support`` of a paraphrase: the answer's content words found in the cited paragraphs
    together.  Words the answer takes from the question ("The dataset is 5,124 sentences"
    for "How long is the dataset?") are not counted against it: what it adds must be there."""
    return support(answer, " ".join(texts), question, frozenset(content_words(question)))


def verify(answer: str, question: str, evidence: list[int], candidates: dict[int, Paragraph],
           infer: bool = True, paraphrase: bool = False) -> tuple[list[Citation], bool]:
    """Citations for ``evidence`` (numbers as shown to the model) and whether the answer stands.

    ``candidates`` maps paragraph numbers to paragraphs the model saw.  Numbers outside
    it are dropped.  Returns (citations, answerable): answerable is False when the model
    says the paper does not answer, or when no paragraph supports the answer.  When the
    model cites nothing verifiable but another paragraph supports the answer lexically,
    that paragraph is added as an inferred (verified) citation.
    """
    if says_not_answered(answer) or not answer.strip():
        return [], False
    cites = []
    for n in dict.fromkeys(evidence):
        para = candidates.get(n)
        if para is not None:
            cites.append(make_citation(n, para, is_supported(answer, para.text, question)))
    if any(c.verified for c in cites):
        return cites, True
    if paraphrase and cites and joint_support(answer, question, [c.text for c in cites]) >= VERIFY_THRESHOLD:
        # a capable model's own words: supported by its cited paragraphs together; each one
        # that shares a content word with the answer counts as verified
        aw = set(content_words(answer))
        cites = [make_citation(c.paragraph, candidates[c.paragraph], bool(aw & set(content_words(c.text))))
                 for c in cites]
        if any(c.verified for c in cites):
            return cites, True
    if infer:
        n = best_supporting(answer, candidates, question)
        if n is not None:
            return cites + [make_citation(n, candidates[n], True)], True
    if paraphrase:
        # a list or a summary drawing on several paragraphs (each feature described in its own)
        cover = covering(answer, candidates, question)
        if cover:
            return cites + [make_citation(n, candidates[n], True) for n in cover if n not in evidence], True
    return cites, False


def covering(answer: str, candidates: dict[int, Paragraph], question: str = "", most: int = 3,
             threshold: float = INFER_THRESHOLD) -> list[int]:
    """Up to ``most`` paragraphs that together hold ``threshold`` of the answer's content words
    (numbers included), picked greedily; [] when no such few paragraphs exist."""
    want = set(content_words(answer))
    if len(want) < 3:
        return []
    nums = {w for w in want if _NUM.match(w)}
    have: set[str] = set()
    picked: list[int] = []
    words_of = {n: set(content_words(p.text)) for n, p in candidates.items()}
    for _ in range(most):
        n = max(words_of, key=lambda k: (len((words_of[k] & want) - have), -k), default=None)
        if n is None or not (words_of[n] & want) - have:
            break
        picked.append(n)
        have |= words_of[n] & want
        if len(have) / len(want) >= threshold and nums <= have:
            return sorted(picked)
    return []
