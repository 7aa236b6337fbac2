"""One ranking: a question ranks a paper's paragraphs the same in the library as in memory."""

from __future__ import annotations

import pytest

from reader_app.assistant.ranking import rank
from reader_app.assistant.windows import INCLUDED_KINDS, rank_in_memory
from reader_app.library import Library
from reader_app.library.ranking import rank_paper, rank_texts

QUESTIONS = [
    "How are bibliography entries linked to papers?",
    "Which tool parses the PDFs?",
    "How many papers does S2ORC contain?",
    "Which tasks are used for evaluation?",
    "do they release the corpus under a license",
]


@pytest.fixture(scope="module")
def papers(papers_dir):
    from reader_app.pdf.extract import extract_paper

    return (extract_paper(papers_dir / "2020.acl-main.447.pdf"),  # S2ORC
            extract_paper(papers_dir / "1903.10676.pdf"))  # SciBERT


def test_same_question_ranks_the_same_in_the_library_and_in_memory(tmp_path, papers):
    s2orc, other = papers
    with Library.open(tmp_path / "lib") as lib:
        pid, _ = lib.add_paper(s2orc)
        lib.add_paper(other)  # another paper's words must not change this paper's ranking
        stored = lib.get_paper(pid)
        for q in QUESTIONS:
            in_memory = rank(s2orc, q)  # no library: the in-memory FTS5 table
            in_library = rank(stored, q, lib)
            assert in_memory, q
            assert [i for i, _ in in_library] == [i for i, _ in in_memory], q
            assert [s for _, s in in_library] == pytest.approx([s for _, s in in_memory]), q
            assert lib.rank_paragraphs(pid, q) == in_library
        # the paper's own id, not in this library: the same ranking, in memory
    with Library.open(tmp_path / "empty") as empty:
        assert rank(s2orc, QUESTIONS[0], empty) == rank_in_memory(s2orc, QUESTIONS[0])


def test_ranking_finds_the_paragraph_that_answers(papers):
    s2orc, _ = papers
    best = rank(s2orc, "How are bibliography entries linked to papers?")[:2]
    assert all("bibliography" in s2orc.paragraphs[i].text.lower() for i, _ in best)
    assert "grobid" in s2orc.paragraphs[rank(s2orc, "Which tool parses the PDFs?")[0][0]].text.lower()
    scores = [s for _, s in rank(s2orc, "Which tasks are used for evaluation?")]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0


def test_rank_texts_is_bm25_with_stems_and_section_titles():
    docs = [(0, "The model is trained on text.", "Method"),
            (1, "Training the models took days; trains of thought.", "Training"),
            (2, "Nothing relevant here.", "Results"),
            (3, "Results on the dev set.", "Evaluation")]
    ranked = rank_texts(docs, "How were the models trained?")
    assert [k for k, _ in ranked][:2] == [1, 0]  # porter stems: train/trained/training/trains
    assert 2 not in {k for k, _ in ranked}
    assert [k for k, _ in rank_texts(docs, "evaluation")] == [3]  # the section title counts
    assert rank_texts(docs, "") == [] and rank_texts(docs, '"') == []
    assert rank_texts([(0, "a\x00b text", "")], "text") and rank_texts([], "text") == []


def test_rank_paper_uses_body_and_captions_only(papers):
    s2orc, _ = papers
    kinds = {p.index: p.kind for p in s2orc.paragraphs}
    assert {kinds[i] for i, _ in rank_paper(s2orc, "S2ORC corpus papers parses")} <= set(INCLUDED_KINDS)
