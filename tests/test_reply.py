"""The model's reply format (assistant/reply.py): priming, grammars, the live view while a
reply streams, forgiving parsing of what small models write, and where the answer line is."""

from __future__ import annotations

import pytest

from reader_app.assistant import reply
from reader_app.assistant.reply import (
    answer_done,
    answer_line_done,
    answer_span,
    evidence_numbers,
    live_view,
    parse_answer,
    parse_demo,
    through_answer_line,
)
from reader_app.core.model import AnswerUpdate

VALID = set(range(1, 21))
P = reply.primer("doubledipper")  # the primer the reply is forced to start with


def test_primers_and_labels():
    assert P == reply.primer("zero-shot-evidence") == "Evidence: ["
    assert reply.primer("zero-shot") == reply.ANSWER_LABEL == "Answer:"
    assert reply.primer("quick") == ""  # a mode without its own primer
    assert reply.DEMO_PRIMER == reply.QUESTION_LABEL
    assert reply.summary_primer("tldr") == "This paper" and reply.summary_primer("section") == "This section"
    assert {"\nQuestion", "\nEvidence"} <= set(reply.ANSWER_STOP) and "\nEvidence" in reply.DEMO_STOP


# -- parsing -------------------------------------------------------------------------------
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
    ("3]\nANSWER: upper case label", [3], "upper case label"),
    ("3]\nAnswer : a space before the colon", [3], "a space before the colon"),
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
    ("evidence: [4]\nanswer: SQuAD", [4], "SQuAD"),  # lower case labels
    ("EVIDENCE: [4]\nANSWER: SQuAD", [4], "SQuAD"),
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


def test_the_word_evidence_inside_an_answer_does_not_cut_it():
    p = parse_answer(" They use Wikipedia as an external evidence to validate the answers.\n", None, primer="Answer:")
    assert p.answer == "They use Wikipedia as an external evidence to validate the answers."
    tail = parse_answer(" the PubMed corpus\nEvidence: [3]", {3}, primer="Answer:")
    assert (tail.answer, tail.evidence) == ("the PubMed corpus", [3])


def test_evidence_numbers_variants():
    assert evidence_numbers("see [3] and paragraph 5, also [7, 8]") == [3, 5, 7, 8]
    assert evidence_numbers("paragraphs 2-4") == [2, 3, 4]
    assert evidence_numbers("nothing here") == []
    assert evidence_numbers("year 2019 and 42 apples") == []
    assert reply.cited_numbers("[3] and [30]", {3}) == [3]


def test_evidence_capped_and_deduplicated():
    got = parse_answer("1, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nAnswer: many", VALID, primer=P)
    assert got.evidence == [1, 2, 3, 4, 5, 6, 7, 8]


@pytest.mark.parametrize("raw, question, answer", [
    (" Which corpus is used?\nAnswer: PubMed", "Which corpus is used?", "PubMed"),
    (" Which corpus is used? Answer: PubMed", "Which corpus is used?", "PubMed"),
    (" Which corpus is used?\nanswer: PubMed", "Which corpus is used?", "PubMed"),
    (" Which corpus is used?\nEvidence: [3]\nAnswer: PubMed\nQuestion: another?", "Which corpus is used?", "PubMed"),
    (" What is it?\nIt is PubMed", "What is it?", "It is PubMed"),
    (" What is it?", "", ""),
    ("", "", ""),
])
def test_parse_demo(raw, question, answer):
    assert parse_demo(raw) == (question, answer)


def test_what_the_prompts_show_is_what_the_parsers_read():
    """A demonstration as the model reads it parses back to itself, and so does a reply laid
    out as ``DEMO_FORMAT`` asks."""
    shown = reply.example("Which corpus is used?", 3, "the PubMed corpus")
    parsed = parse_answer(shown, VALID)
    assert (parsed.evidence, parsed.answer) == ([3], "the PubMed corpus")
    assert shown.startswith(reply.QUESTION_LABEL)
    fmt = reply.DEMO_FORMAT.split("\n", 1)[1].replace("...?", "Which corpus?").replace("...", "PubMed")
    assert parse_demo(fmt[len(reply.DEMO_PRIMER):]) == ("Which corpus?", "PubMed")


# -- while it streams ------------------------------------------------------------------------
def _stream(primer: str, tokens: list[str]) -> list[AnswerUpdate]:
    return [live_view(primer + "".join(tokens[: i + 1])) for i in range(len(tokens))]


