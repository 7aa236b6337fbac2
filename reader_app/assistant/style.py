"""How answers are shaped for one model: the small model's crutches, or a capable model's own answer.

The embedded SmolLM2-135M copies whole paragraphs, so its reply is cut to the one
sentence nearest the question (``condense``) under a 64-token cap, and its citations
must match the answer word for word.  A 1-8B model is asked for the answer's shape (a
short phrase, or one to three sentences in its own words: ``prompts.ANSWER_SHAPE``), gets
room to finish (128 tokens), and its answer is its first whole sentence, hedges after it
dropped ("The paper does not mention X."); generation stops once the second sentence
begins.  Its citations may paraphrase: the cited paragraphs may support the answer
together.  Measured on the replies of Qwen2.5-Coder-1.5B to 82 QASPER questions (papers
1-25), the first sentence scored best: doubledipper Answer F1 0.354 against 0.298 for the
sentence nearest the question, zero-shot 0.341 against 0.326; papers 26-40 confirmed it
(docs/evaluation.md, "QASPER (answer quality)").

``style_for(engine)`` picks the style: the ``answer_style`` setting ("auto", "small" or
"capable"); "auto" means capable for a model of at least ``CAPABLE_PARAMETERS``
parameters, or one behind a server (its size is unknown and rarely tiny), and small
otherwise (the embedded model, and engines that report no size, such as test fakes).
QASPER figures behind the choice are in docs/evaluation.md ("QASPER (answer quality)").
"""

from __future__ import annotations

from dataclasses import dataclass

from reader_app import settings
from reader_app.core.errors import BadInput

CAPABLE_PARAMETERS = 1_000_000_000
STYLES = ("auto", "small", "capable")


@dataclass(frozen=True)
class AnswerStyle:
    name: str
    max_answer_tokens: int  # the reply's token cap
    condense: bool  # keep only the reply's sentence nearest the question
    max_sentences: int  # the answer's whole sentences; generation stops after them (0: at the line's end)
    paraphrase_support: bool  # accept an answer whose words the cited paragraphs support together
    evidence_candidates: int  # Evidence may cite the question's N best paragraphs by BM25, unless set
    demo_tries: int  # paragraphs tried per demonstration wanted (its stricter checks reject more)
    demo_tokens: int  # a demonstration reply's token cap (question line and answer line)
    demo_answer_words: int  # the demonstration grammar's cap on answer words


SMALL = AnswerStyle("small", max_answer_tokens=64, condense=True, max_sentences=0, paraphrase_support=False,
                    evidence_candidates=5, demo_tries=3, demo_tokens=64, demo_answer_words=10)
CAPABLE = AnswerStyle("capable", max_answer_tokens=128, condense=False, max_sentences=1, paraphrase_support=True,
                      evidence_candidates=10, demo_tries=5, demo_tokens=96, demo_answer_words=16)


@dataclass(frozen=True)
class TokenBudget:
    """Tokens a window leaves free for what surrounds the paper (``Assistant.reserve``).

    Estimates with headroom, not measurements: a window that overflows the context is
    an error, one a few tokens short costs nothing."""

    chat_template: int = 48  # the chat template's tokens around the system prompt
    question: int = 160  # the question, its instruction and the answer primer
    demo_intro: int = 24  # around ``prompts.DEMO_INTRO``
    per_demo: int = 90  # one rendered demonstration (question, evidence, short answer)
    demo_paragraph: int = 360  # writing a demonstration repeats one paragraph (candidates: <= 340 tokens) ...
    demo_reply: int = 64  # ... and its reply
    margin: int = 32  # rounding of the token counts above
    min_window: int = 256  # a window is never smaller than this, whatever the context


BUDGET = TokenBudget()


def style_named(name: str) -> AnswerStyle:
    if name == "small":
        return SMALL
    if name == "capable":
        return CAPABLE
    raise BadInput(f"unknown answer style {name!r}; choose one of {', '.join(STYLES)}")


def style_for(engine, name: str | None = None) -> AnswerStyle:
    """The style for ``engine``: ``name`` (or the ``answer_style`` setting) unless "auto"."""
    if name is None:
        name = settings.current().answer_style
    if name != "auto":
        return style_named(name)
    if engine.backend == "openai":
        return CAPABLE
    params = engine.parameters or 0
    return CAPABLE if params >= CAPABLE_PARAMETERS else SMALL
