"""Sentences of running text: the one sentence splitter (answers, support checks,
summaries, PDF figure detection), and repeats dropped.  Standard library only.

A sentence ends at ``.``, ``!`` or ``?`` (and any closing quotes or brackets) followed by
space and a capital, a digit, an opening quote or bracket; "e.g.", "i.e.", "et al.",
"Fig." and a name's initial ("Marti A. Hearst") do not end one.  (pysbd was measured and
not taken: 130 times slower on QASPER paragraphs, and it cuts "(i) ... (ii) ..." lists
and "Peng et al." apart.)
"""

from __future__ import annotations

import re

_CLOSE = "\"'”’)\\]"  # closing quotes and brackets stay with the sentence they close
_SPLIT = re.compile(rf"(?:(?<=[.!?])|(?<=[.!?][{_CLOSE}])|(?<=[.!?][{_CLOSE}]{{2}}))\s+(?=[A-Z0-9\"“(\[])")
_ABBREV_END = re.compile(r"\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Eq|Sec|Tab|No)\.$", re.I)
_INITIAL_END = re.compile(r"(?:^|[\s(.])[A-Z]\.$")  # "Marti A." of "Marti A. Hearst", "U.S."
_END = re.compile(rf"[.!?][{_CLOSE}]*$")
_MARK = re.compile(r"[.!?](?:\s|$)")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped; whitespace inside them is kept as it is."""
    out: list[str] = []
    for part in _SPLIT.split(text.strip()):
        if out and (_ABBREV_END.search(out[-1]) or _INITIAL_END.search(out[-1])):
            out[-1] = f"{out[-1]} {part}"
        elif part.strip():
            out.append(part.strip())
    return out


def ends_sentence(text: str) -> bool:
    """Whether ``text`` ends as a sentence does ("... in Table 2." / "... (see below).")."""
    return bool(_END.search(text.rstrip()))


def sentence_ends(text: str) -> int:
    """How many ``.``, ``!`` or ``?`` end a word of ``text``, abbreviations included: a cheap
    count that picks the paragraphs demonstrations are written from.  Counting
    ``split_sentences`` instead would change that choice on 25 of the 60 QASPER papers the
    README measures, and with it their demonstrations (not measurable without the model)."""
    return len(_MARK.findall(text.strip() + " "))


def dedupe_repeats(text: str) -> str:
    """Drop sentences the text repeats, and collapse a phrase repeated back to back."""
    text = " ".join(text.split())
    # "X X X" where X is a run of words repeated
    text = re.sub(r"\b(.{4,80}?)(?:[\s,;.]+\1\b)+", r"\1", text)
    seen: set[str] = set()
    keep = []
    for s in split_sentences(text):
        key = re.sub(r"\W+", " ", s.lower()).strip()
        if key and key in seen:
            continue
        seen.add(key)
        keep.append(s)
    return " ".join(keep).strip()
