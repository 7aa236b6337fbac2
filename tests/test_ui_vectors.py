"""Retrieval by meaning in the window (issue O, the app side): the embedding worker computes
the library's paragraph vectors in the background with progress in the status bar, waits
while the model answers, makes the shared ranker hybrid, computes imported and re-extracted
papers' vectors; an unusable embedding model is one status-bar line; the setting turns it
off.  Real parts: the embedded MiniLM GGUF, real PDFs, a real library; a FakeEngine answers."""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtCore import QSettings

from reader_app import settings
from reader_app.app import Services, start_indexing
from reader_app.assistant.ranking import rank as bm25_rank
from reader_app.library import Library
from reader_app.pdf import extract_paper_isolated
from reader_app.ui.background.embed_worker import PAUSED
from reader_app.ui.background.jobs import Job
from reader_app.ui.background.ops import wait_for_ops
from reader_app.ui.window.main_window import MainWindow
from reader_app.ui.window.settings_dialog import SettingsDialog
from tests.fakes import FakeEngine

SMALL = "1903.10676.pdf"  # 1 page
# names no word of its answer, paragraph 18 of the template paper (2304.02623v1.pdf)
PARAPHRASE = "What makes this kind of writing different from fiction or persuasive essays?"
ANSWER_PARAGRAPH = 18
WAIT = 300_000  # ms; the machine may be loaded


@pytest.fixture
def library(tmp_path, ui_template_library):
    """(folder, template paper id): a private copy of the one-paper template library."""
    src, paper_id = ui_template_library
    folder = tmp_path / "library"
    shutil.copytree(src, folder)
    return folder, paper_id


@pytest.fixture
def window(qtbot, tmp_path):
    made = []

    def make(folder, semantic_search=True):
        ui = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
        services = Services(folder, ui_settings=ui, semantic_search=semantic_search,
                            engine_factory=lambda **_kw: FakeEngine("Evidence: [1]\nAnswer: yes"))
        win = MainWindow(services)
        qtbot.addWidget(win)
        win.show()
        made.append((win, services))
        return win, services

    yield make
    for win, services in made:
        win.close()
        services.shutdown()


def _progress(job, texts: list, status: list, win) -> None:
    job.progress.connect(lambda _d, _n, text: (texts.append(text), status.append(win.op_status.label.text())))


def test_the_library_is_indexed_with_progress_and_the_ranker_becomes_hybrid(qtbot, window, library, papers_dir):
    folder, pid = library
    with Library.open(folder) as lib:
        small, _ = lib.add_paper(extract_paper_isolated(str(papers_dir / SMALL)), papers_dir / SMALL)
    win, services = window(folder)
    assert services.ranker.kind == "bm25"
    worker = services.embed_worker()
    texts, status = [], []
    with qtbot.waitSignal(worker.opened, timeout=WAIT) as opened:
        job = start_indexing(win)
        assert job is not None and job.kind == "index" and job.background
        _progress(job, texts, status, win)
    model = opened.args[0]
    qtbot.waitUntil(lambda: job.done, timeout=WAIT)
    assert job.outcome == "finished" and job.result == 2
    assert texts[-1] == "2 of 2 papers" and "1 of 2 papers" in texts
    assert "Indexing by meaning… 1 of 2 papers" in status
    assert services.ranker.kind == "hybrid"
    lib = services.library()
    assert lib.papers_without_vectors(model) == []
    paper = lib.get_paper(pid)
    ranked = [i for i, _ in services.ranker.rank(paper, PARAPHRASE, lib)]
    assert ANSWER_PARAGRAPH in ranked[:5]  # by meaning: the paraphrase's paragraph
    assert ANSWER_PARAGRAPH not in [i for i, _ in bm25_rank(paper, PARAPHRASE, lib)[:5]]  # words miss it
    assert win.errors == []


