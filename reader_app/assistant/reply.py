"""The model's reply format, in one place: how a reply is primed, shaped by a grammar and
stopped, read while it streams, and parsed once it is done.

An answer reply reads::

    Evidence: [3, 7]
    Answer: the PubMed corpus

(zero-shot: the ``Answer:`` line alone); a demonstration reply ``Question: ...?`` /
``Answer: ...``; a summary reply plain sentences citing paragraphs like ``[3]``.  Only this
module (and the prompt text it lends its labels to, ``prompts.py``) knows those labels
(``tests/test_architecture.py``).

The embedded 135M model breaks formats: it drops "Evidence:", writes ``3`` or
``paragraph 3`` instead of ``[3]``, writes ``answer:`` in lower case, chats before and
after, repeats its answer, cites numbers that do not exist, or starts a new "Question:" of
its own.  The parsers here take what they can and never raise; labels are matched in any
case.

Public parts: the labels, ``primer``/``DEMO_PRIMER``/``summary_primer``, the stop lists,
``grammar``/``demo_grammar``, ``example`` and ``DEMO_FORMAT`` (demonstrations as the model
reads them), ``live_view`` (a partial reply -> ``AnswerUpdate``), ``answer_done``,
``parse_answer``/``parse_demo``, ``answer_span``/``through_answer_line`` (where the answer
line is, for the confidence), ``evidence_numbers``/``cited_numbers`` (paragraph markers),
and ``summary_text``/``summary_ended``/``continues_primer`` (summary replies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from reader_app.core.model import AnswerUpdate
from reader_app.core.text import dedupe_repeats, split_sentences

# -- labels, primers, stops ---------------------------------------------------------------
QUESTION_LABEL = "Question:"
EVIDENCE_LABEL = "Evidence:"
ANSWER_LABEL = "Answer:"

# what the assistant turn is primed with, per question mode
_PRIMERS = {"doubledipper": f"{EVIDENCE_LABEL} [", "zero-shot-evidence": f"{EVIDENCE_LABEL} [",
            "zero-shot": ANSWER_LABEL}
DEMO_PRIMER = QUESTION_LABEL
# a summary is primed with the start of its first sentence
_SUMMARY_PRIMERS = {"section": "This section", "tldr": "This paper", "reduce": "This section", "map": "This part"}

# where generation stops: the model going on to a question (or an evidence line) of its own
ANSWER_STOP = ["\n" + QUESTION_LABEL[:-1], "\n" + EVIDENCE_LABEL[:-1], "\n\n\n", "</", "<|"]
DEMO_STOP = ["\n" + QUESTION_LABEL[:-1], "\n" + EVIDENCE_LABEL[:-1], "</", "<|"]
SUMMARY_STOP = ["\n\n\n", "</", "<|", "\n" + QUESTION_LABEL[:-1]]

# how a demonstration reply is laid out, in the instruction that asks for one
DEMO_FORMAT = f"Format:\n{QUESTION_LABEL} ...?\n{ANSWER_LABEL} ..."


def primer(mode: str) -> str:
    """What the reply of a question in ``mode`` is primed with ("" for a mode without one)."""
    return _PRIMERS.get(mode, "")


def summary_primer(what: str) -> str:
    """What a summary reply (``what``: "section", "tldr", "reduce", "map") is primed with."""
    return _SUMMARY_PRIMERS[what]


def example(question: str, evidence: int, answer: str) -> str:
    """One demonstration as the model reads it (and is to answer): question, evidence, answer."""
    return f"{QUESTION_LABEL} {question}\n{EVIDENCE_LABEL} [{evidence}]\n{ANSWER_LABEL} {answer}\n"


# -- grammars -----------------------------------------------------------------------------
# GBNF for the reply after its primer.  Evidence modes: up to five numbers, "]", then one
# non-empty answer line; zero-shot: one non-empty line.  It stops the small model's
# degenerate loops ("[1] [2] [3] ...", "The answer is:\n\nThe answer is:").
_EVIDENCE_GRAMMAR = r'''
root ::= nums "]" "\n" "%s " line "\n"
nums ::= (num (", " num){0,4})?
num ::= [1-9] [0-9]? [0-9]?
line ::= [^\n\[\] ] [^\n\[\]]*
''' % ANSWER_LABEL
_LINE_GRAMMAR = r'''
root ::= " " [^\n ] [^\n]* "\n"
'''
_GRAMMARS = {"doubledipper": _EVIDENCE_GRAMMAR, "zero-shot-evidence": _EVIDENCE_GRAMMAR, "zero-shot": _LINE_GRAMMAR}
# a yes/no question gets an answer that starts with Yes or No (then, optionally, why)
_YES_NO_LINE = r'line ::= ("Yes" | "No") ([.,;:] [^\n\[\]]*)?'
_YES_NO_GRAMMARS = {
    "doubledipper": _EVIDENCE_GRAMMAR.replace(_EVIDENCE_GRAMMAR.strip().splitlines()[-1], _YES_NO_LINE),
    "zero-shot-evidence": _EVIDENCE_GRAMMAR.replace(_EVIDENCE_GRAMMAR.strip().splitlines()[-1], _YES_NO_LINE),
    "zero-shot": r'root ::= " " ("Yes" | "No") ([.,;:] [^\n]*)? "\n"' + "\n",
}
_NUM_RULE = "num ::= [1-9] [0-9]? [0-9]?"
_BOOLEAN_QUESTION = re.compile(
    r"^\s*(do|does|did|is|are|was|were|can|could|has|have|had|will|would|should|shall|may|might|must)\b", re.I)


def is_boolean_question(question: str) -> bool:
    """'Do they use BERT?' is; 'Is BERT or ELMo better?' (a choice) and 'What ...?' are not."""
    return bool(_BOOLEAN_QUESTION.match(question or "")) and " or " not in f" {question.lower()} "


def grammar(mode: str, question: str, candidates: list[int] | None = None) -> str:
    """GBNF for the reply to ``question`` in ``mode`` (after its primer); ``candidates``
    (paragraph numbers) limits what Evidence may cite."""
    g = (_YES_NO_GRAMMARS if is_boolean_question(question) else _GRAMMARS)[mode]
    if candidates and _NUM_RULE in g:
        g = g.replace(_NUM_RULE, "num ::= " + " | ".join(f'"{n}"' for n in dict.fromkeys(candidates)))
    return g


# a word of the paragraph; a number keeps its thousands separators ("5,484", not "5" "484")
_VOCAB = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?%?(?!\d)|[A-Za-z0-9](?:[A-Za-z0-9.%\-]*[A-Za-z0-9%])?")


def demo_grammar(text: str, max_words: int = 400, answer_words: int = 10) -> str:
    """GBNF for a demonstration reply (after ``DEMO_PRIMER``): a wh-question on one line,
    then an answer of 1-``answer_words`` words, each taken from the paragraph ``text``."""
    vocab = list(dict.fromkeys(_VOCAB.findall(text)))[:max_words] or ["none"]
    words = " | ".join('"' + w + '"' for w in vocab)
    return (
        r'root ::= " " qw [^\n?]{5,100} "?\n' + ANSWER_LABEL + r' " w (" " w){0,' + str(answer_words - 1)
        + r'} "\n"' + "\n"
        'qw ::= "What" | "Which" | "How" | "Who" | "When" | "Where"\n'
        f"w ::= {words}\n"
    )


# -- labels as the model may write them ------------------------------------------------------
_EVIDENCE = re.compile(r"\bevidence\s*(?:paragraphs?)?\s*[:=\-]?", re.I)
# "Answer: x\nEvidence: [3]" - not the word in "an external evidence to validate"
_TAIL_EVIDENCE = re.compile(r"\bevidence\s*(?:paragraphs?)?\s*(?::|=|\[|\(\s*\d)", re.I)
_ANSWER = re.compile(r"\banswer\s*[:=]", re.I)  # where the answer starts
_ANSWER_COLON = re.compile(r"answer\s*:", re.I)  # the label as the live view looks for it
_EVIDENCE_WORD = re.compile(r"evidence", re.I)  # a reply that starts on its evidence line
_ANSWER_LINE_DONE = re.compile(r"answer\s*:[ \t]*\S[^\n]*\n", re.I)
_QUESTION = re.compile(r"\bquestion\s*[:=]", re.I)
_STOP_MARKERS = re.compile(r"\n\s*(?:question|evidence|example|note|explanation|paragraph \[)\s*[:\[]|"
                           r"</?(?:examples|paper|paragraph)>|<\|", re.I)
_LEADING_ANSWER = re.compile(r"^(?:the\s+)?answer(?:\s+to\s+(?:the|this|your)\s+question)?\s*"
                             r"(?:is\b\s*[:=]?(?:\s*that\b)?|[:=])\s*", re.I)
# where a summary reply stops being a summary: a fence, a special token, a new label
_SUMMARY_CUT = re.compile(r"</?(?:paper|examples|paragraph)>|<\||\n\s*(?:question|evidence|answer|note)\s*:", re.I)

# -- paragraph markers ----------------------------------------------------------------------
_BRACKETED = re.compile(r"\[\s*(\d{1,4}(?:\s*(?:,|and|-|–|;)\s*\d{1,4})*)\s*\]")
_PARA_WORD = re.compile(r"\b(?:paragraphs?|para\.?|¶)\s*#?\s*(\d{1,4}(?:\s*(?:,|and|-|–|&)\s*\d{1,4})*)", re.I)
_BARE_NUMS = re.compile(r"^\s*\[?\s*(\d{1,4}(?:\s*(?:,|and|-|–|;)\s*\d{1,4})*)\s*\]?")


def _numbers(spec: str, limit: int = 10) -> list[int]:
    """'3, 4 and 6-8' -> [3, 4, 6, 7, 8]."""
    out: list[int] = []
    for part in re.split(r"\s*(?:,|and|;|&)\s*", spec):
        m = re.match(r"^(\d+)\s*[-–]\s*(\d+)$", part.strip())
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if a <= b and b - a < limit:
                out.extend(range(a, b + 1))
            else:
                out.extend([a, b])
        elif part.strip().isdigit():
            out.append(int(part.strip()))
    return out


def evidence_numbers(text: str) -> list[int]:
    """Every paragraph reference in ``text``: ``[3]``, ``[3, 4]``, ``paragraph 3``, ``paragraphs 3-5``."""
    found: list[tuple[int, list[int]]] = []
    for m in _BRACKETED.finditer(text):
        found.append((m.start(), _numbers(m.group(1))))
    for m in _PARA_WORD.finditer(text):
        found.append((m.start(), _numbers(m.group(1))))
    found.sort(key=lambda x: x[0])
    return list(dict.fromkeys(n for _, ns in found for n in ns))


def cited_numbers(text: str, valid: set[int] | None = None) -> list[int]:
    """``evidence_numbers`` of ``text``, only those in ``valid`` when given."""
    ns = evidence_numbers(text)
    return [n for n in ns if valid is None or n in valid]


def _bare(text: str) -> list[int]:
    m = _BARE_NUMS.match(text)
    return _numbers(m.group(1)) if m else []


# -- while an answer streams ---------------------------------------------------------------
def live_view(raw: str) -> AnswerUpdate:
    """What to show of a reply while it streams (and of a refused one): the answer part once
    the model wrote its answer label (the last one, in any case), else what it wrote so far
    unless that is its ``Evidence: [3`` line; the paragraph numbers named before the answer."""
    label = None
    for label in _ANSWER_COLON.finditer(raw):
        pass
    head = raw if label is None else raw[: label.start()]
    evidence = tuple(int(n) for n in dict.fromkeys(re.findall(r"\d+", head))) if _on_evidence(head) else ()
    if label is not None:
        return AnswerUpdate(raw[label.end():].lstrip(), evidence, "answer")
    if _on_evidence(raw):
        return AnswerUpdate("", evidence, "evidence")
    return AnswerUpdate(raw, (), "answer")


def _on_evidence(text: str) -> bool:
    return _EVIDENCE_WORD.match(text.lstrip()) is not None


def answer_line_done(text: str) -> bool:
    """True once the reply holds a complete, non-empty answer line."""
    return bool(_ANSWER_LINE_DONE.search(text))


def answer_done(text: str, sentences: int = 0) -> bool:
    """The reply is complete: its answer line ended, or (``sentences`` > 0) it holds that many
    complete sentences."""
    if answer_line_done(text):
        return True
    if sentences:
        # complete once the next sentence has begun: a period alone may be a decimal point
        # ("accuracy of 91." then "5%")
        m = _ANSWER_COLON.search(text)
        body = text[m.end():] if m else ""
        return len(split_sentences(body)) > sentences
    return False


# -- a finished reply ----------------------------------------------------------------------
@dataclass
class ParsedReply:
    """An answer reply read: the paragraph numbers it names and its answer, tidied."""

    evidence: list[int] = field(default_factory=list)
    answer: str = ""
    raw: str = ""


def _tidy(text: str) -> str:
    text = _STOP_MARKERS.split(text, maxsplit=1)[0]
    text = text.strip().strip('"“”').strip()
    text = _LEADING_ANSWER.sub("", text)
    # references such as "[3]" or "(paragraph 3)" belong to the evidence, not the answer
    text = _BRACKETED.sub("", text)
    text = re.sub(r"\(\s*(?:see\s+)?(?:paragraphs?|para\.?)\s*[\d,\s\-–and]+\)", "", text, flags=re.I)
    text = re.sub(r"\s+([.,;:])", r"\1", text)
    return dedupe_repeats(text).strip(" ,;:")


def parse_answer(text: str, valid: set[int] | None = None, primer: str = "") -> ParsedReply:
    """Parse an ``Evidence: [n, ...]`` / ``Answer: ...`` reply.

    ``primer`` is what the assistant turn was primed with (e.g. ``primer("doubledipper")``);
    it is put back in front before parsing.  Numbers not in ``valid`` are dropped.
    """
    raw = text or ""
    full = primer + raw
    evidence: list[int] = []
    answer = ""
    am = _ANSWER.search(full)
    em = _EVIDENCE.search(full)
    if am:
        head, answer = full[: am.start()], full[am.end():]
        # evidence given after the answer ("Answer: x\nEvidence: [3]")
        tail_ev = _TAIL_EVIDENCE.search(answer)
        if tail_ev and not evidence_numbers(head):
            evidence = evidence_numbers(answer[tail_ev.end():][:80])
            answer = answer[: tail_ev.start()]
        else:
            evidence = evidence_numbers(head) or _bare(head[em.end():] if em else head)
        if not evidence:  # "Answer: [3] the BLEU score" or "... (paragraph 3)"
            evidence = evidence_numbers(answer)
    elif em:
        rest = full[em.end():]
        m = _BARE_NUMS.match(rest)
        if m and (m.group(0).strip().startswith("[") or re.match(r"^\s*\d", rest)):
            evidence = _numbers(m.group(1))
            answer = rest[m.end():]
        else:
            evidence = evidence_numbers(rest[:60])
            answer = rest
        answer = re.sub(r"^\s*[\]\).:,\-–]*\s*", "", answer)
    else:
        evidence = evidence_numbers(full)
        answer = full
    # one answer line: what follows a completed line is the model rambling on
    stripped = answer.lstrip()
    if "\n" in stripped:
        answer = stripped.split("\n", 1)[0]
    # a second "Question:" means the model went on to invent more examples
    qm = _QUESTION.search(answer)
    if qm:
        answer = answer[: qm.start()]
    answer = _tidy(answer)
    if valid is not None:
        evidence = [n for n in evidence if n in valid]
    return ParsedReply(evidence=list(dict.fromkeys(evidence))[:8], answer=answer, raw=raw)


def parse_demo(text: str, primer: str = DEMO_PRIMER) -> tuple[str, str]:
    """(question, answer) from a generated demonstration; empty strings when missing."""
    full = primer + (text or "")
    qm = _QUESTION.search(full)
    body = full[qm.end():] if qm else full
    am = _ANSWER.search(body)
    if am:
        question, answer = body[: am.start()], body[am.end():]
    else:
        lines = [ln for ln in body.strip().splitlines() if ln.strip()]
        if len(lines) < 2:
            return "", ""
        question, answer = lines[0], lines[1]
    question = _EVIDENCE.split(question, maxsplit=1)[0]
    question = " ".join(question.split()).strip(' "“”')
    if "?" in question:
        question = question[: question.index("?") + 1]
    answer = _QUESTION.split(answer, maxsplit=1)[0]
    answer = _EVIDENCE.split(answer, maxsplit=1)[0]
    answer = answer.strip().splitlines()[0] if answer.strip() else ""
    return question, _tidy(answer)


# -- where the answer line is (the confidence reads its tokens) ------------------------------
class AnswerSpan(NamedTuple):
    """Offsets in a reply: ``label`` where its (first) answer label starts (what comes before is
    the evidence); ``start`` where the answer follows the label; ``end`` where its line ends."""

    label: int
    start: int
    end: int


def answer_span(text: str, pos: int = 0) -> AnswerSpan | None:
    """The answer line of ``text`` (the first answer label at or after ``pos``, as
    ``parse_answer`` reads it), or None when there is no label.  A label alone on its line
    takes the next line as its answer."""
    m = _ANSWER.search(text, pos)
    if m is None:
        return None
    start = m.end()
    line_end = text.find("\n", start + 1 if text[start:start + 1] == "\n" else start)
    return AnswerSpan(m.start(), start, line_end if line_end >= 0 else len(text))


def through_answer_line(raw: str, primed: str = "") -> str:
    """``raw`` (generated after ``primed``, the prompt's end) up to the end of its answer line."""
    shift = len(primed)
    full = primed + raw
    m = _ANSWER.search(full, max(0, shift - 20))
    start = m.end() if m else shift
    body = full[start:]
    lead = len(body) - len(body.lstrip(" \t"))
    end = full.find("\n", start + lead)
    return raw[: end - shift].rstrip() if end >= shift else raw.rstrip()


# -- summary replies ------------------------------------------------------------------------
def summary_text(raw: str) -> str:
    """A summary reply up to where it stops being one (a fence, a special token, a new label)."""
    return _SUMMARY_CUT.split(raw, maxsplit=1)[0]


def summary_ended(raw: str) -> bool:
    """The summary reply went on to something that is no summary (``summary_text`` cut it)."""
    return bool(_SUMMARY_CUT.search(raw))


def continues_primer(text: str) -> bool:
    """A reply that goes on from its primer starts with a space or punctuation, or in lower case."""
    return bool(text) and (text[0].isspace() or text[0] in ",;:'’-" or text[0].islower())
