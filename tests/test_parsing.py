"""Forgiving parsing of what small models write."""

from __future__ import annotations

import pytest

from reader_app.assistant.parsing import (
    dedupe_repeats,
    evidence_numbers,
    parse_answer,
    parse_demo,
    strip_restatement,
)

VALID = set(range(1, 21))
P = "Evidence: ["  # the primer the reply is forced to start with


@pytest.mark.parametrize("raw, evidence, answer", [
    ("3]\nAnswer: the PubMed corpus", [3], "the PubMed corpus"),
    ("3, 7]\nAnswer: BLEU and ROUGE", [3, 7], "BLEU and ROUGE"),
    ("3][7]\nAnswer: BLEU", [3, 7], "BLEU"),
    ("3 ,4 and 5]\nAnswer: x y", [3, 4, 5], "x y"),
    ("paragraph 3]\nAnswer: SQuAD", [3], "SQuAD"),
    ("]\nAnswer: The paper does not say.", [], "The paper does not say."),
    ("3]\nAnswer: 91 percent\nQuestion: What else?\nEvidence: [4]\nAnswer: nothing", [3], "91 percent"),
    ("3]\nAnswer: 91 percent. 91 percent. 91 percent.", [3], "91 percent."),
    ("99]\nAnswer: something", [], "something"),  # out of range
    ("0, 2]\nAnswer: two", [2], "two"),
    ("3]\n\nAnswer:   spaced out   ", [3], "spaced out"),
    ("3]\nanswer: lower case label", [3], "lower case label"),
    ("3] The answer is SQuAD.", [3], "SQuAD."),
    ("3-5]\nAnswer: a range", [3, 4, 5], "a range"),
    ("3]\nAnswer: \"quoted\"", [3], "quoted"),
    ("3]\nAnswer: uses LSTM [3] layers", [3], "uses LSTM layers"),
])
def test_primed_replies(raw, evidence, answer):
    got = parse_answer(raw, VALID, primer=P)
    assert got.evidence == evidence
    assert got.answer == answer
    assert got.raw == raw


@pytest.mark.parametrize("raw, evidence, answer", [
    ("Answer: the PubMed corpus", [], "the PubMed corpus"),  # no Evidence at all
    ("Evidence: 3\nAnswer: SQuAD", [3], "SQuAD"),  # bare number
    ("Evidence: paragraph 12\nAnswer: SQuAD", [12], "SQuAD"),
    ("Evidence: paragraphs 2 and 4\nAnswer: both", [2, 4], "both"),
    ("Sure! Here is the answer.\nEvidence: [5]\nAnswer: 91 percent", [5], "91 percent"),
    ("Answer: 91 percent\nEvidence: [5]", [5], "91 percent"),  # order swapped
    ("Answer: 91 percent (paragraph 5)", [5], "91 percent"),
    ("The model is trained on PubMed [3].", [3], "The model is trained on PubMed."),
    ("", [], ""),
    ("Evidence: [2]", [2], ""),
    ("Evidence: [1]\nAnswer: yes\n</examples>", [1], "yes"),
    ("Evidence: [1]\nAnswer: yes<|im_end|>", [1], "yes"),
])
def test_unprimed_and_broken_replies(raw, evidence, answer):
    got = parse_answer(raw, VALID)
    assert got.evidence == evidence
    assert got.answer == answer


def test_evidence_numbers_variants():
    assert evidence_numbers("see [3] and paragraph 5, also [7, 8]") == [3, 5, 7, 8]
    assert evidence_numbers("paragraphs 2-4") == [2, 3, 4]
    assert evidence_numbers("nothing here") == []
    assert evidence_numbers("year 2019 and 42 apples") == []


def test_evidence_capped_and_deduplicated():
    got = parse_answer("1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nAnswer: many", VALID, primer=P)
    assert got.evidence == [1, 2, 3, 4, 5, 6, 7, 8]


def test_dedupe_repeats():
    assert dedupe_repeats("It works. It works. It works.") == "It works."
    assert dedupe_repeats("the model the model the model is good") == "the model is good"
    assert dedupe_repeats("Two different sentences. Both stay.") == "Two different sentences. Both stay."


@pytest.mark.parametrize("raw, question, answer", [
    (" Which corpus is used?\nAnswer: PubMed", "Which corpus is used?", "PubMed"),
    (" Which corpus is used? Answer: PubMed", "Which corpus is used?", "PubMed"),
    (" Which corpus is used?\nEvidence: [3]\nAnswer: PubMed\nQuestion: another?", "Which corpus is used?", "PubMed"),
    (" What is it?\nIt is PubMed", "What is it?", "It is PubMed"),
    (" What is it?", "", ""),
    ("", "", ""),
])
def test_parse_demo(raw, question, answer):
    assert parse_demo(raw) == (question, answer)


@pytest.mark.parametrize("question, answer, expected", [
    ("What dataset do they use?", "The dataset they use is SQuAD.", "SQuAD."),
    ("What is the purpose of the system?", "The purpose of the system is to summarize papers.", "summarize papers."),
    ("Which language?", "Portuguese", "Portuguese"),
    ("What do they compare?", "They compare BLEU and ROUGE.", "They compare BLEU and ROUGE."),
    ("What is the goal?", "The goal is", "The goal is"),  # nothing left: keep it whole
    ("Are experiments conducted on multiple datasets?", "No, experiments are conducted on one dataset.",
     "No, experiments are conducted on one dataset."),  # the Yes/No is the answer
])
def test_strip_restatement(question, answer, expected):
    assert strip_restatement(question, answer) == expected


def test_condense_long_copied_paragraph_to_relevant_sentence():
    from reader_app.assistant.parsing import condense

    para = ("Scientific papers are hard to read. We build an assistant. The model reaches an accuracy of 91 "
            "percent on the test set. This beats the baseline by four points.")
    assert condense("How accurate is the model on the test set?", para) == \
        "The model reaches an accuracy of 91 percent on the test set."
    assert condense("Which corpus?", "The PubMed corpus.") == "The PubMed corpus."
    assert condense("x?", "Short one. Short two.") == "Short one. Short two."


def test_the_word_evidence_inside_an_answer_does_not_cut_it():
    p = parse_answer(" They use Wikipedia as an external evidence to validate the answers.\n", None, primer="Answer:")
    assert p.answer == "They use Wikipedia as an external evidence to validate the answers."
    tail = parse_answer(" the PubMed corpus\nEvidence: [3]", {3}, primer="Answer:")
    assert (tail.answer, tail.evidence) == ("the PubMed corpus", [3])
