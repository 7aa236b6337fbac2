"""What one request runs with: the settings, read once when it starts, and the question as asked.

An ``Assistant`` may be given some settings as arguments (an eval, the CLI's flags):
``Overrides`` keeps them; every other one comes from the settings file
(``settings.current()``), read once per request into a ``Request`` and passed down, so the
file may change between questions, never within one.
"""

from __future__ import annotations

from dataclasses import dataclass

from reader_app import settings
from reader_app.assistant import prompts
from reader_app.assistant.recycled import VARIANTS as DEMO_VARIANTS
from reader_app.assistant.style import AnswerStyle, style_for
from reader_app.core.errors import BadInput
from reader_app.core.model import Selection


@dataclass(frozen=True)
class Request:
    """What one question is asked with: the settings, read once when it starts."""

    mode: str
    k: int
    style: AnswerStyle
    evidence_candidates: int  # 0 = Evidence may cite any paragraph
    probe: bool = False  # ask the model to check its answer, for the confidence (confidence.PROBE)
    samples: int = 0  # answers sampled to compare with the shown one, for the confidence
    passage_demos: str = "own"  # which demonstrations passage answers recycle (recycled.py)


@dataclass(frozen=True)
class Overrides:
    """The settings an ``Assistant`` was given; None: the setting's, read at each request."""

    answer_style: str | None = None
    max_answer_tokens: int | None = None
    evidence_candidates: int | None = None
    probe: bool | None = None  # the confidence_probe setting
    samples: int | None = None  # the confidence_samples setting
    passage_demos: str | None = None
    answer_ttft_s: float | None = None

    def __post_init__(self) -> None:
        if self.passage_demos is not None and self.passage_demos not in DEMO_VARIANTS:
            raise BadInput(f"unknown demonstrations {self.passage_demos!r}; "
                           f"choose one of {', '.join(DEMO_VARIANTS)}")

    def request(self, engine, mode: str, k: int) -> Request:
        """The settings a request for ``engine`` runs with, the settings file read once."""
        conf = settings.current()
        style = style_for(engine, self.answer_style or conf.answer_style)
        n = self.evidence_candidates
        if n is None:
            n = conf.evidence_candidates
        probe = self.probe if self.probe is not None else conf.confidence_probe
        samples = self.samples if self.samples is not None else conf.confidence_samples
        demos = self.passage_demos or conf.passage_demos
        return Request(mode=mode, k=k, style=style,
                       evidence_candidates=style.evidence_candidates if n is None else max(0, n), probe=probe,
                       samples=max(0, samples), passage_demos=demos if demos in DEMO_VARIANTS else "own")

    def answer_tokens(self, style: AnswerStyle) -> int:
        """The reply's token cap: as given, else the style's."""
        return self.max_answer_tokens or style.max_answer_tokens

    def first_token_target(self) -> float:
        """Seconds to the first token that answers from passages aim at: as given, else the setting."""
        if self.answer_ttft_s is not None and self.answer_ttft_s > 0:
            return float(self.answer_ttft_s)
        return settings.current().answer_ttft_s


def tidy_question(question: str, selection: Selection | None) -> tuple[str, Selection | None]:
    """The question with its whitespace tidied, and the selection unless it is empty; a
    selection asked about with no question gets ``prompts.SELECTION_QUESTION``.  An empty
    question raises BadInput."""
    question = " ".join((question or "").split())
    if selection is not None and not selection.text.strip():
        selection = None
    if not question and selection is not None:
        question = prompts.SELECTION_QUESTION
    if not question:
        raise BadInput("the question is empty")
    return question, selection
