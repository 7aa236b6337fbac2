"""Sentences of running text: the one sentence splitter (answers, support checks,
summaries, PDF figure detection).  Standard library only.

A sentence ends at ``.``, ``!`` or ``?`` (and any closing quotes or brackets) followed by
space and a capital, a digit, an opening quote or bracket; "e.g.", "i.e.", "et al.",
"Fig." and a name's initial ("Marti A. Hearst") do not end one.  (pysbd was measured and
not taken: 130 times slower on QASPER paragraphs, and it cuts "(i) ... (ii) ..." lists
and "Peng et al." apart.)
"""

from __future__ import annotations

import re

_SPLIT = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[A-Z0-9\"“(\[])")
_ABBREV_END = re.compile(r"\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Eq|Sec|Tab|No)\.$", re.I)
_INITIAL_END = re.compile(r"(?:^|[\s(])[A-Z]\.$")  # "Marti A." of "Marti A. Hearst"
_END = re.compile(r"[.!?][\"'”’)\]]*$")


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
