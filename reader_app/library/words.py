"""What a word is: the one word analysis of the ranker's queries and the citation check.

The library's full-text index (``paragraphs_fts``, and the per-paper ranking in
``ranking.py``) tokenizes with SQLite FTS5's ``porter unicode61 remove_diacritics 2``:
runs of letters and digits, lower-cased, accents removed, then Porter stems.  The same
analysis, here, decides which words of a question are searched for (``search.match_any``)
and which words of an answer must be found in the paragraph it cites
(``assistant.citations.support``):

- :func:`words`: the words of a text.  As unicode61 sees them, except that a number with a
  decimal point ("3.5"), a thousands separator ("7,563" -> "7563") or a hyphenated word
  ("GPT-4", "state-of-the-art") stays one word; :func:`terms` splits such a word into the
  index's tokens.
- :data:`STOP_WORDS`: words that carry no content (one list for both uses).
- :func:`stem`: the Porter stem FTS5 gives a word, from ``snowballstemmer``'s "porter"
  algorithm.  FTS5 leaves words shorter than 3 characters alone; so does this.  Measured
  on the 7 papers of shared/papers (8,708 distinct tokens, 68,357 in all), the stems agree
  with FTS5's on all but 12 words (0.14%; 99.90% of the running text): FTS5 follows
  Porter's later reference code, which turns "-logi" into "-log" and "-bli" into "-ble"
  ("technology": FTS5 "technolog", here "technologi"), the same way for every word of a
  family, so support checks are not affected (tests/test_words.py measures it again).
- :func:`content_words`: words minus stop words, number words two to twelve as digits,
  stemmed: what the citation check compares.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import snowballstemmer

STOP_WORDS = frozenset("""
a an the and or but if then else of to in on at by for with from as into onto over under about
is are was were be been being am do does did doing done have has had having can could may might
must shall should will would this that these those it its it's they them their there here which
who whom whose what when where why how not no yes than so such too very also only just both each
all any some more most other same own i we you he she our your his her my me us one two
use used using uses based via et al e g i e eg ie e.g i.e per vs between within without while
because paper authors author
""".split())

# numbers written as words ("the four languages", "three datasets")
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
# "three annotators" and "3 annotators" say the same ("one" is too often not a number)
_AS_DIGITS = {w: str(n) for w, n in NUMBER_WORDS.items() if n >= 2}

_WORD = re.compile(r"[^\W_]+(?:[.\-][^\W_]+)*")  # letters/digits; "3.5", "gpt-4" stay whole
_TERM = re.compile(r"[^\W_]+")  # what unicode61 calls a token
# a thousands separator inside a number: "7,563" is the one number 7563, not 7 and 563
_THOUSANDS = re.compile(r"(?<![\d,])(\d{1,3})((?:,\d{3})+)(?![\d]|,\d)")
_PORTER = snowballstemmer.stemmer("porter")
MIN_STEMMED = 3  # FTS5's porter tokenizer leaves shorter words as they are


def plain_numbers(text: str) -> str:
    """``text`` with the thousands separators taken out of its numbers ("7,563" -> "7563")."""
    return _THOUSANDS.sub(lambda m: m.group(1) + m.group(2).replace(",", ""), text)


def fold(text: str) -> str:
    """Lower case, compatibility forms unified (NFKC: "ﬁ" -> "fi"), accents removed, as
    ``unicode61 remove_diacritics 2`` folds a token."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The words of ``text``, folded (see the module docstring)."""
    return _WORD.findall(plain_numbers(fold(text)))


def terms(word: str) -> list[str]:
    """The full-text index's tokens of one word: "gpt-4" -> ["gpt", "4"]."""
    return _TERM.findall(fold(word))


def is_stop_word(word: str) -> bool:
    return fold(word) in STOP_WORDS


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """The Porter stem of a folded word, as FTS5's porter tokenizer makes it (a hyphenated
    word: each part's, "pre-trained" -> "pre-train")."""
    if "-" in word:
        return "-".join(stem(part) for part in word.split("-"))
    if len(word) < MIN_STEMMED:
        return word
    return _PORTER.stemWord(word)


def content_words(text: str) -> list[str]:
    """The words that carry content, stemmed; number words from two to twelve as digits."""
    out = []
    for w in words(text):
        w = _AS_DIGITS.get(w, w)
        if w not in STOP_WORDS and (len(w) > 1 or w.isdigit()):
            out.append(stem(w))
    return out
