"""Preparing papers for questions: progress, cancel, resume, use by the next question
(fake engine, real library), the ``prepare`` command, and once with the real model."""

from __future__ import annotations

import json
import threading

import pytest

from reader_app.assistant.service import Assistant
from reader_app.core.errors import BadInput, Cancelled
from reader_app.core.model import Paper
from tests.fakes import FakeEngine
from tests.test_prompts import demo_responder, make_paper

KEYS = {"paper_id", "windows", "demonstrations", "prefix_tokens", "passage_prefix_tokens", "seconds",
        "cached"}


@pytest.fixture
def library(tmp_path):
    from reader_app.library import Library

    lib = Library.open(tmp_path / "library")
    yield lib
    lib.close()


def _demo_calls(engine) -> int:
    return sum("Write one question" in s for _p, s, _kw in engine.calls)


def test_progress_result_and_the_next_question_reuses_everything(library):
    paper = make_paper()
    library.add_paper(paper)
    engine = FakeEngine(demo_responder)
    steps = []
    result = Assistant(engine, library).prepare(paper, k=2, progress=lambda f, label: steps.append((f, label)))
    assert set(result) == KEYS and result["paper_id"] == paper.id
    assert result["windows"] == 1 and result["demonstrations"] == 2 and result["prefix_tokens"] > 0
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and steps[-1][1] == "Ready"
    assert any("example questions" in label for _, label in steps)
    # the paper's prefix last, evaluated, not answered; passage answers recycle no other
    # paper's demonstrations by default ("own"), so there is no passage prefix to read ahead
    prepared_prefix = engine.calls[-1][0]
    assert engine.calls[-1][2]["max_tokens"] == 0 and "<paper>" in prepared_prefix
    assert result["passage_prefix_tokens"] == 0
    assert library.get_demonstrations(paper.id, engine.key, f"{Assistant(engine).windows(paper)[0].key}:k2")

    # a new Assistant (as in a new process): no demonstration is written again, and the
    # question's prefix is exactly the prepared one, so the engine's cached state serves it
    engine.calls.clear()
    ans = Assistant(engine, library).ask(paper, "What accuracy does the model reach?", k=2)
    assert _demo_calls(engine) == 0
    assert [c[0] for c in engine.calls] == [prepared_prefix]
    assert ans.timings.cached_tokens > 0


def test_cancel_then_resume_does_not_redo_work(library):
    paper = make_paper()
    library.add_paper(paper)
    engine = FakeEngine(demo_responder)
    cancel = threading.Event()

    def progress(fraction, label):
        if "example questions" in label and _demo_calls(engine) >= 2:
            cancel.set()

    with pytest.raises(Cancelled):
        Assistant(engine, library).prepare(paper, k=3, cancel=cancel, progress=progress)
    first = _demo_calls(engine)
    assert 2 <= first < 3 + 3  # stopped part-way through the demonstrations

    done = Assistant(engine, library).prepare(paper, k=3)
    assert done["demonstrations"] == 3
    again = Assistant(engine, library).prepare(paper, k=3)  # all stored: nothing is written again
    calls = _demo_calls(engine)
    assert again["demonstrations"] == 3 and _demo_calls(engine) == calls


def test_a_paper_without_text_is_bad_input():
    with pytest.raises(BadInput, match="no text"):
        Assistant(FakeEngine()).prepare(Paper(id="x" * 64, title="Empty"))


