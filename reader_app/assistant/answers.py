"""From a model's reply to the answer shown: parsed (reply.py), shaped for the model's answer
style, its citations verified; replies that are no answer become ``NOT_ANSWERED_TEXT``.

Pure functions (no engine), used by ``service.Assistant`` and to score saved replies
again (``eval_report.reshape``).
"""

from __future__ import annotations

import re

from reader_app.assistant.checks import echoes_question, norm, not_an_answer, off_language
from reader_app.assistant.citations import content_words, says_not_answered, verify
from reader_app.assistant.prompts import Demo
from reader_app.assistant.reply import parse_answer
from reader_app.assistant.style import AnswerStyle
from reader_app.core.text import ends_sentence, split_sentences

NOT_ANSWERED_TEXT = "The paper does not seem to answer this question."


def shape_answer(question: str, raw: str, primer: str, paragraphs: dict, style: AnswerStyle,
                 demos: list[Demo] = (), cut: bool = False) -> tuple[str, bool, list]:
    """(shown text, answerable, citations) from a reply: parsed, shaped for the model's
    ``style``, its citations verified against ``paragraphs`` (number -> Paragraph, those the
    model saw); replies that are no answer become ``NOT_ANSWERED_TEXT``.  Pure, so saved
    replies can be scored again (``reader-app eval ... --score --reshape``)."""
    parsed = parse_answer(raw, set(paragraphs), primer=primer)
    answer = parsed.answer
    if style.max_sentences:  # a capable model: whole sentences, no hedges
        answer = whole_sentences(drop_hedges(answer), style.max_sentences, cut=cut)
    if style.condense:
        answer = condense(question, answer)
    answer = strip_restatement(question, answer)
    citations, answerable = verify(answer, question, parsed.evidence, paragraphs,
                                   paraphrase=style.paraphrase_support)
    if answerable and (not_an_answer(question, answer, parsed.evidence) or off_language(answer, _sample(paragraphs))
                       or echoes_question(question, answer)
                       # the model parroted a demonstration's answer instead of answering (a
                       # capable model may give it when it names the demonstration's paragraph)
                       or any(norm(answer) == norm(d.answer)
                              and not (style.paraphrase_support and d.evidence in parsed.evidence) for d in demos)):
        citations, answerable = [], False
    return (answer if answerable else NOT_ANSWERED_TEXT), answerable, citations


def _sample(paragraphs: dict) -> str:
    """Some of the text the model saw (which script the paper is in)."""
    return " ".join(p.text for p in list(paragraphs.values())[:20])


_COPULA = re.compile(r"\b(is|are|was|were|be|by|to|uses?|used|using|include|includes|consists? of|called|named)\b", re.I)


def strip_restatement(question: str, answer: str) -> str:
    """'What dataset do they use?' / 'The dataset they use is SQuAD.' -> 'SQuAD.'

    Cuts a leading clause that only restates the question (all its content words come
    from the question) up to its verb; keeps the answer whole when that leaves nothing.
    """
    if re.match(r"\W*(yes|no)\b", answer, re.I):
        return answer  # "No, experiments are ..." : the Yes/No is the answer; keep it whole
    qwords = set(content_words(question))
    words = answer.split()
    for m in _COPULA.finditer(answer):
        head = answer[: m.start()]
        if len(head.split()) > 14:
            break
        hw = content_words(head)
        if hw and all(w in qwords for w in hw):
            rest = re.sub(r"^(?:(?:is|are|was|were|be|to|by|that|as)\b[\s:,]*)+", "", answer[m.end():].strip(" :,"),
                          flags=re.I)
            if len(rest.split()) >= 1 and len(content_words(rest)) >= 1:
                return rest
            break
    return answer if words else ""


def condense(question: str, answer: str, max_words: int = 30) -> str:
    """A long, multi-sentence answer (often a copied paragraph) -> its sentence closest to the question."""
    sents = split_sentences(answer)
    if len(sents) < 2 or (len(sents) <= 2 and len(answer.split()) <= max_words):
        return answer
    q = set(content_words(question))
    best = max(range(len(sents)), key=lambda i: (len(q & set(content_words(sents[i]))), -i))
    return sents[best]


def drop_hedges(answer: str) -> str:
    """'No, they did not. The paper does not mention any platform.' -> 'No, they did not.': a
    sentence after the first that says the paper is silent on something is a hedge, not a refusal."""
    sents = split_sentences(answer)
    if len(sents) < 2 or says_not_answered(sents[0]):
        return answer
    return " ".join([sents[0]] + [s for s in sents[1:] if not says_not_answered(s)])


def whole_sentences(answer: str, max_sentences: int = 3, cut: bool = False) -> str:
    """A capable model's answer, never cut mid-sentence and never a copied paragraph: its first
    ``max_sentences`` sentences; when the reply hit the token cap (``cut``), an unfinished last
    sentence is dropped (or, when it is the only one, marked with an ellipsis)."""
    sents = split_sentences(answer)
    if not sents:
        return answer.strip()
    if cut and not ends_sentence(sents[-1]):
        if len(sents) > 1:
            sents = sents[:-1]
        else:
            return sents[0].rstrip(" ,;:-–") + "…"
    return " ".join(sents[:max_sentences])
