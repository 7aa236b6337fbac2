"""Forgiving parsers for what small models write.

The embedded 135M model breaks formats: it drops "Evidence:", writes ``3`` or
``paragraph 3`` instead of ``[3]``, chats before and after, repeats its answer, cites
numbers that do not exist, or starts a new "Question:" of its own.  These parsers take
what they can and never raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reader_app.core.text import ends_sentence, split_sentences  # noqa: F401 (split_sentences: answers.py)

_EVIDENCE = re.compile(r"\bevidence\s*(?:paragraphs?)?\s*[:=\-]?", re.I)
# "Answer: x\nEvidence: [3]" - not the word in "an external evidence to validate"
_TAIL_EVIDENCE = re.compile(r"\bevidence\s*(?:paragraphs?)?\s*(?::|=|\[|\(\s*\d)", re.I)
ANSWER_LABEL = re.compile(r"\banswer\s*[:=]", re.I)  # where the answer starts (also confidence.py)
_ANSWER = ANSWER_LABEL
_QUESTION = re.compile(r"\bquestion\s*[:=]", re.I)
_STOP_MARKERS = re.compile(r"\n\s*(?:question|evidence|example|note|explanation|paragraph \[)\s*[:\[]|</?(?:examples|paper|paragraph)>|<\|", re.I)
_BRACKETED = re.compile(r"\[\s*(\d{1,4}(?:\s*(?:,|and|-|–|;)\s*\d{1,4})*)\s*\]")
_PARA_WORD = re.compile(r"\b(?:paragraphs?|para\.?|¶)\s*#?\s*(\d{1,4}(?:\s*(?:,|and|-|–|&)\s*\d{1,4})*)", re.I)
_BARE_NUMS = re.compile(r"^\s*\[?\s*(\d{1,4}(?:\s*(?:,|and|-|–|;)\s*\d{1,4})*)\s*\]?")


@dataclass
class Parsed:
    evidence: list[int] = field(default_factory=list)
    answer: str = ""
    raw: str = ""


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


def dedupe_repeats(text: str) -> str:
    """Drop sentences the model repeats, and collapse a phrase repeated back to back."""
    text = " ".join(text.split())
    # "X X X" where X is a run of words repeated
    text = re.sub(r"\b(.{4,80}?)(?:[\s,;.]+\1\b)+", r"\1", text)
    sents = split_sentences(text)
    seen: set[str] = set()
    keep = []
    for s in sents:
        key = re.sub(r"\W+", " ", s.lower()).strip()
        if key and key in seen:
            continue
        seen.add(key)
        keep.append(s)
    return " ".join(keep).strip()


def tidy_answer(text: str) -> str:
    text = _STOP_MARKERS.split(text, maxsplit=1)[0]
    text = text.strip().strip('"“”').strip()
    text = re.sub(r"^(?:the\s+)?answer(?:\s+to\s+(?:the|this|your)\s+question)?\s*(?:is\b\s*[:=]?(?:\s*that\b)?|[:=])\s*",
                  "", text, flags=re.I)
    # references such as "[3]" or "(paragraph 3)" belong to the evidence, not the answer
    text = _BRACKETED.sub("", text)
    text = re.sub(r"\(\s*(?:see\s+)?(?:paragraphs?|para\.?)\s*[\d,\s\-–and]+\)", "", text, flags=re.I)
    text = re.sub(r"\s+([.,;:])", r"\1", text)
    return dedupe_repeats(text).strip(" ,;:")


def parse_answer(text: str, valid: set[int] | None = None, primer: str = "") -> Parsed:
    """Parse an ``Evidence: [n, ...]`` / ``Answer: ...`` reply.

    ``primer`` is what the assistant turn was primed with (e.g. ``"Evidence: ["``); it is
    put back in front before parsing.  Numbers not in ``valid`` are dropped.
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
    answer = tidy_answer(answer)
    if valid is not None:
        evidence = [n for n in evidence if n in valid]
    return Parsed(evidence=list(dict.fromkeys(evidence))[:8], answer=answer, raw=raw)


def _bare(text: str) -> list[int]:
    m = _BARE_NUMS.match(text)
    return _numbers(m.group(1)) if m else []


def parse_demo(text: str, primer: str = "Question:") -> tuple[str, str]:
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
    return question, tidy_answer(answer)


_COPULA = re.compile(r"\b(is|are|was|were|be|by|to|uses?|used|using|include|includes|consists? of|called|named)\b", re.I)


def strip_restatement(question: str, answer: str) -> str:
    """'What dataset do they use?' / 'The dataset they use is SQuAD.' -> 'SQuAD.'

    Cuts a leading clause that only restates the question (all its content words come
    from the question) up to its verb; keeps the answer whole when that leaves nothing.
    """
    from reader_app.assistant.citations import content_words

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
    from reader_app.assistant.citations import content_words

    sents = split_sentences(answer)
    if len(sents) < 2 or (len(sents) <= 2 and len(answer.split()) <= max_words):
        return answer
    q = set(content_words(question))
    best = max(range(len(sents)), key=lambda i: (len(q & set(content_words(sents[i]))), -i))
    return sents[best]


def cited_numbers(text: str, valid: set[int] | None = None) -> list[int]:
    ns = evidence_numbers(text)
    return [n for n in ns if valid is None or n in valid]


def drop_hedges(answer: str) -> str:
    """'No, they did not. The paper does not mention any platform.' -> 'No, they did not.': a
    sentence after the first that says the paper is silent on something is a hedge, not a refusal."""
    from reader_app.assistant.citations import says_not_answered

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