def test_prepare_command(tmp_path, monkeypatch, capsys):
    from reader_app import cli as cli_main
    from reader_app.llm import engines
    from reader_app.library import Library

    path = tmp_path / "library"
    lib = Library.open(path)
    good, _ = lib.add_paper(make_paper(), None)
    other, _ = lib.add_paper(make_paper(paper_id="q" * 64, title="Another"), None)
    empty, _ = lib.add_paper(Paper(id="e" * 64, title="Scanned, no text"), None)
    lib.add_tags(other, ["todo"])
    lib.close()
    monkeypatch.setattr(engines, "open_engine", lambda *a, **kw: FakeEngine(demo_responder))

    code = cli_main.main(["prepare", "--all", "--json", "--library", str(path)])
    cap = capsys.readouterr()
    assert code == 2
    lines = [json.loads(x) for x in cap.out.splitlines()]
    assert sorted(x["paper_id"] for x in lines) == sorted([good, other])
    assert all(set(x) == KEYS for x in lines)
    assert cap.err.strip().splitlines() == [f"reader-app: error: {empty[:12]}: this paper has no text to ask about"]

    code = cli_main.main(["prepare", "--tag", "todo", "--library", str(path)])
    cap = capsys.readouterr()
    assert code == 0 and cap.out.startswith(other[:12]) and len(cap.out.splitlines()) == 1

    code = cli_main.main(["prepare", "--library", str(path)])
    assert code == 2 and "give paper IDs, --tag T or --all" in capsys.readouterr().err

    # no usable model: one line per paper, exit 2
    from reader_app.core.errors import ModelError

    def broken(*a, **kw):
        raise ModelError("cannot load model broken.gguf: bad magic")

    monkeypatch.setattr(engines, "open_engine", broken)
    code = cli_main.main(["prepare", good[:10], other[:10], "--library", str(path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 2 and all("cannot load model broken.gguf" in e for e in err)


@pytest.mark.model
def test_real_model_prepared_state_serves_the_first_question_of_a_new_process(library, tmp_path):
    from reader_app.llm.process_engine import ProcessEngine
    from reader_app.llm.kvcache import DiskKVCache
    from reader_app.llm.model_files import embedded_model_path

    model = embedded_model_path()
    if model is None:
        pytest.skip("embedded model not installed")
    paper = make_paper()
    library.add_paper(paper)
    kv = tmp_path / "kv"

    def engine():
        return ProcessEngine(model_path=str(model), n_ctx=2048, threads=1, disk_cache=DiskKVCache(kv))

    first = engine()
    try:
        result = Assistant(first, library).prepare(paper, k=1)
    finally:
        first.close()
    assert result["windows"] == 1 and result["prefix_tokens"] > 100 and not result["cached"]
    second = engine()  # a new process: only the disk cache and the library carry over
    try:
        again = Assistant(second, library).prepare(paper, k=1)
        assert again["cached"] and again["demonstrations"] == result["demonstrations"]
        answer = Assistant(second, library).ask(paper, "What accuracy does the model reach?", k=1)
        assert answer.timings.cached_tokens >= result["prefix_tokens"] - 1
    finally:
        second.close()


@pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")
def test_panel_prepares_on_open_a_question_takes_over_and_it_resumes(qtbot, panel_env):
    pytest.importorskip("pytestqt")
    from reader_app import settings
    from tests.panel_helpers import make_panel, responder

    settings.set_value("prepare_on_open", True)
    engines = []

    def factory(**_kw):
        engines.append(FakeEngine(responder(), delay=0.02))
        return engines[-1]

    services = panel_env.services(engine_factory=factory)
    panel = make_panel(qtbot, services, panel_env.paper_id)
    ap = panel.ask_panel
    status = ap.prepare_status
    seen = []
    qtbot.waitUntil(lambda: status.job is not None, timeout=10000)
    status.job.progress.connect(lambda *_args: seen.append(status.label.text()))  # after the status's own slot
    qtbot.waitUntil(lambda: any(t.startswith("Preparing for questions…") and t.endswith("%") for t in seen),
                    timeout=10000)
    assert status.state == "preparing" and status.bar.isVisibleTo(ap)

    # a question takes over: preparation pauses, the answer comes, preparation resumes
    ap.question.setPlainText("What corpus is the model trained on?")
    with qtbot.waitSignal(ap.answered, timeout=30000):
        ap.ask()
    qtbot.waitUntil(lambda: status.state == "ready", timeout=30000)
    assert status.label.text() == "Ready" and not status.bar.isVisibleTo(ap)
    assert status.result["paper_id"] == panel_env.paper_id and set(status.result) == KEYS
    assert len(engines) == 1
    demo_prompts = [s for _p, s, _kw in engines[0].calls if "Write one question" in s]
    # what was written before the question is kept: only the one interrupted may run again
    assert len(demo_prompts) - len(set(demo_prompts)) <= 1

    # switching papers stops it; coming back to a prepared paper says Ready at once
    ap.set_paper(None)
    assert status.state == "idle" and not status.isVisibleTo(ap)
    ap.set_paper(panel_env.paper_id)
    assert status.state == "ready"


@pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")
def test_any_request_preempts_preparation_which_resumes_when_idle_but_cancel_stops_it(qtbot, panel_env):
    pytest.importorskip("pytestqt")
    from reader_app import settings
    from tests.panel_helpers import make_panel, responder

    settings.set_value("prepare_on_open", True)
    services = panel_env.services(engine_factory=lambda **_kw: FakeEngine(responder(), delay=0.02))
    panel = make_panel(qtbot, services, panel_env.paper_id)
    status, worker = panel.ask_panel.prepare_status, panel.worker
    qtbot.waitUntil(lambda: status.state == "preparing" and status.job is not None, timeout=10000)
    first = status.job
    ran = []
    with qtbot.waitSignal(first.cancelled, timeout=10000):
        worker.call(lambda ctx: ran.append(1), label="Summarising")
    assert first.preempted
    qtbot.waitUntil(lambda: status.job not in (None, first), timeout=10000)  # resumed after the request
    assert ran == [1]
    # Cancel from the status bar (nothing else waiting): stopped, not resumed
    job = status.job
    with qtbot.waitSignal(job.cancelled, timeout=10000):
        job.cancel()
    assert not job.preempted
    qtbot.wait(200)
    assert status.state == "idle" and status.job is None


@pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")
def test_prepare_after_import_setting(qtbot, ui_env, papers_dir, monkeypatch, tmp_path):
    pytest.importorskip("pytestqt")
    from reader_app import settings

    monkeypatch.setenv("READER_APP_CONFIG_DIR", str(tmp_path / "config"))
    settings.set_value("prepare_after_import", True)
    win = ui_env.window(respond="3]\nAnswer: yes")
    from reader_app.ui.background.ops import tracker

    results = []

    def prepared(job):
        if getattr(job, "kind", "") == "prepare":
            job.finished.connect(results.append)

    tracker.started.connect(prepared)  # the jobs the window starts show there (the status bar)
    win.import_files([str(papers_dir / "2302.07302v1.pdf")])
    try:
        qtbot.waitUntil(lambda: bool(results), timeout=120000)
    finally:
        tracker.started.disconnect(prepared)
    assert set(results[0]) == KEYS and results[0]["windows"] >= 1


def test_a_paper_with_no_usable_demonstrations_is_not_retried_by_the_question(library):
    paper = make_paper()
    library.add_paper(paper)
    engine = FakeEngine("5]\nAnswer: 91 percent")  # never a usable demonstration
    result = Assistant(engine, library).prepare(paper, k=2)
    assert result["demonstrations"] == 0 and _demo_calls(engine) > 0
    engine.calls.clear()
    ans = Assistant(engine, library).ask(paper, "What accuracy does the model reach?", k=2)
    assert _demo_calls(engine) == 0 and ans.timings.cached_tokens > 0
