"""Model-aware answering (issue E): the small model's crutches only for small models; honest
"not answered" for replies that are no answer, whatever the model."""

from __future__ import annotations

import pytest

from reader_app.assistant import prompts
from reader_app.assistant.checks import echoes_question, off_language
from reader_app.assistant.citations import verify
from reader_app.assistant.service import NOT_ANSWERED_TEXT, Assistant
from reader_app.assistant.answers import condense, strip_restatement, whole_sentences
from reader_app.assistant.style import CAPABLE, SMALL, style_for
from reader_app.core.errors import BadInput
from tests.fakes import FakeEngine
from tests.test_prompts import make_paper


class SizedEngine(FakeEngine):
    """A fake engine that reports a model size, as LlamaEngine and ProcessEngine do."""

    def __init__(self, respond, parameters: int = 1_540_000_000, **kw):
        super().__init__(respond, **kw)
        self.parameters = parameters


def test_style_follows_model_size_backend_and_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("READER_APP_CONFIG_DIR", str(tmp_path))
    assert style_for(FakeEngine()) is SMALL  # no size reported: the embedded model's path
    assert style_for(SizedEngine("", parameters=135_000_000)) is SMALL
    assert style_for(SizedEngine("", parameters=1_540_000_000)) is CAPABLE
    server = FakeEngine()
    server.backend = "openai"
    assert style_for(server) is CAPABLE
    assert style_for(SizedEngine("", parameters=1_540_000_000), "small") is SMALL
    (tmp_path / "assistant.json").write_text('{"answer_style": "capable"}')
    assert style_for(FakeEngine()) is CAPABLE
    with pytest.raises(BadInput):
        style_for(FakeEngine(), "huge")


def _ask(engine, question="What accuracy does the model reach?", mode="zero-shot-evidence"):
    return Assistant(engine, k=0).ask(make_paper(), question, mode=mode)


def test_capable_model_gets_room_and_the_answer_shape_in_its_prompt():
    small, capable = FakeEngine("5]\nAnswer: 91 percent"), SizedEngine("5]\nAnswer: 91 percent")
    _ask(small), _ask(capable)
    assert small.calls[-1][2]["max_tokens"] == SMALL.max_answer_tokens
    assert capable.calls[-1][2]["max_tokens"] == CAPABLE.max_answer_tokens > SMALL.max_answer_tokens
    assert prompts.ANSWER_SHAPE in capable.calls[-1][1] and prompts.ANSWER_SHAPE not in small.calls[-1][1]


REPLY = ("5]\nAnswer: The model reaches an accuracy of 91 percent on the test set. "
         "That beats the baseline by four points. Errors come from long sentences. Tables are not handled.\n")


def test_capable_answer_is_its_first_whole_sentence_and_generation_stops_after_it():
    a = _ask(SizedEngine(REPLY))
    assert a.answerable and a.answer == "The model reaches an accuracy of 91 percent on the test set."
    long_reply = REPLY.replace("handled.\n", "handled. " + " ".join(["More words here."] * 40) + "\n")
    capable, small = SizedEngine(long_reply), FakeEngine(long_reply)
    by_capable, by_small = _ask(capable), _ask(small)
    assert by_capable.timings.completion_tokens < 20  # stopped once the second sentence began
    assert by_small.timings.completion_tokens == SMALL.max_answer_tokens  # ran on to its cap
    # the first sentence, even when a later one shares more of the question's words (the
    # small style keeps the one nearest the question)
    later = ("5]\nAnswer: It is trained on 1.2 million PubMed abstracts. The model reaches an accuracy "
             "that the test set shows. Training takes two days on one GPU.\n")
    assert _ask(SizedEngine(later)).answer == "It is trained on 1.2 million PubMed abstracts."
    assert condense("What accuracy does the model reach?", later.split("Answer: ")[1]).startswith("The model reaches")


def test_a_decimal_point_does_not_end_the_answer():
    from reader_app.assistant.reply import answer_done

    assert not answer_done("Answer: an accuracy of 91.", 1)  # "5%" may follow
    assert not answer_done("Answer: an accuracy of 91.5%.", 1)
    assert answer_done("Answer: an accuracy of 91.5%. The", 1)
    assert answer_done("Answer: an accuracy of 91.5%.\n", 1)
    assert not answer_done("Answer: A. B. C", 3) and answer_done("Answer: A b. C d. E f. G", 3)


def test_capable_answer_cut_by_the_cap_ends_on_a_whole_sentence():
    words = " ".join(["and a long clause about accuracy"] * 60)
    reply = f"5]\nAnswer: The model reaches 91 percent on the test set. It beats the baseline {words}"
    a = _ask(SizedEngine(reply))
    assert a.answerable and a.answer == "The model reaches 91 percent on the test set."
    # the small style keeps the text as cut by its cap (it may pick the unfinished sentence)
    assert not _ask(FakeEngine(reply)).answer.endswith(".")


def test_paraphrase_supported_by_two_cited_paragraphs_stands_only_for_a_capable_model():
    paper = make_paper()
    paras = {i + 1: p for i, p in enumerate(paper.paragraphs)}
    answer = "1.2 million PubMed abstracts yield 91 percent accuracy on the test set, as reported."
    question = "How is the model trained and how well does it do?"
    cites, ok = verify(answer, question, [3, 5], paras, paraphrase=True)
    assert ok and {c.paragraph for c in cites if c.verified} == {3, 5}
    assert verify(answer, question, [3, 5], paras)[1] is False  # word-for-word support per paragraph fails
    # a paraphrase with invented facts is still refused
    assert verify("It scores 99 percent on ImageNet with a transformer.", question, [3, 5], paras,
                  paraphrase=True)[1] is False