def test_indexing_waits_while_the_model_answers(qtbot, window, library):
    folder, _pid = library
    win, services = window(folder)
    worker = services.embed_worker()
    question = Job("Answering", kind="ask")  # the reader waits for an answer
    assert worker.giving_way
    texts, status = [], []
    job = start_indexing(win)
    _progress(job, texts, status, win)
    qtbot.waitUntil(lambda: any(t.endswith(PAUSED) for t in texts), timeout=WAIT)
    assert not job.done
    assert win.op_status.label.text().startswith("Answering…")  # the reader's own job shows first
    question.post_finished(None)
    qtbot.waitUntil(lambda: question.done, timeout=10_000)
    assert not worker.giving_way
    qtbot.waitUntil(lambda: job.done, timeout=WAIT)
    assert job.outcome == "finished" and job.result == 1 and not texts[-1].endswith(PAUSED)


def test_imported_and_reextracted_papers_get_their_vectors(qtbot, window, library, papers_dir):
    folder, pid = library
    win, services = window(folder)
    worker = services.embed_worker()
    first = start_indexing(win)
    qtbot.waitUntil(lambda: first.done, timeout=WAIT)
    model = worker.model_name
    lib = services.library()
    assert lib.papers_without_vectors(model) == []

    with qtbot.waitSignal(win.papersAdded, timeout=WAIT) as added:
        win.import_files([str(papers_dir / SMALL)])
    assert len(added.args[0]) == 1
    second = worker.job
    assert second is not None and second is not first
    qtbot.waitUntil(lambda: second.done, timeout=WAIT)
    assert second.outcome == "finished" and second.result == 1
    assert lib.papers_without_vectors(model) == []

    # `reader-app reextract` in another process drops the paper's vectors: a question on it
    # is ranked by words at once, and its vectors are computed next
    with Library.open(folder) as other:
        other.replace_extraction(pid, extract_paper_isolated(str(other.get_paper(pid).file)))
    paper = lib.get_paper(pid)
    assert services.ranker.rank(paper, PARAPHRASE, lib) == bm25_rank(paper, PARAPHRASE, lib)
    qtbot.waitUntil(lambda: worker.job is not None, timeout=10_000)
    third = worker.job
    qtbot.waitUntil(lambda: third.done, timeout=WAIT)
    assert third.outcome == "finished" and third.result == 1
    assert lib.papers_without_vectors(model) == []
    ranked = [i for i, _ in services.ranker.rank(paper, PARAPHRASE, lib)]
    assert ANSWER_PARAGRAPH in ranked[:5]


def test_an_unusable_embedding_model_is_one_status_line_and_ranking_by_words(qtbot, window, library, tmp_path,
                                                                              monkeypatch):
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    monkeypatch.setenv("READER_APP_EMBEDDER", str(broken))
    folder, _pid = library
    win, services = window(folder)
    worker = services.embed_worker()
    with qtbot.waitSignal(worker.unavailable, timeout=WAIT) as said:
        job = start_indexing(win)
    line = said.args[0]
    assert "\n" not in line and line.endswith("ranking by words (BM25) only")
    assert win.statusBar().currentMessage() == line
    qtbot.waitUntil(lambda: job.done, timeout=10_000)
    assert job.outcome == "failed" and win.errors == []  # no dialog
    assert services.ranker.kind == "bm25" and worker.index() is None


def test_the_setting_turns_retrieval_by_meaning_off(qtbot, window, library, tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.mkdir()
    (config / "assistant.json").write_text(json.dumps({"semantic_search": False}))
    monkeypatch.setenv("READER_APP_CONFIG_DIR", str(config))
    folder, _pid = library
    win, services = window(folder, semantic_search=None)  # None: the setting decides
    assert not services.semantic_search and services.embed_worker() is None
    assert start_indexing(win) is None and services.ranker.kind == "bm25"


def test_the_settings_dialog_turns_it_off_from_the_next_start(qtbot, window, library, tmp_path, monkeypatch):
    monkeypatch.setenv("READER_APP_CONFIG_DIR", str(tmp_path / "config"))
    dlg = SettingsDialog(None)
    qtbot.addWidget(dlg)
    assert wait_for_ops()
    assert dlg.semantic.isChecked()  # on by default
    dlg.semantic.setChecked(False)
    dlg.accept()
    assert settings.current().semantic_search is False
    win, services = window(library[0], semantic_search=None)
    assert services.embed_worker() is None and start_indexing(win) is None
    again = SettingsDialog(None)
    qtbot.addWidget(again)
    assert wait_for_ops() and not again.semantic.isChecked()
