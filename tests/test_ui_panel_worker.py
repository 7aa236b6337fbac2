"""The LLM worker thread: one engine on one thread, queued requests, each its own job with
its own signals, cancel, reload."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("pytestqt")

from reader_app.core.errors import BadInput  # noqa: E402
from reader_app.ui.background.llm_worker import EngineConfig, LlmWorker  # noqa: E402
from tests.fakes import FakeEngine  # noqa: E402


@pytest.fixture
def worker_env(qtbot):
    made = []

    def make(engine_factory):
        w = LlmWorker(None, engine_factory=engine_factory)
        made.append(w)
        return w

    yield make
    for w in made:
        w.shutdown()


def collect(*jobs):
    """What each job said, in the order it was said: (event, job index, value)."""
    events = []
    for i, job in enumerate(jobs):
        job.started.connect(lambda _l, i=i: events.append(("started", i)))
        job.finished.connect(lambda res, i=i: events.append(("finished", i, res)))
        job.failed.connect(lambda msg, i=i: events.append(("failed", i, msg)))
        job.cancelled.connect(lambda i=i: events.append(("cancelled", i)))
    return events


def test_requests_run_in_order_on_one_thread(qtbot, worker_env):
    engines, threads = [], set()

    def factory(**kw):
        engines.append(kw)
        threads.add(threading.get_ident())
        return FakeEngine("hello there")

    w = worker_env(factory)

    def job(ctx):
        threads.add(threading.get_ident())
        return "".join(ctx.engine.generate("p", "s"))

    with qtbot.waitSignal(w.idle, timeout=10000):
        jobs = [w.call(job) for _ in range(3)]
        events = collect(*jobs)
    assert [e for e in events if e[0] == "finished"] == [("finished", i, "hello there") for i in range(3)]
    assert [e[0] for e in events] == ["started", "finished"] * 3  # one after another
    assert all(j.done and j.outcome == "finished" and j.result == "hello there" for j in jobs)
    assert len(engines) == 1  # loaded once, lazily
    assert len(threads) == 1 and threading.get_ident() not in threads
    assert w.model_state == "ready" and w.model_detail == "fake-model"


def test_each_job_hears_only_of_itself(qtbot, worker_env):
    w = worker_env(lambda **kw: FakeEngine("one two three four"))

    def streams(ctx):
        for piece in ctx.engine.generate("p"):
            ctx.on_token(piece)
        return ctx.request.params["fn"].__name__

    first, second = w.call(streams), w.call(lambda ctx: "quiet")
    tokens, results = {0: [], 1: []}, {}
    for i, job in enumerate((first, second)):
        job.token.connect(lambda t, i=i: tokens[i].append(t))
        job.finished.connect(lambda r, i=i: results.__setitem__(i, r))
    qtbot.waitUntil(lambda: len(results) == 2, timeout=10000)
    assert "".join(tokens[0]) == "one two three four" and tokens[1] == []
    assert results == {0: "streams", 1: "quiet"}


def test_cancel_queued_and_running_requests(qtbot, worker_env):
    w = worker_env(lambda **kw: FakeEngine(" ".join(["tok"] * 300), delay=0.01))

    def job(ctx):
        for piece in ctx.engine.generate("p", cancel=ctx.cancel):
            ctx.on_token(piece)
        ctx.check()
        return "done"

    first = w.call(job)
    second = w.call(job)
    events = collect(first, second)
    tokens = []
    first.token.connect(lambda t: tokens.append(1))
    second.token.connect(lambda t: tokens.append(2))
    with qtbot.waitSignal(first.token, timeout=10000):
        pass
    second.cancel()  # still queued: never starts
    first.cancel()   # running: stops between tokens
    qtbot.waitUntil(lambda: sum(e[0] == "cancelled" for e in events) == 2, timeout=10000)
    assert ("started", 1) not in events
    assert not any(e[0] == "finished" for e in events)
    assert tokens.count(1) < 300 and 2 not in tokens
    assert first.outcome == second.outcome == "cancelled"


def test_configure_reloads_the_model_lazily(qtbot, worker_env):
    seen = []

    def factory(**kw):
        seen.append(kw)
        return FakeEngine("x", name=f"model-{len(seen)}")

    w = worker_env(factory)
    states = []
    w.modelStateChanged.connect(lambda s, d: states.append((s, d)))
    load = w.load()
    with qtbot.waitSignal(load.finished, timeout=10000):
        pass
    w.configure(EngineConfig(model="other.gguf", n_ctx=4096, threads=2))
    assert len(seen) == 1  # nothing happens until the model is needed
    job = w.call(lambda ctx: ctx.engine.name)
    with qtbot.waitSignal(job.finished, timeout=10000):
        pass
    assert seen[1]["model"] == "other.gguf" and seen[1]["n_ctx"] == 4096 and seen[1]["threads"] == 2
    assert [s for s, _ in states] == ["loading", "ready", "loading", "ready"]
    assert states[-1][1] == "model-2"


def test_bad_engine_settings_become_a_state_and_a_message(qtbot, worker_env):
    def factory(**kw):
        raise BadInput("the openai backend needs --base-url URL")

    w = worker_env(factory)
    job = w.call(lambda ctx: ctx.engine)
    with qtbot.waitSignal(job.failed, timeout=10000) as blocker:
        pass
    assert w.model_state == "error" and "Settings" in w.model_detail
    assert blocker.args == ["the openai backend needs --base-url URL"] == [job.message]


def test_a_bug_in_a_job_is_a_message_not_a_crash(qtbot, worker_env):
    w = worker_env(lambda **kw: FakeEngine("x"))
    bug = w.call(lambda ctx: 1 / 0)
    with qtbot.waitSignal(bug.failed, timeout=10000) as blocker:
        pass
    assert blocker.args[0].startswith("Internal error")
    answer = w.call(lambda ctx: 42)
    with qtbot.waitSignal(answer.finished, timeout=10000) as blocker:  # still serving
        pass
    assert blocker.args == [42]


def test_shutdown_stops_the_thread(qtbot, worker_env):
    w = worker_env(lambda **kw: FakeEngine(" ".join(["tok"] * 1000), delay=0.01))
    job = w.call(lambda ctx: [ctx.on_token(p) for p in ctx.engine.generate("p", cancel=ctx.cancel)])
    with qtbot.waitSignal(job.token, timeout=10000):
        pass
    w.shutdown(timeout_ms=10000)
    assert not w.isRunning()
    with qtbot.waitSignal(job.ended, timeout=10000):  # the running job still ends, cancelled
        pass
    assert job.outcome == "cancelled"
    late = w.call(lambda ctx: 1)  # after shutdown nothing runs: it ends at once
    with qtbot.waitSignal(late.cancelled, timeout=10000):
        pass


def test_jobs_show_in_the_status_bar_tracker_until_they_end(qtbot, worker_env):
    from reader_app.ui.background.ops import tracker

    w = worker_env(lambda **kw: FakeEngine("x"))
    gate = threading.Event()
    started = []
    tracker.started.connect(started.append)
    try:
        job = w.call(lambda ctx: (ctx.engine, gate.wait(10)), label="Busy")
    finally:
        tracker.started.disconnect(started.append)
    assert started == [job] and job in tracker.running and job.label == "Busy" and job.cancellable
    progress = []
    job.progress.connect(lambda d, t, text: progress.append((d, t, text)))
    with qtbot.waitSignal(job.finished, timeout=10000):
        gate.set()
    assert job not in tracker.running and job.done
    assert progress and progress[0][2].startswith("Loading")  # the model loaded for this job


def test_the_worker_is_built_in_one_place_the_composition_root():
    import ast
    from pathlib import Path

    pkg = Path(__file__).resolve().parent.parent / "reader_app"
    builders = set()
    for path in pkg.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "LlmWorker":
                builders.add(path.relative_to(pkg).as_posix())
    assert builders == {"app.py"}


def test_the_side_panel_uses_the_worker_it_is_given(qtbot, panel_env):
    from reader_app.ui.panel.side_panel import SidePanel

    services = panel_env.services()
    panel = SidePanel(services)
    qtbot.addWidget(panel)
    assert panel.worker is services.llm_worker() is panel.ask_panel.worker is panel.summary_panel.worker
    other = LlmWorker(None, engine_factory=lambda **kw: FakeEngine("x"))
    try:
        given = SidePanel(services, worker=other)
        qtbot.addWidget(given)
        assert given.worker is other and given.ask_panel.worker is other and given.summary_panel.worker is other
    finally:
        other.shutdown()


def test_the_status_bar_shows_a_model_job_and_its_cancel_stops_it(qtbot, worker_env):
    from reader_app.ui.window.status import OpStatus

    w = worker_env(lambda **kw: FakeEngine(" ".join(["tok"] * 1000), delay=0.01))
    status = OpStatus()
    qtbot.addWidget(status)

    def streams(ctx):
        for piece in ctx.engine.generate("p", cancel=ctx.cancel):
            ctx.on_token(piece)
            ctx.progress("Writing", 1, 4)
        ctx.check()

    job = w.call(streams, label="Summarising")
    with qtbot.waitSignal(job.token, timeout=10000):
        pass
    qtbot.waitUntil(lambda: status.label.text() == "Summarising… Writing", timeout=10000)
    assert not status.isHidden() and status.cancel_button.isVisibleTo(status)
    assert (status.bar.maximum(), status.bar.value()) == (4, 1)
    with qtbot.waitSignal(job.cancelled, timeout=10000):
        status.cancel_button.click()
    assert status.isHidden()


def test_thousands_of_streamed_updates_arrive_in_order(qtbot, worker_env):
    from reader_app.core.model import AnswerUpdate

    w = worker_env(lambda **kw: FakeEngine("x"))
    n = 5000

    def streams(ctx):
        for i in range(n):
            ctx.on_update(AnswerUpdate(f"answer {i}", (i % 7,), "answer"))
            ctx.on_token(str(i))
        return n

    job = w.call(streams)
    texts, tokens = [], []
    job.update.connect(lambda text, _evidence, _phase: texts.append(text))
    job.token.connect(tokens.append)
    with qtbot.waitSignal(job.finished, timeout=60000):
        pass
    assert texts == [f"answer {i}" for i in range(n)] and tokens == [str(i) for i in range(n)]
