"""How sure the model was of its answer: a confidence in [0, 1] read from the model itself.

By default it is the probability of the answer's first token (the model's raw distribution;
the engine keeps each generated token's log-probability, ``Generation.logprobs``, from
llama.cpp's last-position logits without ``logits_all``): free, and on QASPER with the 1.5B
model as telling as anything affordable that was tried, which is to say weakly (AUROC 0.55;
docs/evaluation.md, "Confidence").  Measured and kept as options:

- ``answer_mean`` (geometric mean over the answer line), ``answer_min``,
  ``evidence_mean`` (the paragraph numbers named before it): no better than chance;
- ``probe``: the model's P(Yes) when asked whether its answer is right ("P(True)", Kadavath
  et al. 2022; the ``confidence_probe`` setting): no better than chance;
- ``agreement`` (the cheap form of semantic entropy, Farquhar et al. 2024; the
  ``confidence_samples`` setting): N more answers sampled on the same context (temperature
  0.7, the paper's KV state reused), their mean word F1 with the answer shown.  When it ran,
  the confidence is the agreement; AUROC 0.54 on quick answers, for +68% answer time.

A refusal ("the paper does not seem to answer") gets the complement, halved: a model sure of
the answer that was refused makes the refusal unlikely to be right.  The badge's cut-offs
(``HIGH``, ``LOW``) were set before measuring and kept.  Pure functions: saved replies are
scored again with ``eval --score``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import asdict, dataclass

from reader_app.assistant.reply import answer_span

# the badge: "high" at or above HIGH, "low" below LOW (docs/evaluation.md, "Confidence")
HIGH = 0.75
LOW = 0.45
LEVEL_WORDS = {
    "high": "The model was sure of this answer; the cited paragraph should say it.",
    "medium": "The model was fairly sure; worth a look at the cited paragraph.",
    "low": "The model was unsure: check the cited paragraph before relying on this answer.",
}


# The self-check ("P(True)", Kadavath et al. 2022): the reply goes on with this question and
# the model's probability of " Yes" is read from one more token on the same context (the
# paper's KV state is reused; only the question, the reply and this line are evaluated).
PROBE = "\nChecked against the cited paragraphs, is this answer correct? Yes or No:"
PROBE_GRAMMAR = 'root ::= " Yes" | " No"'


@dataclass(frozen=True)
class Signals:
    """Probabilities read from one reply (each in [0, 1]); ``tokens``: answer tokens seen;
    ``probe``: the self-check's P(Yes), when it ran."""

    answer_mean: float
    answer_min: float
    answer_first: float
    evidence_mean: float
    tokens: int
    probe: float | None = None
    agreement: float | None = None  # mean word F1 of sampled answers with the answer shown

    def to_dict(self) -> dict:
        return {k: round(v, 5) if isinstance(v, float) else v for k, v in asdict(self).items()
                if not (k in ("probe", "agreement") and v is None)}

    @classmethod
    def from_dict(cls, d: dict | None) -> Signals | None:
        if not d:
            return None
        return cls(**{k: d[k] for k in ("answer_mean", "answer_min", "answer_first", "evidence_mean", "tokens")},
                   probe=d.get("probe"), agreement=d.get("agreement"))


def agreement(answer: str, samples: list[str]) -> float | None:
    """How much sampled answers agree with ``answer``: their mean word F1 with it (SQuAD-style:
    lower case, no punctuation or articles), the cheap form of semantic entropy."""
    if not samples:
        return None
    return round(sum(_word_f1(answer, s) for s in samples) / len(samples), 5)


def _word_f1(a: str, b: str) -> float:
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return float(wa == wb)
    common = sum((Counter(wa) & Counter(wb)).values())
    if not common:
        return 0.0
    p, r = common / len(wb), common / len(wa)
    return 2 * p * r / (p + r)


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in ("a", "an", "the")]