def test_a_paraphrase_is_judged_on_what_it_adds_to_the_question():
    from reader_app.core.model import Paragraph

    paras = {1: Paragraph(0, "The Turbo tagger and the Turbo parser are state of the art tools.", 1, (0, 0, 1, 1), 0, "")}
    question = "What baseline models do they compare against?"
    # most of its words restate the question; what it adds is in the cited paragraph
    cites, ok = verify("The baseline models they compare against are the Turbo tagger and parser.", question, [1],
                       paras, infer=False, paraphrase=True)
    assert ok and cites[0].verified
    # what it adds is not there: refused, however many question words it repeats
    assert verify("The baseline models they compare against are BERT models.", question, [1], paras,
                  infer=False, paraphrase=True)[1] is False


@pytest.mark.parametrize("reply", [
    "",  # empty
    "]\n",  # the format and nothing else
    "5]\nAnswer: 该模型在测试集上达到了百分之九十一的准确率。\n",  # another language
    "5]\nAnswer: What accuracy does the model reach?\n",  # the question repeated
    "5]\nAnswer: The accuracy the model reaches.\n",  # the question restated, nothing added
])
@pytest.mark.parametrize("engine_cls", [FakeEngine, SizedEngine])
def test_replies_that_are_no_answer_end_as_not_answered(reply, engine_cls, tmp_path):
    from reader_app.library import Library

    with Library.open(tmp_path / "lib") as lib:
        pid, _ = lib.add_paper(make_paper())
        paper = lib.get_paper(pid)
        a = Assistant(engine_cls(reply), lib, k=0).ask(paper, "What accuracy does the model reach?",
                                                      mode="zero-shot-evidence")
        assert not a.answerable and a.answer == NOT_ANSWERED_TEXT and not any(c.verified for c in a.citations)
        assert a.raw == "Evidence: [" + reply  # the model's own words are kept ...
        assert lib.qa_history(pid)[-1].raw == a.raw  # ... in the history too


def test_off_language_and_echo_checks():
    english = make_paper().paragraphs[0].text
    assert off_language("这是一个答案。", english) and not off_language("It reaches 91 percent (≈ 0.91).", english)
    assert not off_language("这是一个答案。", "这是一个中文段落。" * 5)  # a Chinese paper may get Chinese answers
    assert echoes_question("Which dataset do they use?", "Which dataset?")
    assert echoes_question("Which dataset do they use?", "the dataset")
    assert not echoes_question("Is BERT or ELMo better on SQuAD?", "BERT")
    assert not echoes_question("Do they use BERT?", "Yes, they use BERT.")
    assert not echoes_question("Which dataset do they use?", "SQuAD")


def test_a_hedge_after_the_answer_is_not_a_refusal():
    hedged = "5]\nAnswer: The model reaches 91 percent. The paper does not mention the baseline's name.\n"
    a = _ask(SizedEngine(hedged))
    assert a.answerable and a.answer == "The model reaches 91 percent."
    refused = "5]\nAnswer: The paper does not say. It only mentions an accuracy of 91 percent.\n"
    assert not _ask(SizedEngine(refused)).answerable


def test_whole_sentences():
    assert whole_sentences("A b c. D e f. G h i. J k l.", 3) == "A b c. D e f. G h i."
    assert whole_sentences("As shown by Smith et al. in 2019, it works. Next one", 3, cut=True) == \
        "As shown by Smith et al. in 2019, it works."
    assert whole_sentences("An answer that never ends and", 3, cut=True) == "An answer that never ends and…"
    assert whole_sentences("A short phrase", 3, cut=False) == "A short phrase"


def test_a_list_drawn_from_several_paragraphs_stands_for_a_capable_model():
    from reader_app.assistant.citations import covering

    paper = make_paper()
    paras = {i + 1: p for i, p in enumerate(paper.paragraphs)}
    answer = "PubMed abstracts from 2019, sentences shorter than five words dropped, 91 percent accuracy."
    question = "What are the data and the result?"
    cover = covering(answer, paras, question)
    assert len(cover) >= 2 and set(cover) <= {3, 4, 5}
    cites, ok = verify(answer, question, [], paras, paraphrase=True)
    assert ok and [c.paragraph for c in cites] == cover and all(c.verified for c in cites)
    assert verify(answer, question, [], paras)[1] is False  # the small style needs one paragraph
    assert covering("Quantum chromodynamics on lattices with 99 percent accuracy.", paras, question) == []


def test_a_capable_model_may_give_a_demonstrations_answer_from_its_paragraph():
    from reader_app.assistant.service import shape_answer
    from reader_app.assistant.prompts import Demo

    paper = make_paper()
    paras = {i + 1: p for i, p in enumerate(paper.paragraphs)}
    demo = Demo("Which corpus is the model trained on?", 3, "the PubMed corpus")
    reply = "3]\nAnswer: the PubMed corpus\n"
    text, ok, _ = shape_answer("What data is used?", reply, "Evidence: [", paras, CAPABLE, [demo])
    assert ok and text == "the PubMed corpus"
    assert not shape_answer("What data is used?", reply, "Evidence: [", paras, SMALL, [demo])[1]  # parroting
    other = "5]\nAnswer: the PubMed corpus\n"  # the same words, cited from elsewhere: parroting
    assert not shape_answer("What data is used?", other, "Evidence: [", paras, CAPABLE, [demo])[1]


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
    para = ("Scientific papers are hard to read. We build an assistant. The model reaches an accuracy of 91 "
            "percent on the test set. This beats the baseline by four points.")
    assert condense("How accurate is the model on the test set?", para) == \
        "The model reaches an accuracy of 91 percent on the test set."
    assert condense("Which corpus?", "The PubMed corpus.") == "The PubMed corpus."
    assert condense("x?", "Short one. Short two.") == "Short one. Short two."
