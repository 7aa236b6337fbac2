"""From a model's reply to the answer shown: parsed, shaped for the model's answer style,
its citations verified; replies that are no answer become ``NOT_ANSWERED_TEXT``.

Pure functions (no engine), used by ``service.Assistant`` and to score saved replies
again (``eval_report.reshape``).
"""

from __future__ import annotations

import re

from reader_app.assistant.checks import echoes_question, norm, not_an_answer, off_language
from reader_app.assistant.citations import verify
from reader_app.assistant.parsing import (condense, drop_hedges, parse_answer, split_sentences, strip_restatement,
                                          whole_sentences)
from reader_app.assistant.prompts import Demo
from reader_app.assistant.style import AnswerStyle
from reader_app.core.model import AnswerUpdate

NOT_ANSWERED_TEXT = "The paper does not seem to answer this question."
_ANSWER_LINE_DONE = re.compile(r"answer\s*:[ \t]*\S[^\n]*\n", re.I)


def live_view(raw: str) -> AnswerUpdate:
    """What to show of a reply while it streams (and of a refused one): the answer part once
    the model wrote ``Answer:``, else what it wrote so far unless that is its
    ``Evidence: [3`` line; the paragraph numbers named before the answer."""
    idx = raw.rfind("Answer:")
    head = raw if idx < 0 else raw[:idx]
    evidence = tuple(int(n) for n in dict.fromkeys(re.findall(r"\d+", head))) if head.lstrip().startswith("Evidence") \
        else ()
    if idx >= 0:
        return AnswerUpdate(raw[idx + len("Answer:"):].lstrip(), evidence, "answer")
    if raw.lstrip().startswith("Evidence"):
        return AnswerUpdate("", evidence, "evidence")
    return AnswerUpdate(raw, (), "answer")


def answer_line_done(text: str) -> bool:
    """True once the reply holds a complete, non-empty ``Answer:`` line."""
    return bool(_ANSWER_LINE_DONE.search(text))


def answer_done(text: str, sentences: int = 0) -> bool:
    """The reply is complete: its Answer line ended, or (``sentences`` > 0) it holds that many
    complete sentences."""
    if answer_line_done(text):
        return True
    if sentences:
        # complete once the next sentence has begun: a period alone may be a decimal point
        # ("accuracy of 91." then "5%")
        m = re.search(r"answer\s*:", text, re.I)
        body = text[m.end():] if m else ""
        return len(split_sentences(body)) > sentences
    return False


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
