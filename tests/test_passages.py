"""Instant passages: the question's best paragraphs, from the real library's BM25 ranking,
in ``ask --json`` and in the Ask panel before the answer."""

from __future__ import annotations

import json

import pytest

from reader_app.assistant.ranking import Ranker


def passages_in_library(lib, pid, question):
    return Ranker().passages_in_library(lib, pid, question)


def passages_in_paper(paper, question):
    return Ranker().passages(paper, question)
from reader_app.core.model import Paragraph
from tests.test_prompts import make_paper


@pytest.fixture
def lib_with_paper(tmp_path):
    from reader_app.library import Library

    path = tmp_path / "library"
    lib = Library.open(path)
    paper = make_paper()
    # a heading and a reference mentioning the corpus: never listed as passages
    paper.paragraphs.append(Paragraph(index=len(paper.paragraphs), text="PubMed corpus", page=3,
                                      kind="heading", section_index=0, section=paper.sections[0].title))
    paper.paragraphs.append(Paragraph(index=len(paper.paragraphs), text="[7] A PubMed corpus of abstracts. 2019.",
                                      page=3, kind="reference"))
    pid, _ = lib.add_paper(paper)
    yield lib, pid, paper
    lib.close()


def test_library_passages_rank_the_matching_paragraph_first(lib_with_paper):
    lib, pid, paper = lib_with_paper
    got = passages_in_library(lib, pid, "Which corpus is the model trained on?")
    assert got, "no passages"
    best = got[0]
    para = next(p for p in paper.paragraphs if "PubMed corpus" in p.text and p.kind == "body")
    assert best.paragraph == para.index + 1 and best.page == para.page and best.section == para.section
    assert best.text == " ".join(para.text.split()) and tuple(best.bbox) == pytest.approx(para.bbox)
    assert all(paper.paragraphs[p.paragraph - 1].kind in ("body", "caption") for p in got)
    assert len(got) <= 5
    assert set(best.to_dict()) == {"paragraph", "page", "section", "text", "bbox"}
    # the in-memory ranking (papers outside the library) agrees on the best one
    assert passages_in_paper(paper, "Which corpus is the model trained on?")[0].paragraph == best.paragraph
    assert passages_in_library(lib, pid, "zebra xylophone") == []


def test_ask_json_has_passages(lib_with_paper, monkeypatch, capsys):
    from reader_app import cli as cli_main
    from reader_app.llm import engines
    from tests.fakes import FakeEngine

    lib, pid, _paper = lib_with_paper
    monkeypatch.setattr(engines, "open_engine", lambda *a, **kw: FakeEngine("3]\nAnswer: the PubMed corpus"))
    question = "Which corpus is the model trained on?"
    code = cli_main.main(["ask", pid[:10], question, "--mode", "zero-shot-evidence", "--json",
                          "--library", str(lib.path)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    expected = [p.to_dict() for p in passages_in_library(lib, pid, question)]
    assert out["passages"] == expected and expected
    for p in out["passages"]:
        assert set(p) == {"paragraph", "page", "section", "text", "bbox"} and len(p["bbox"]) == 4


pytestqt = pytest.importorskip("pytestqt")


@pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")
def test_panel_lists_passages_before_the_answer_and_they_jump(qtbot, panel_env):
    from tests.panel_helpers import make_panel

    # a slow model: the passages must be on screen long before its first token
    services = panel_env.services(respond="3]\nAnswer: the PubMed corpus of abstracts", delay=0.3)
    panel = make_panel(qtbot, services, panel_env.paper_id)
    ap = panel.ask_panel
    tokens = []
    ap.question.setPlainText("Which corpus is the model trained on?")
    with qtbot.waitSignal(ap.passagesShown, timeout=5000) as shown:
        job = ap.ask()
        job.token.connect(tokens.append)
        job.update.connect(lambda *fields: tokens.append(fields))
    assert not tokens, "the model answered before the passages were shown"
    passages = shown.args[0]
    para = panel_env.paper.paragraphs[2]  # the PubMed paragraph
    assert passages[0].paragraph == 3 and passages[0].page == para.page
    assert ap.passages.isVisibleTo(ap) and len(ap.passages.rows) == len(passages)
    row = ap.passages.rows[0].text()
    assert "p. 2 ¶3" in row and "2 Data" in row and "PubMed corpus" in row
    with qtbot.waitSignal(panel.citationActivated) as jumped:
        ap.passages.rows[0].linkActivated.emit("0")  # what clicking the row's link does
    assert jumped.args[0] == para.page and tuple(jumped.args[1]) == pytest.approx(para.bbox)
    ap.stop()
    qtbot.waitUntil(lambda: not ap.busy, timeout=10000)
    assert ap.passages.isVisibleTo(ap)  # they stay with the (stopped) question
