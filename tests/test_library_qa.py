"""Questions across the library and quick answers (issue J): a real SQLite library with papers
on different topics, a fake engine for routing and citations, the embedded model end to end."""

from __future__ import annotations

import json
import re

import pytest

from reader_app.assistant import passage_qa
from reader_app.assistant.budget import QUICK_FLOOR
from reader_app.assistant.service import Assistant
from reader_app.core.errors import BadInput, NotFound
from reader_app.core.model import Paper, Paragraph, Scope, Section
from reader_app.llm.speeds import SpeedStore
from tests.fakes import FakeEngine, passages_of

TOPICS = {
    "a" * 64: ("Protein Folding with Graphs", [
        ("Introduction", "Protein folding is predicted from the amino acid sequence. Graph networks help."),
        ("Introduction", "Earlier work used molecular dynamics. It was slow on long chains."),
        ("Method", "We train a graph neural network on 12,000 protein structures from the PDB archive."),
        ("Method", "Each residue is a node and contacts are edges. Messages pass for eight rounds."),
        ("Results", "The network reaches a contact accuracy of 87 percent on held-out proteins."),
    ]),
    "b" * 64: ("Speech Recognition for Low-Resource Languages", [
        ("Introduction", "Speech recognition needs transcribed audio. Many languages have little."),
        ("Data", "We recorded 40 hours of Yoruba speech from 120 speakers in Lagos."),
        ("Data", "Transcripts were checked by two native speakers. Disagreements were resolved."),
        ("Results", "The recognizer reaches a word error rate of 18 percent on Yoruba."),
    ]),
    "c" * 64: ("Bridges and Wind", [
        ("Introduction", "Long bridges sway in strong wind. Engineers damp the motion."),
        ("Method", "A tuned mass damper of 300 tonnes was installed at midspan."),
        ("Results", "Sway amplitude fell by 60 percent in gusts above 20 metres per second."),
    ]),
}


def topic_paper(pid: str) -> Paper:
    title, rows = TOPICS[pid]
    sections, paras = [], []
    for i, (sec, text) in enumerate(rows):
        if not sections or sections[-1].title != sec:
            sections.append(Section(len(sections), sec, 1, len(sections) + 1))
        paras.append(Paragraph(index=i, text=text, page=len(sections), bbox=(72.0, 100.0 + 20 * i, 500.0, 115.0 + 20 * i),
                               section_index=len(sections) - 1, section=sec))
    return Paper(id=pid, title=title, pages=len(sections), sections=sections, paragraphs=paras)


@pytest.fixture
def library(tmp_path):
    from reader_app.library import Library

    lib = Library.open(tmp_path / "lib")
    for pid in TOPICS:
        lib.add_paper(topic_paper(pid))
    lib.add_tags("a" * 64, ["bio"])
    lib.add_tags("c" * 64, ["civil"])
    yield lib
    lib.close()


def cite(text: str, answer: str):
    """A fake model that cites the prompt paragraph holding ``text``."""
    def respond(prefix: str, suffix: str) -> str:
        m = re.search(r"\[(\d+)\] [^\n]*" + re.escape(text), passages_of(prefix, suffix))
        return f"{m.group(1) if m else 1}]\nAnswer: {answer}"
    return respond


def test_library_question_finds_the_paper_and_cites_paper_and_paragraph(library):
    eng = FakeEngine(cite("40 hours of Yoruba", "40 hours of Yoruba speech"))
    answer = Assistant(eng, library).ask_library("How many hours of Yoruba speech were recorded?")
    assert answer.answerable and answer.mode == "library"
    (c,) = [c for c in answer.citations if c.verified]
    assert c.paper_id == "b" * 64 and c.paragraph == 2 and c.paper_title.startswith("Speech Recognition")
    assert c.page == 2 and "40 hours" in c.text
    prefix = passages_of(*eng.calls[-1][:2])
    assert prefix.index("Speech Recognition") < prefix.find("Protein") if "Protein" in prefix else True
    assert "<papers>" in prefix and "Bridges" not in prefix  # a paper with no matching word is left out
    # kept in the history of the paper it cites, question and citations intact
    (stored,) = library.qa_history("b" * 64)
    assert stored.mode == "library" and stored.citations[0].paper_id == "b" * 64


def test_passages_come_with_their_neighbours_and_section_titles(library):
    eng = FakeEngine()
    a = Assistant(eng, library)
    prompt = passage_qa.library_prompt(a, "Which contact accuracy does the graph network reach?", Scope())
    # the best paragraph (Results) of the protein paper, its Method neighbour is in another section
    texts = [p.text for p in prompt.paragraphs.values()]
    assert any("87 percent" in t for t in texts)
    assert "## Results" in prompt.text and "<paper title=\"Protein Folding with Graphs\">" in prompt.text
    numbers = [int(n) for n in re.findall(r"^\[(\d+)\]", prompt.text, re.M)]
    assert numbers == list(range(1, len(numbers) + 1)), "one numbering across papers"
    for n, (paper, number) in prompt.where.items():
        assert paper.paragraphs[number - 1].text == prompt.paragraphs[n].text


