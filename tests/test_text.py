"""The one sentence splitter (core/text.py)."""

from __future__ import annotations

from reader_app.core.text import dedupe_repeats, ends_sentence, sentence_ends, split_sentences


def test_split_sentences_keeps_abbreviations_and_initials():
    text = ("We follow Peng et al. and use e.g. BERT. Marti A. Hearst wrote it (Fig. 2). "
            "Does it work?  Yes! 3 runs were made. “Quoted.” Then (a) more.")
    assert split_sentences(text) == [
        "We follow Peng et al. and use e.g. BERT.", "Marti A. Hearst wrote it (Fig. 2).", "Does it work?",
        "Yes!", "3 runs were made.", "“Quoted.”", "Then (a) more."]
    assert split_sentences("the U.S. Census Bureau. U. S. Retail firms.") == [
        "the U.S. Census Bureau.", "U. S. Retail firms."]
    assert split_sentences("accuracy of 0.5. then lower case") == ["accuracy of 0.5. then lower case"]
    assert split_sentences("  ") == [] and split_sentences("no end") == ["no end"]


def test_ends_sentence_and_sentence_ends():
    assert ends_sentence("as shown in Table 2.") and ends_sentence("(see below).)  ") and ends_sentence("“Why?”")
    assert not ends_sentence("Table 2: results") and not ends_sentence("")
    assert sentence_ends("One. Two, e.g. three! Four") == 3 and sentence_ends("none") == 0


def test_dedupe_repeats():
    assert dedupe_repeats("It works. It works. It works.") == "It works."
    assert dedupe_repeats("the model the model the model is good") == "the model is good"
    assert dedupe_repeats("Two different sentences. Both stay.") == "Two different sentences. Both stay."
    # a repeated "S." is not a repeated sentence: "U. S. ... U. S. Retail" keeps both
    text = "The U. S. Census Bureau surveyed U. S. Retail firms."
    assert dedupe_repeats(text) == text
    assert dedupe_repeats("It is BERT. It is BERT. Done.") == "It is BERT. Done."


def test_answers_and_checks_use_it():
    from reader_app.assistant import answers, checks

    assert answers.split_sentences is split_sentences
    assert checks.demo_problem("What model do the authors use for this?", "we use the large variant of BERT here",
                               "Results are good, e.g. on SQuAD. We use the large variant of BERT here for all.",
                               strict=True) == "answer copies the opening of a sentence"
