"""Recycled demonstrations in passage answers (issue O §1): a real SQLite library, a fake
engine for prompt assembly, the embedded model for the cached prefix."""

from __future__ import annotations

import pytest

from reader_app.assistant import prompts
from reader_app.assistant.paper_store import PaperStore
from reader_app.assistant.recycled import DemoBank, recycle
from reader_app.assistant.service import Assistant
from reader_app.core.errors import BadInput
from reader_app.library import Library
from tests.fakes import FakeEngine
from tests.test_library_qa import TOPICS, topic_paper

A, B, C = "a" * 64, "b" * 64, "c" * 64
# demonstrations as preparation keeps them: evidence = paragraph number (index + 1)
DEMOS = {
    A: [{"question": "How many protein structures is the network trained on?", "evidence": 3,
         "answer": "12,000 protein structures"},
        {"question": "How many rounds do messages pass?", "evidence": 4, "answer": "eight rounds"}],
    B: [{"question": "How many hours of Yoruba speech were recorded?", "evidence": 2, "answer": "40 hours"}],
    C: [{"question": "How heavy is the tuned mass damper?", "evidence": 2, "answer": "300 tonnes"}],
}


def count(text: str) -> int:
    return max(1, len(text) // 4)


@pytest.fixture
def library(tmp_path):
    lib = Library.open(tmp_path / "lib")
    for pid in TOPICS:
        lib.add_paper(topic_paper(pid))
    yield lib
    lib.close()


def keep(lib, model_key: str, papers=(A, B, C)) -> None:
    for pid in papers:
        lib.put_demonstrations(pid, model_key, "w0:k3:capable", DEMOS[pid])


def test_a_demonstration_is_recycled_with_its_own_passages():
    paper = topic_paper(A)
    d = recycle(paper, DEMOS[A][0], count)
    assert d is not None and d.paper_id == A and d.answer == "12,000 protein structures"
    assert len(d.passages) == 2 and d.evidence in (1, 2)
    assert "12,000 protein structures" in d.passages[d.evidence - 1]  # the evidence paragraph
    other = d.passages[2 - d.evidence]  # its neighbour in the paper
    assert other in {p.text for p in paper.paragraphs} - {paper.paragraphs[2].text}
    # unusable ones are dropped, not shown: a paragraph that is gone, an answer not in it, a sentence-long answer
    assert recycle(paper, {**DEMOS[A][0], "evidence": 99}, count) is None
    assert recycle(paper, {**DEMOS[A][0], "answer": "forty thousand cats"}, count) is None
    assert recycle(paper, {**DEMOS[A][0], "answer": " ".join(["protein"] * 20)}, count) is None
    assert recycle(paper, {"question": "x"}, count) is None


def test_the_bank_picks_own_then_other_papers(library):
    keep(library, "m1")
    bank = DemoBank(PaperStore(library))
    own = bank.pick("m1", A, "own", count)
    assert [d.paper_id for d in own] == [A, A]
    others = bank.pick("m1", A, "library", count)
    assert {d.paper_id for d in others} == {B, C}  # one per paper, never the asked paper's
    assert bank.pick("m1", None, "own", count) == []  # a library question: own means none
    assert len(bank.pick("m1", None, "library", count)) == 3
    assert bank.pick("m1", A, "none", count) == []
    assert bank.pick("other-model", A, "own", count) == []  # another model's demonstrations are not its
    # a paper without its own demonstrations gets none (other papers' did not measurably help)
    library.put_demonstrations(A, "m1", "w0:k3:capable", [])
    fresh = DemoBank(PaperStore(library))
    assert fresh.pick("m1", A, "own", count) == []
    assert {d.paper_id for d in fresh.pick("m1", A, "library", count)} == {B, C}


def test_the_prefix_holds_the_demonstrations_and_stays_the_same(library):
    eng = FakeEngine("1]\nAnswer: 40 hours")
    keep(library, eng.key, (A, C))
    a = Assistant(eng, library, passage_demos="library")
    paper = library.get_paper(B)
    first = a.ask_quick(paper, "How many hours of Yoruba speech were recorded?")
    second = a.ask_quick(paper, "What word error rate does the recognizer reach?")
    (p1, s1, _), (p2, s2, _) = eng.calls[-2], eng.calls[-1]
    assert p1 == p2, "the prefix (system + demonstrations) is the same for every question"
    assert prompts.PASSAGE_DEMO_INTRO in p1 and "300 tonnes" in p1 and "12,000 protein structures" in p1
    assert "Yoruba" not in p1 and "Yoruba" in s1  # the passages travel in the suffix
    assert second.timings.prompt_tokens > 0
    assert [d["paper"] for d in first.trace.demos] == [A, C]
    assert first.answerable and first.citations[0].paper_id == B
    # own: the paper's own demonstrations, and none for a paper without them
    own = Assistant(eng, library, passage_demos="own")
    assert [d["paper"] for d in own.ask_quick(library.get_paper(A), "How many tonnes?").trace.demos] == [A, A]
    assert own.ask_quick(paper, "How many hours of Yoruba speech were recorded?").trace.demos == []
    assert prompts.PASSAGE_DEMO_INTRO not in eng.calls[-1][0] + eng.calls[-1][1]
    # none: no examples at all; the same prompt text as before recycling
    plain = Assistant(eng, library, passage_demos="none")
    plain.ask_quick(paper, "How many hours of Yoruba speech were recorded?")
    assert prompts.PASSAGE_DEMO_INTRO not in eng.calls[-1][0] + eng.calls[-1][1]
    with pytest.raises(BadInput):
        Assistant(eng, library, passage_demos="some")


def test_parroting_a_recycled_answer_is_no_answer(library):
    eng = FakeEngine("1]\nAnswer: 300 tonnes")
    keep(library, eng.key, (C,))
    a = Assistant(eng, library, passage_demos="library")
    answer = a.ask_quick(library.get_paper(B), "How many hours of Yoruba speech were recorded?")
    assert not answer.answerable


def test_library_questions_carry_the_demonstrations_of_what_they_read(library):
    eng = FakeEngine("1]\nAnswer: 40 hours")
    keep(library, eng.key)
    a = Assistant(eng, library, passage_demos="library")
    a.ask_library("What word error rate does the recognizer reach on Yoruba?")  # reads B alone
    prefix = eng.calls[-1][0]
    assert prefix.count("Passages:") == 2 and "Yoruba speech" not in prefix  # one each of A and C
    a.ask_library("What accuracy and what error rate do the protein network and the Yoruba recognizer reach?")
    assert eng.calls[-1][0].count("Passages:") == 3  # reads A and B: one each of A, B and C
    own = Assistant(eng, library, passage_demos="own")
    own.ask_library("What word error rate does the recognizer reach on Yoruba?")
    prefix = eng.calls[-1][0]  # own: a question that reads one paper carries that paper's
    assert prefix.count("Passages:") == 1 and "How many hours of Yoruba speech were recorded?" in prefix
    own.ask_library("How many hours of Yoruba speech were recorded?")  # ... but never the question asked
    assert prompts.PASSAGE_DEMO_INTRO not in eng.calls[-1][0]
    own.ask_library("What accuracy and what error rate do the protein network and the Yoruba recognizer reach?")
    assert prompts.PASSAGE_DEMO_INTRO not in eng.calls[-1][0]  # own: a question reading several papers, none


@pytest.mark.model
def test_the_embedded_model_reuses_the_demonstrations_state(library):
    """With the real model the demonstrations' prefix is evaluated once: the second
    question's prompt starts from its cached state."""
    from reader_app.llm.engines import open_engine
    from reader_app.core.errors import ModelError

    try:
        engine = open_engine(in_process=True)
    except (ModelError, TypeError) as exc:  # pragma: no cover - the embedded model ships with the package
        pytest.skip(f"embedded model unavailable: {exc}")
    try:
        keep(library, engine.key, (A, C))
        a = Assistant(engine, library, passage_demos="library")
        paper = library.get_paper(B)
        first = a.ask_quick(paper, "How many hours of Yoruba speech were recorded?")
        second = a.ask_quick(paper, "What word error rate does the recognizer reach?")
        demos_tokens = engine.count_tokens(prompts.render_passage_demos(a.passage_demos(B)))
        assert len(first.trace.demos) == 2
        assert second.timings.cached_tokens >= demos_tokens
    finally:
        engine.close()


def test_preparing_a_paper_reads_the_recycled_prefix_ahead(library):
    """After preparation wrote a paper's demonstrations, the prefix that quick answers on other
    papers and library questions start from is read at once (warm), not at their first question."""
    from tests.test_prompts import demo_responder, make_paper

    eng = FakeEngine(demo_responder)
    paper = make_paper()
    library.add_paper(paper)
    a = Assistant(eng, library, passage_demos="library")
    assert a.warm_passages() == 0  # nothing kept yet: nothing to read
    report = a.prepare(library.get_paper(paper.id))
    assert report["demonstrations"] > 0 and report["passage_prefix_tokens"] > 0
    warmed = eng.calls[-1][0]
    assert warmed == a.passage_prefix(None) and prompts.PASSAGE_DEMO_INTRO in warmed
    a.ask_quick(library.get_paper(B), "How many hours of Yoruba speech were recorded?")
    assert eng.calls[-1][0] == warmed  # the question starts from the state read ahead