def test_an_answer_drawing_on_two_papers_cites_both(library):
    def respond(prefix, suffix):
        a = re.search(r"\[(\d+)\] [^\n]*87 percent", passages_of(prefix, suffix)).group(1)
        b = re.search(r"\[(\d+)\] [^\n]*18 percent", passages_of(prefix, suffix)).group(1)
        return f"{a}, {b}]\nAnswer: 87 percent contact accuracy and an 18 percent word error rate"
    answer = Assistant(FakeEngine(respond), library, answer_style="capable").ask_library(
        "What accuracy and what error rate do the protein network and the Yoruba recognizer reach?")
    assert answer.answerable
    assert {c.paper_id for c in answer.citations} == {"a" * 64, "b" * 64}


def _long_paper(pid: str, title: str, rows: list[str]) -> Paper:
    paras = [Paragraph(index=i, text=t, page=1 + i // 6, section_index=0, section="Body") for i, t in enumerate(rows)]
    return Paper(id=pid, title=title, pages=paras[-1].page, sections=[Section(0, "Body", 1, 1)], paragraphs=paras)


def test_a_question_one_paper_clearly_answers_reads_that_paper_alone(tmp_path):
    """The best paper far ahead: its passages take the whole budget; papers matching about as
    well as the best are read side by side."""
    from reader_app.library import Library

    graphs = [f"Graph networks pass messages between residues in round {i}; the graph network learns contacts."
              for i in range(20)]
    speech = [f"Speech recognition of Yoruba needs transcribed audio, corpus part {i}." for i in range(20)]
    speech[7] = "A graph of the word error rate per speaker is in the appendix."
    bridges = [f"Long bridges sway in strong wind; damper number {i} takes the motion." for i in range(60)]
    with Library.open(tmp_path / "lib") as lib:
        lib.add_paper(_long_paper("a" * 64, "Protein Graphs", graphs))
        lib.add_paper(_long_paper("b" * 64, "Yoruba Speech", speech))
        lib.add_paper(_long_paper("c" * 64, "Bridges", bridges))
        a = Assistant(FakeEngine(), lib)
        question = "What do the graph networks learn about residues?"
        scored = passage_qa.scored_papers(lib, question, Scope())
        assert [pid for pid, _ in scored] == ["a" * 64, "b" * 64] and scored[1][1] < passage_qa.CLOSE * scored[0][1]
        alone = passage_qa.library_prompt(a, question, Scope(), budget=1800)
        assert [p.id for p in alone.papers] == ["a" * 64]
        # ... and more of it than when it shared the budget with the other paper
        shared = passage_qa.build([(lib.get_paper(pid), a.ranking(lib.get_paper(pid), question)) for pid, _ in scored],
                                  a.engine.count_tokens, 1800)
        assert len(alone.paragraphs) > len([n for n, (paper, _) in shared.where.items() if paper.id == "a" * 64])
        both = passage_qa.library_prompt(a, "What do graph networks and Yoruba speech recognition need?", Scope(),
                                         budget=1800)
        assert {p.id for p in both.papers} == {"a" * 64, "b" * 64}
        chosen = passage_qa.library_prompt(a, question, Scope(paper_ids=("a" * 64, "b" * 64)), budget=1800)
        assert [p.id for p in chosen.papers] == ["a" * 64, "b" * 64]  # papers the reader chose are all read


def test_which_papers_a_library_answer_reads():
    held = {"a": {"graph", "network"}, "b": {"graph"}, "c": {"speech"}, "d": {"network"}}
    read = passage_qa.reading_papers
    assert read([("a", 10.0), ("b", 5.0)], held) == ["a"]  # far behind, nothing new: left out
    assert read([("a", 10.0), ("b", 9.0)], held) == ["a", "b"]  # about as good: read too
    assert read([("a", 10.0), ("b", 5.0), ("c", 1.0), ("d", 1.0)], held) == ["a", "c"]  # a word only c holds
    assert read([("b", 10.0), ("d", 2.0), ("a", 1.0)], held) == ["b", "d"]  # a has nothing d and b lack
    assert read([], held) == []


def test_scope_restricts_the_papers(library):
    eng = FakeEngine(cite("300 tonnes", "300 tonnes"))
    a = Assistant(eng, library)
    with pytest.raises(NotFound, match="papers tagged 'civil'"):
        a.ask_library("How many hours of Yoruba speech?", Scope(tag="civil"))
    answer = a.ask_library("How heavy is the damper of the bridge?", Scope(paper_ids=("c" * 64, "b" * 64)))
    assert answer.answerable and answer.citations[0].paper_id == "c" * 64
    assert "Protein" not in passages_of(*eng.calls[-1][:2])


def test_unsupported_answer_says_so(library):
    answer = Assistant(FakeEngine(cite("40 hours", "about 3,000 volunteers")), library).ask_library(
        "How many volunteers recorded Yoruba speech?")
    assert not answer.answerable and answer.paper_id == "" and library.qa_history("b" * 64) == []
    assert answer.draft == "about 3,000 volunteers"


def test_bad_library_questions_get_one_line(library, tmp_path):
    a = Assistant(FakeEngine(), library)
    with pytest.raises(BadInput, match="only common words"):
        a.ask_library("what is the of it?")
    with pytest.raises(BadInput, match="empty"):
        a.ask_library("   ")
    with pytest.raises(NotFound):
        a.ask_library("zeppelin xylophone", Scope())
    with pytest.raises(BadInput, match="need a library"):
        Assistant(FakeEngine()).ask_library("What damps the bridge?")
    # a paper removed while the question runs is skipped, not a crash
    library.remove_paper("b" * 64)
    with pytest.raises(NotFound):
        a.ask_library("How many hours of Yoruba speech were recorded?", Scope(paper_ids=()))


def test_quick_answer_reads_only_the_best_passages(library, tmp_path):
    paper = library.get_paper("a" * 64)
    eng = FakeEngine(cite("12,000 protein", "12,000 protein structures"))
    a = Assistant(eng, library, speeds=SpeedStore(tmp_path / "speeds.json"))  # no speed measured yet
    answer = a.ask_quick(paper, "How many protein structures is the network trained on?")
    assert answer.answerable and answer.mode == "quick" and answer.paper_id == paper.id
    assert answer.citations[0].paragraph == 3 and answer.citations[0].paper_id == paper.id
    prompt_tokens = eng.count_tokens(passages_of(*eng.calls[-1][:2]))
    assert prompt_tokens < QUICK_FLOOR + 200  # passages, not the paper
    assert not any("Write one question" in c[1] for c in eng.calls), "no demonstrations are written"
    # the passages listed before the answer are the ones it read, from one ranking
    shown = {p.paragraph for p in a.passages(paper, "How many protein structures is the network trained on?")}
    assert 3 in shown


def test_cli_ask_across_the_library(library, monkeypatch, capsys):
    from reader_app import cli

    path = str(library.path)
    library.close()
    monkeypatch.setattr("reader_app.commands.assistant.engine_from_args",
                        lambda args: FakeEngine(cite("40 hours of Yoruba", "40 hours of Yoruba speech")))
    assert cli.main(["ask", "--all", "How many hours of Yoruba speech were recorded?", "--json",
                     "--library", path]) in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "library" and out["citations"][0]["paper_id"] == "b" * 64
    assert out["scope"] == "the whole library"
    assert cli.main(["ask", "--tag", "bio", "How many hours of Yoruba speech were recorded?",
                     "--library", path]) == 2  # only the tagged (protein) paper is searched
    assert "no paper in papers tagged 'bio' matches" in capsys.readouterr().err
    assert cli.main(["ask", "--tag", "nothing-here", "Why?", "--library", path]) == 2
    assert "no paper has the tag" in capsys.readouterr().err
    assert cli.main(["ask", "Which word error rate on Yoruba?", "--papers", "a" * 12, "b" * 12, "--json",
                     "--library", path]) in (0, None)
    out = json.loads(capsys.readouterr().out)
    assert out["scope"] == "2 selected papers" and out["citations"][0]["paper_id"] == "b" * 64


@pytest.mark.model
def test_the_embedded_model_answers_across_the_library_and_quickly(library):
    """End to end with the real embedded model: a library question and a quick answer keep
    the contract (citations name papers of the library and paragraphs that exist; a quick
    answer reads passages, not the paper)."""
    from reader_app.assistant import open_engine
    from reader_app.core.errors import ModelError

    try:
        engine = open_engine()
    except ModelError as exc:  # pragma: no cover - the embedded model ships with the package
        pytest.skip(f"embedded model unavailable: {exc}")
    try:
        a = Assistant(engine, library)
        answer = a.ask_library("How many hours of Yoruba speech were recorded?")
        assert answer.mode == "library" and answer.raw.startswith("Evidence: [")
        for c in answer.citations:
            paper = library.get_paper(c.paper_id)
            assert paper.paragraphs[c.paragraph - 1].text == c.text
        assert answer.answerable == bool(answer.paper_id)
        paper = library.get_paper("a" * 64)
        quick = a.ask_quick(paper, "How many protein structures is the network trained on?")
        assert quick.mode == "quick" and quick.paper_id == paper.id
        assert all(c.paper_id == paper.id for c in quick.citations)
        assert 0 < quick.timings.prompt_tokens < 900  # passages only (the whole paper is shorter here, too)
    finally:
        engine.close()
