"""The LLM worker thread: one engine on one thread, queued requests, cancel, reload."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("pytestqt")

from reader_app.core.errors import BadInput  # noqa: E402
from reader_app.ui.llm_worker import EngineConfig, LlmWorker  # noqa: E402
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


def collect(worker):
    events = []
    worker.requestStarted.connect(lambda rid, _l: events.append(("started", rid)))
    worker.requestFinished.connect(lambda rid, res: events.append(("finished", rid, res)))
    worker.requestFailed.connect(lambda rid, msg: events.append(("failed", rid, msg)))
    worker.requestCancelled.connect(lambda rid: events.append(("cancelled", rid)))
    return events


def test_requests_run_in_order_on_one_thread(qtbot, worker_env):
    engines, threads = [], set()

    def factory(**kw):
        engines.append(kw)
        threads.add(threading.get_ident())
        return FakeEngine("hello there")

    w = worker_env(factory)
    events = collect(w)

    def job(ctx):
        threads.add(threading.get_ident())
        return "".join(ctx.engine.generate("p", "s"))

    with qtbot.waitSignal(w.idle, timeout=10000):
        ids = [w.call(job) for _ in range(3)]
    finished = [e for e in events if e[0] == "finished"]
    assert [e[1] for e in finished] == ids and all(e[2] == "hello there" for e in finished)
    assert len(engines) == 1  # loaded once, lazily
    assert len(threads) == 1 and threading.get_ident() not in threads
    assert w.model_state == "ready" and w.model_detail == "fake-model"


def test_cancel_queued_and_running_requests(qtbot, worker_env):
    w = worker_env(lambda **kw: FakeEngine(" ".join(["tok"] * 300), delay=0.01))
    events = collect(w)
    tokens = []
    w.tokenReceived.connect(lambda rid, t: tokens.append(rid))

    def job(ctx):
        for piece in ctx.engine.generate("p", cancel=ctx.cancel):
            ctx.on_token(piece)
        ctx.check()
        return "done"

    with qtbot.waitSignal(w.tokenReceived, timeout=10000):
        first = w.call(job)
        second = w.call(job)
    w.cancel(second)  # still queued: never starts
    w.cancel(first)   # running: stops between tokens
    qtbot.waitUntil(lambda: sum(e[0] == "cancelled" for e in events) == 2, timeout=10000)
    assert ("started", second) not in events
    assert not any(e[0] == "finished" for e in events)
    assert tokens.count(first) < 300 and second not in tokens


def test_configure_reloads_the_model_lazily(qtbot, worker_env):
    seen = []

    def factory(**kw):
        seen.append(kw)
        return FakeEngine("x", name=f"model-{len(seen)}")

    w = worker_env(factory)
    states = []
    w.modelStateChanged.connect(lambda s, d: states.append((s, d)))
    with qtbot.waitSignal(w.requestFinished, timeout=10000):
        w.load()
    w.configure(EngineConfig(model="other.gguf", n_ctx=4096, threads=2))
    assert len(seen) == 1  # nothing happens until the model is needed
    with qtbot.waitSignal(w.requestFinished, timeout=10000):
        w.call(lambda ctx: ctx.engine.name)
    assert seen[1]["model"] == "other.gguf" and seen[1]["n_ctx"] == 4096 and seen[1]["threads"] == 2
    assert [s for s, _ in states] == ["loading", "ready", "loading", "ready"]
    assert states[-1][1] == "model-2"


def test_bad_engine_settings_become_a_state_and_a_message(qtbot, worker_env):
    def factory(**kw):
        raise BadInput("the openai backend needs --base-url URL")

    w = worker_env(factory)
    events = collect(w)
    with qtbot.waitSignal(w.requestFailed, timeout=10000):
        w.call(lambda ctx: ctx.engine)
    assert w.model_state == "error" and "Settings" in w.model_detail
    assert events[-1][2] == "the openai backend needs --base-url URL"


def test_a_bug_in_a_job_is_a_message_not_a_crash(qtbot, worker_env):
    w = worker_env(lambda **kw: FakeEngine("x"))
    with qtbot.waitSignal(w.requestFailed, timeout=10000) as blocker:
        w.call(lambda ctx: 1 / 0)
    assert blocker.args[1].startswith("Internal error")
    with qtbot.waitSignal(w.requestFinished, timeout=10000) as blocker:  # still serving
        w.call(lambda ctx: 42)
    assert blocker.args[1] == 42


def test_shutdown_stops_the_thread(qtbot, worker_env):
    w = worker_env(lambda **kw: FakeEngine(" ".join(["tok"] * 1000), delay=0.01))
    with qtbot.waitSignal(w.tokenReceived, timeout=10000):
        w.call(lambda ctx: [ctx.on_token(p) for p in ctx.engine.generate("p", cancel=ctx.cancel)])
    w.shutdown(timeout_ms=10000)
    assert not w.isRunning()