def probe_yes(top: list[tuple[str, float]]) -> float | None:
    """P(Yes) of the self-check, Yes against No, from the likeliest tokens at its one position
    (``Generation.first_top``; " Yes", "Yes", " yes" all count); None when neither is there."""
    yes = no = 0.0
    for text, lp in top or []:
        word = text.strip().lower()
        if lp == lp and word in ("yes", "no"):
            p = math.exp(min(0.0, lp))
            yes, no = (yes + p, no) if word == "yes" else (yes, no + p)
    return round(yes / (yes + no), 5) if yes + no > 0 else None


def signals(raw: str, logprobs: list[tuple[str, float]] | None, primer: str = "") -> Signals | None:
    """The signals of a reply ``raw`` (what the model generated, after ``primer``) from its
    tokens ``logprobs`` [(text, log-probability)]; None without probabilities or an answer."""
    if not logprobs:
        return None
    spans = []  # (start, end, logprob) in generated-text offsets
    pos = 0
    for text, lp in logprobs:
        if lp is None or (isinstance(lp, float) and math.isnan(lp)):
            lp = 0.0 if not text.strip() else -math.inf
        spans.append((pos, pos + len(text), float(lp)))
        pos += len(text)
    full = primer + raw
    span = answer_span(full)  # the first answer line, as reply.parse_answer reads it
    if span is None:
        start, end = len(primer), len(full)  # no answer line: the whole reply is the answer
        ev_start = ev_end = len(primer)
    else:
        start, end = span.start, span.end
        ev_start, ev_end = 0, span.label
    shift = len(primer)  # generated offsets -> offsets in primer + raw
    answer = [lp for a, b, lp in spans if a + shift < end and b + shift > start and full[max(a + shift, start):
                                                                                      min(b + shift, end)].strip()]
    if not answer:
        return None
    evidence = [lp for a, b, lp in spans if a + shift < ev_end and b + shift > ev_start
                and re.search(r"\d", full[max(a + shift, ev_start):min(b + shift, ev_end)])]
    return Signals(answer_mean=_gmean(answer), answer_min=_p(min(answer)), answer_first=_p(answer[0]),
                   evidence_mean=_gmean(evidence) if evidence else 1.0, tokens=len(answer))


def confidence(sig: Signals | None, answerable: bool) -> float | None:
    """How likely the shown answer is right, in [0, 1]; None without signals.

    An answer: the probability of its first token, or the agreement of sampled answers with
    it when they ran.  A refusal: half the complement (a model that keeps giving the answer that
    was refused makes the refusal unlikely to be right)."""
    if sig is None:
        return None
    sure = sig.agreement if sig.agreement is not None else sig.answer_first
    value = sure if answerable else (1.0 - sure) * 0.5
    return round(min(1.0, max(0.0, value)), 4)


def level(value: float | None) -> str:
    """"high", "medium", "low", or "" when there is no confidence."""
    if value is None:
        return ""
    return "high" if value >= HIGH else "low" if value < LOW else "medium"


def auroc(scores: list[float], correct: list[bool]) -> float | None:
    """Area under the ROC curve of ``scores`` for telling correct from wrong (ties count
    half); None when one class is empty."""
    pos = [s for s, c in zip(scores, correct) if c]
    neg = [s for s, c in zip(scores, correct) if not c]
    if not pos or not neg:
        return None
    order = sorted(scores)
    rank: dict[float, float] = {}
    i = 0
    while i < len(order):  # average ranks of ties, 1-based
        j = i
        while j + 1 < len(order) and order[j + 1] == order[i]:
            j += 1
        rank[order[i]] = (i + j) / 2 + 1
        i = j + 1
    u = sum(rank[s] for s in pos) - len(pos) * (len(pos) + 1) / 2
    return u / (len(pos) * len(neg))


def _p(lp: float) -> float:
    return math.exp(lp) if lp > -math.inf else 0.0


def _gmean(lps: list[float]) -> float:
    return _p(sum(lps) / len(lps)) if all(lp > -math.inf for lp in lps) else 0.0
