"""The one word analysis (library/words.py): the ranker's queries and the citation check
agree on what a word is, and its stems are the ones the full-text index makes."""

from __future__ import annotations

import sqlite3

import pytest

from reader_app.assistant import citations
from reader_app.library import words
from reader_app.library.ranking import TOKENIZE
from reader_app.library.search import match_any
from reader_app.library.words import content_words, stem, terms


def fts5_stems(tokens: list[str]) -> list[str]:
    """What SQLite's FTS5 index (tokenized as the library's) stores for each token."""
    con = sqlite3.connect(":memory:")
    con.execute(f"CREATE VIRTUAL TABLE t USING fts5(w, tokenize='{TOKENIZE}')")
    con.executemany("INSERT INTO t (rowid, w) VALUES (?, ?)", enumerate(tokens))
    con.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    found = {doc: term for term, doc in con.execute("SELECT term, doc FROM v")}
    con.close()
    return [found.get(i, "") for i in range(len(tokens))]


def test_stems_are_the_full_text_indexs_on_a_real_paper(papers_dir):
    from reader_app.pdf.extract import extract_paper

    paper = extract_paper(papers_dir / "2020.acl-main.447.pdf")
    tokens = sorted({t for p in paper.paragraphs for t in terms(p.text)})
    assert len(tokens) > 1000
    differ = [(t, f, stem(t)) for t, f in zip(tokens, fts5_stems(tokens)) if f != stem(t)]
    assert len(differ) / len(tokens) < 0.005, differ
    # the only known differences: Porter's later "-logi" -> "-log", "-bli" -> "-ble"
    assert all(f.endswith(("log", "bl")) for _, f, _ in differ), differ


def test_short_words_and_hyphenated_words_are_stemmed_as_the_index_does():
    assert [stem(w) for w in ("as", "is", "us")] == ["as", "is", "us"]  # FTS5: < 3 letters kept
    assert fts5_stems(["as", "is", "us", "trained", "models"]) == ["as", "is", "us", "train", "model"]
    assert stem("pre-trained") == "pre-train" == stem("pre-training")
    assert words.words("GPT-4 reaches 3.5 points on 7,563 naïve ﬁles") == \
        ["gpt-4", "reaches", "3.5", "points", "on", "7563", "naive", "files"]
    assert terms("GPT-4") == ["gpt", "4"]


def test_the_ranker_and_the_citation_check_see_the_same_content_words():
    q = "Which models were trained on the datasets that the authors released?"
    searched = [t.strip('"') for t in match_any(q).split(" OR ")]
    assert searched == ["models", "trained", "datasets", "released"]
    assert [stem(w) for w in searched] == content_words(q) == ["model", "train", "dataset", "releas"]
    # one stop-word list: the citation check's is the analysis's
    assert citations.STOPWORDS is words.STOP_WORDS
    assert citations.content_words is words.content_words


def test_one_term_per_stem_and_phrases_for_compound_words():
    assert match_any("model models modelling evaluation") == '"model" OR "evaluation"'
    assert match_any("Does GPT-4 beat BERT?") == '"gpt 4" OR "beat" OR "bert"'
    assert match_any("what is it") == '"what" OR "is" OR "it"'  # only stop words: use them
    assert match_any('"; DROP TABLE papers; --') == '"drop" OR "table" OR "papers"'


@pytest.mark.parametrize("answer, paragraph", [
    ("The generated summaries", "We generate summaries with the model."),
    ("Annotators labelled the relations", "Each annotator labels relations by hand."),
])
def test_support_counts_words_of_one_stem(answer, paragraph):
    assert citations.support(answer, paragraph) == 1.0