def test_live_view_token_by_token():
    tokens = ["3", ",", " 7", "]\n", "Answer", ":", " the", " PubMed", " corpus", "\n"]
    views = _stream(P, tokens)
    assert [v.phase for v in views] == ["evidence"] * 5 + ["answer"] * 5
    assert [v.evidence for v in views[:5]] == [(3,), (3,), (3, 7), (3, 7), (3, 7)]
    assert views[4].text == ""  # "Answer" without its colon is not the label yet
    assert [v.text for v in views[5:]] == ["", "the", "the PubMed", "the PubMed corpus", "the PubMed corpus\n"]
    assert all(v.evidence == (3, 7) for v in views[5:])


@pytest.mark.parametrize("label", ["Answer:", "answer:", "ANSWER:", "Answer :"])
def test_live_view_finds_the_answer_label_in_any_case(label):
    v = live_view(f"Evidence: [4]\n{label} BLEU")
    assert v == AnswerUpdate("BLEU", (4,), "answer")
    assert live_view("evidence: [4, 5") == AnswerUpdate("", (4, 5), "evidence")


def test_live_view_of_zero_shot_and_unprimed_replies():
    zero_shot = _stream(reply.primer("zero-shot"), [" It", " is", " BLEU"])
    assert [v.text for v in zero_shot] == ["It", "It is", "It is BLEU"]
    assert all(v.phase == "answer" and v.evidence == () for v in _stream("Answer:", [" x", " y"]))
    chat = live_view("Sure, the model uses BLEU")  # no labels at all: what it wrote so far
    assert chat == AnswerUpdate("Sure, the model uses BLEU", (), "answer")


def test_answer_done():
    assert not answer_line_done("Evidence: [3]\nAnswer: the") and answer_line_done("Evidence: [3]\nAnswer: the x\n")
    assert not answer_line_done("Answer:\n") and answer_line_done("answer: yes\n")
    assert not answer_done("Answer: an accuracy of 91.", 1)  # "5%" may follow
    assert answer_done("Answer: an accuracy of 91.5%. The", 1)
    assert answer_done("ANSWER: A b. C d. E f. G", 3) and not answer_done("Answer: A b. C d.", 3)


# -- where the answer line is ----------------------------------------------------------------
def test_answer_span():
    text = "Evidence: [3]\nAnswer: the corpus\nQuestion: more"
    span = answer_span(text)
    assert text[span.label:span.start] == "Answer:" and text[span.start:span.end] == " the corpus"
    assert text[:span.label] == "Evidence: [3]\n"  # what comes before is the evidence
    low = "evidence: [3]\nanswer: yes"
    assert low[answer_span(low).start:answer_span(low).end] == " yes"  # to the end of the text
    alone = "Answer:\nthe corpus\nmore"  # a label alone on its line: the answer is the next line
    assert alone[answer_span(alone).start:answer_span(alone).end] == "\nthe corpus"
    assert answer_span("no label here") is None
    assert answer_span("Answer: a\nAnswer: b", 3).start == len("Answer: a\nAnswer:")  # from pos on


def test_through_answer_line():
    assert through_answer_line("3]\nAnswer: the corpus\nQuestion: x", "...Evidence: [") == "3]\nAnswer: the corpus"
    assert through_answer_line(" the corpus\nmore", "...Answer:") == " the corpus"  # primed with the label
    assert through_answer_line("no label\nmore") == "no label"


# -- grammars --------------------------------------------------------------------------------
def test_grammars_match_the_labels_and_limit_the_evidence():
    g = reply.grammar("doubledipper", "Which corpus?", [12, 3, 7, 3])
    assert f'"{reply.ANSWER_LABEL} "' in g and 'num ::= "12" | "3" | "7"' in g
    assert "[1-9]" in reply.grammar("doubledipper", "Which corpus?")  # no candidates: any number
    assert '("Yes" | "No")' in reply.grammar("zero-shot-evidence", "Do they use BERT?")
    assert '("Yes" | "No")' in reply.grammar("zero-shot", "Is it fast?")
    assert '("Yes" | "No")' not in reply.grammar("zero-shot", "Is BERT or ELMo better?")
    assert f'"?\\n{reply.ANSWER_LABEL} "' in reply.demo_grammar("We use the PubMed corpus.")


# -- summary replies -------------------------------------------------------------------------
def test_summary_replies():
    text = "This section shows BLEU [3].\nAnswer: more"
    assert reply.summary_text(text) == "This section shows BLEU [3]." and reply.summary_ended(text)
    assert reply.summary_text("It works [2].</paper> junk") == "It works [2]."
    assert not reply.summary_ended("It works [2]. The answer is clear.")  # the word, not the label
    assert reply.continues_primer(" presents a model") and reply.continues_primer("describes")
    assert not reply.continues_primer("The paper presents") and not reply.continues_primer("")
