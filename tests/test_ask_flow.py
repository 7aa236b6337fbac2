"""The Ask tab's quick -> full -> library decisions (ui/ask/ask_flow.py), without Qt."""

from __future__ import annotations

import subprocess
import sys

from reader_app.core.model import Scope, Selection
from reader_app.ui.ask.ask_flow import LIBRARY, PAPER, QUICK, AskFlow, AskRequest

QUESTION = "What corpus is the model trained on?"


class Answer:  # what the flow sees of an answer: only its identity
    def __init__(self, name: str):
        self.name = name


def flow_on(paper_id: str = "p1") -> AskFlow:
    flow = AskFlow()
    flow.set_paper(paper_id)
    return flow


def test_it_imports_nothing_from_qt():
    code = "import sys, reader_app.ui.ask.ask_flow; print(sorted(m for m in sys.modules if 'PySide6' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_a_prepared_paper_gets_the_full_answer_at_once():
    flow = flow_on()
    request = flow.ask(QUESTION, mode="doubledipper", preparing=False)
    assert request == AskRequest(PAPER, QUESTION, "p1", None, "doubledipper")
    assert flow.busy and flow.pending is None
    assert flow.finished(Answer("full")) is None and not flow.busy


def test_quick_answer_then_the_full_one_when_the_paper_is_prepared():
    flow = flow_on()
    request = flow.ask(QUESTION, mode="doubledipper", preparing=True)
    assert request.kind == QUICK and request.quick and flow.awaiting_full()
    quick = Answer("quick")
    assert flow.finished(quick) is None  # the paper is not prepared yet: the full answer waits
    assert flow.awaiting_full(quick) and not flow.awaiting_full(Answer("other"))
    full = flow.prepared("p1", "doubledipper")
    assert full == AskRequest(PAPER, QUESTION, "p1", None, "doubledipper")
    assert flow.running == full and flow.pending is None and not flow.awaiting_full(quick)
    assert flow.finished(Answer("full")) is None
    assert flow.prepared("p1", "doubledipper") is None  # asked once


def test_prepared_while_the_quick_answer_runs_asks_the_full_one_when_it_is_in():
    flow = flow_on()
    flow.ask(QUESTION, mode="doubledipper", preparing=True)
    assert flow.prepared("p1", "doubledipper") is None  # the quick answer is still running
    full = flow.finished(Answer("quick"))
    assert full is not None and full.kind == PAPER and full.question == QUESTION


def test_preparation_of_another_paper_or_mode_does_not_release_the_full_answer():
    flow = flow_on()
    flow.ask(QUESTION, mode="doubledipper", preparing=True)
    flow.finished(Answer("quick"))
    assert flow.prepared("p2", "doubledipper") is None
    assert flow.prepared("p1", "zero-shot") is None
    assert flow.pending is not None


def test_full_answer_now_does_not_wait_and_is_asked_once():
    flow = flow_on()
    selection = Selection("Sentences shorter than five words are dropped.", 2)
    flow.ask("", selection=selection, mode="doubledipper", preparing=True)
    assert flow.full_now() is None  # the quick answer is still running
    flow.finished(Answer("quick"))
    full = flow.full_now()
    assert full == AskRequest(PAPER, "", "p1", selection, "doubledipper")
    assert flow.full_now() is None
    flow.finished(Answer("full"))
    assert flow.prepared("p1", "doubledipper") is None


def test_no_quick_answer_in_another_mode_or_with_the_setting_off():
    flow = flow_on()
    assert flow.ask(QUESTION, mode="zero-shot", preparing=True).kind == PAPER
    flow.finished(Answer("a"))
    assert flow.ask(QUESTION, mode="doubledipper", preparing=True, quick_on=False).kind == PAPER
    assert flow.pending is None


def test_a_quick_answer_that_fails_or_is_stopped_drops_the_full_one():
    for end in (AskFlow.failed, AskFlow.cancelled):
        flow = flow_on()
        flow.ask(QUESTION, mode="doubledipper", preparing=True)
        assert end(flow) is None and not flow.busy and flow.pending is None
        assert flow.prepared("p1", "doubledipper") is None


def test_a_full_answer_that_fails_is_not_asked_again():
    flow = flow_on()
    flow.ask(QUESTION, mode="doubledipper", preparing=True)
    flow.finished(Answer("quick"))
    assert flow.full_now() is not None
    assert flow.failed() is None and flow.pending is None and not flow.busy


def test_one_request_at_a_time():
    flow = flow_on()
    assert flow.ask(QUESTION) is not None
    assert flow.ask("another") is None and flow.ask_library("another", Scope()) is None
    assert flow.cancelled() is None
    assert flow.ask("another") is not None


def test_nothing_to_ask_without_a_paper_or_a_question():
    flow = AskFlow()
    assert flow.ask(QUESTION) is None  # no paper open
    flow.set_paper("p1")
    assert flow.ask("") is None and flow.ask_library("", Scope()) is None and not flow.busy


def test_a_library_question_replaces_the_full_answer_to_come_and_needs_no_paper():
    flow = flow_on()
    flow.ask(QUESTION, mode="doubledipper", preparing=True)
    flow.finished(Answer("quick"))
    request = flow.ask_library("Which corpora?", Scope(tag="bio"))
    assert request == AskRequest(LIBRARY, "Which corpora?", scope=Scope(tag="bio"))
    assert flow.pending is None
    assert flow.finished(Answer("library")) is None
    assert flow.prepared("p1", "doubledipper") is None
    empty = AskFlow()
    assert empty.ask_library("Which corpora?", Scope()) is not None


def test_switching_papers_keeps_an_answer_across_papers_and_drops_the_rest():
    flow = flow_on()
    flow.ask_library("Which corpora?", Scope())
    assert flow.set_paper("p2") is True and flow.busy  # a running library question goes on
    assert flow.paper_id == "p2"
    flow.finished(Answer("library"))
    assert flow.set_paper("p3", showing_library=True) is True  # and a shown one stays
    assert flow.set_paper("p4", showing_library=False) is False

    flow = flow_on()
    flow.ask(QUESTION, mode="doubledipper", preparing=True)
    assert flow.set_paper("p2") is False  # the quick answer is dropped, and the full one with it
    assert not flow.busy and flow.pending is None
    assert flow.prepared("p1", "doubledipper") is None


def test_the_full_answer_belongs_to_its_paper():
    flow = flow_on()
    flow.ask(QUESTION, mode="doubledipper", preparing=True)
    flow.finished(Answer("quick"))
    flow.paper_id = "p2"  # (as if switched without set_paper)
    assert flow.full_now() is None
