"""Citation verification by lexical support; honesty when nothing supports the answer."""

from __future__ import annotations

from reader_app.assistant.citations import best_supporting, is_supported, says_not_answered, support, verify
from reader_app.core.model import Paragraph

P = {
    1: Paragraph(0, "We train the model on the PubMed corpus of 1.2 million abstracts.", 2, (1.0, 2.0, 3.0, 4.0), 0, "Data"),
    2: Paragraph(1, "The model reaches an accuracy of 91 percent on the test set.", 3, (5.0, 6.0, 7.0, 8.0), 1, "Results"),
    3: Paragraph(2, "Errors come mostly from long sentences. Tables are not handled.", 3, (0.0, 0.0, 0.0, 0.0), 1, "Results"),
}


def test_support_scores():
    assert support("the PubMed corpus", P[1].text) == 1.0
    assert support("the PubMed corpus", P[2].text) == 0.0
    assert support("abstracts", P[1].text) == 1.0  # stemming: abstracts ~ abstract
    # a number that the paragraph does not contain halves the score
    assert support("accuracy of 95 percent", P[2].text) < support("accuracy of 91 percent", P[2].text)


def test_numbers_are_read_whole_and_number_words_as_digits():
    """"7,563" is one number (an answer "7" is not in it), and "three" says "3"."""
    labelled = "We then asked three undergraduate annotators to label 7,563 tweets."
    assert not is_supported("7", labelled)  # was 7 and 563
    assert not is_supported("563 tweets", labelled)
    assert support("7,563 tweets", labelled) == 1.0
    assert support("7563 tweets", labelled) == 1.0
    assert support("3 undergraduate annotators", labelled) == 1.0  # was halved: no "3"
    assert support("three annotators", "We had 3 annotators.") == 1.0
    assert not is_supported("4 undergraduate annotators", labelled)
    assert support("1,2,3", "steps 1, 2 and 3") == 1.0  # not a thousands separator


def test_every_number_of_the_answer_must_be_in_the_paragraph():
    """One number found does not vouch for another the paragraph never states."""
    ranked = "Our system ranked tweets by how funny they are and scored 0.548 on Subtask A."
    assert support("0.548 on Subtask A", ranked) == 1.0
    assert support("ranked 4 with 0.548 on Subtask A", ranked) == 0.75 / 2  # no "4"
    dates = "We looked at the tweets posted from January 1, 2014 to December 31, 2015."
    assert is_supported("They looked at 1, 2014 to 31, 2015.", dates)
    assert not is_supported("They looked at 1, 2014 to 12, 2015.", dates)  # was 0.8: no "12"


def test_yes_no_uses_question_words():
    assert is_supported("Yes.", P[2].text, question="Is accuracy reported on the test set?")
    assert not is_supported("Yes.", P[1].text, question="Is accuracy reported on the test set?")


def test_verified_only_with_support_and_fields_copied():
    cites, ok = verify("91 percent", "What accuracy?", [2, 1], P)
    assert ok
    assert [(c.paragraph, c.verified) for c in cites] == [(2, True), (1, False)]
    c = cites[0]
    assert (c.page, c.section, c.text, c.bbox) == (3, "Results", P[2].text, (5.0, 6.0, 7.0, 8.0))


def test_nothing_supports_answer_means_unanswerable():
    cites, ok = verify("quantum chromodynamics", "What physics?", [1], P)
    assert not ok
    assert [c.verified for c in cites] == [False]


def test_model_saying_not_answered_is_unanswerable():
    assert says_not_answered("The paper does not say.")
    assert says_not_answered("This is not mentioned in the paper")
    assert not says_not_answered("The PubMed corpus")
    cites, ok = verify("The paper does not say.", "What?", [1], P)
    assert (cites, ok) == ([], False)


def test_inferred_citation_when_model_cites_nothing_or_wrong():
    cites, ok = verify("PubMed corpus of 1.2 million abstracts", "Which data?", [], P)
    assert ok and [(c.paragraph, c.verified) for c in cites] == [(1, True)]
    cites, ok = verify("PubMed corpus of 1.2 million abstracts", "Which data?", [3], P)
    assert ok and [(c.paragraph, c.verified) for c in cites] == [(3, False), (1, True)]


def test_out_of_range_numbers_dropped():
    cites, ok = verify("91 percent", "What accuracy?", [42, 2], P)
    assert [c.paragraph for c in cites] == [2]


def test_best_supporting():
    assert best_supporting("long sentences", P) == 3
    assert best_supporting("nothing relevant whatsoever", P) is None
    assert best_supporting("", P) is None
