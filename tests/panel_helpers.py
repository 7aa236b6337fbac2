"""Helpers shared by the side-panel tests (not a test module)."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt

from reader_app.library import Library
from reader_app.ui.background.ops import wait_for_ops
from reader_app.ui.panel.side_panel import SidePanel
from tests.fakes import passages_of


def number_of(prefix: str, needle: str) -> int:
    """The paragraph number the prompt shows for the paragraph containing ``needle``."""
    m = re.search(r"\[(\d+)\][^\[]*" + re.escape(needle), prefix)
    assert m, f"{needle!r} not numbered in the prompt"
    return int(m.group(1))


def responder(answer: str = "the PubMed corpus of 1.2 million abstracts", needle: str = "PubMed"):
    """Scripted model: demonstrations, the question's Evidence/Answer, and summaries."""

    def respond(prefix: str, suffix: str) -> str:
        if suffix.endswith("Evidence: ["):
            return f"{number_of(passages_of(prefix, suffix), needle)}]\nAnswer: {answer}"
        if "Write one question" in suffix:  # a demonstration, from its paragraph alone
            from tests.test_prompts import demo_responder

            return demo_responder(prefix, suffix)
        if suffix.rstrip().endswith("Question:"):
            n = number_of(prefix + suffix, "accuracy")
            return f" What accuracy does the model reach?\nEvidence: [{n}]\nAnswer: 91 percent"
        first = re.search(r"\[(\d+)\]", prefix)  # cite the first paragraph of the part
        return f"The paper trains on PubMed abstracts and reaches 91 percent accuracy [{first.group(1)}]."

    return respond


def load_paper(library_path, paper_id):
    """The paper with its paragraphs, read from the library at ``library_path``."""
    lib = Library.open(library_path)
    try:
        return lib.get_paper(paper_id)
    finally:
        lib.close()


def make_panel(qtbot, services, paper_id):
    panel = SidePanel(services)
    qtbot.addWidget(panel)
    panel.resize(420, 720)
    panel.show()
    panel.set_paper(paper_id)
    assert wait_for_ops()
    return panel


def ask(qtbot, panel, question: str, timeout: int = 20000, on_job=None):
    """Ask ``question`` with the Ask button and wait for the answer; ``on_job(job)`` is
    called with the question's job as soon as it is asked (before it delivers anything)."""
    ap = panel.ask_panel
    ap.question.setPlainText(question)
    with qtbot.waitSignal(ap.answered, timeout=timeout) as blocker:
        qtbot.mouseClick(ap.ask_button, Qt.LeftButton)
        if on_job is not None:
            on_job(ap.job)
    return blocker.args[0]


def wait_job(qtbot, job, timeout: int = 20000):
    """Wait until ``job`` (a ``ui.background.jobs.Job``) ended; returns it."""
    qtbot.waitUntil(lambda: job.done, timeout=timeout)
    return job


def db_notes(env):
    lib = Library.open(env.library_path)
    try:
        return lib.notes(env.paper_id)
    finally:
        lib.close()
