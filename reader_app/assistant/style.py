"""How answers are shaped for one model: the small model's crutches, or a capable model's own answer.

The embedded SmolLM2-135M copies whole paragraphs, so its reply is cut to the one
sentence nearest the question (``condense``) under a 64-token cap, and its citations
must match the answer word for word.  A 1-8B model is asked for the answer's shape (a
short phrase, or one to three sentences in its own words: ``prompts.ANSWER_SHAPE``), gets
room to finish (128 tokens, stopped after three complete sentences), loses only an
unfinished last sentence and hedges after the answer ("The paper does not mention X."),
and may paraphrase: its cited paragraphs may support the answer together.  Measured on
QASPER tuning papers with Qwen2.5-Coder-1.5B, keeping the sentence nearest the question
still scored best (0.417 against 0.342 for the first sentence and 0.303 for the first
three, doubledipper, same replies), so ``condense`` stays on for both styles.

``style_for(engine)`` picks the style: the ``answer_style`` setting ("auto", "small" or
"capable"); "auto" means capable for a model of at least ``CAPABLE_PARAMETERS``
parameters, or one behind a server (its size is unknown and rarely tiny), and small
otherwise (the embedded model, and engines that report no size, such as test fakes).
QASPER figures behind the choice are in README.md ("QASPER (answer quality)").
"""

from __future__ import annotations

from dataclasses import dataclass

from reader_app.core.errors import BadInput

CAPABLE_PARAMETERS = 1_000_000_000
STYLES = ("auto", "small", "capable")


@dataclass(frozen=True)
class AnswerStyle:
    name: str
    max_answer_tokens: int  # the reply's token cap
    condense: bool  # keep only the reply's sentence nearest the question
    max_sentences: int  # generation stops after this many complete sentences (0: at the line's end)
    paraphrase_support: bool  # accept an answer whose words the cited paragraphs support together


SMALL = AnswerStyle("small", max_answer_tokens=64, condense=True, max_sentences=0, paraphrase_support=False)
CAPABLE = AnswerStyle("capable", max_answer_tokens=128, condense=True, max_sentences=3, paraphrase_support=True)


def style_named(name: str) -> AnswerStyle:
    if name == "small":
        return SMALL
    if name == "capable":
        return CAPABLE
    raise BadInput(f"unknown answer style {name!r}; choose one of {', '.join(STYLES)}")


def style_for(engine, name: str | None = None) -> AnswerStyle:
    """The style for ``engine``: ``name`` (or the ``answer_style`` setting) unless "auto"."""
    if name is None:
        from reader_app.assistant import settings

        name = settings.get("answer_style") or "auto"
    if name != "auto":
        return style_named(name)
    if getattr(engine, "backend", "") == "openai":
        return CAPABLE
    params = getattr(engine, "parameters", 0) or 0
    return CAPABLE if params >= CAPABLE_PARAMETERS else SMALL
