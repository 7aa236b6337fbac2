"""The background-operation framework: results, errors and progress arrive on the GUI thread."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QThread  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from reader_app.core.errors import Cancelled, NotFound  # noqa: E402
from reader_app.ui.background.ops import error_message, run_op, tracker, wait_for_ops  # noqa: E402


class _Win(QWidget):
    def __init__(self):
        super().__init__()
        self.errors: list[str] = []

    def show_error(self, msg, quiet=False):
        self.errors.append(msg)


def test_success_is_delivered_on_gui_thread(qtbot):
    w = _Win()
    qtbot.addWidget(w)
    seen = {}

    def work():
        seen["worker"] = threading.get_ident()
        return 41 + 1

    def done(value):
        seen["value"] = value
        seen["gui"] = QThread.currentThread() is QApplication.instance().thread()

    run_op(w, work, on_success=done)
    qtbot.waitUntil(lambda: "value" in seen, timeout=5000)
    assert seen["value"] == 42 and seen["gui"]
    assert seen["worker"] != threading.get_ident()


def test_errors_become_messages(qtbot):
    w = _Win()
    qtbot.addWidget(w)

    def bad():
        raise NotFound("no paper matches 'zz'")

    def bug():
        raise ZeroDivisionError("division by zero")

    run_op(w, bad)
    run_op(w, bug)
    assert wait_for_ops()
    assert "no paper matches 'zz'" in w.errors
    assert any(e.startswith("Internal error (ZeroDivisionError") for e in w.errors)
    assert "Traceback" not in error_message(ZeroDivisionError("x"))


def test_progress_cancel_and_tracker(qtbot):
    w = _Win()
    qtbot.addWidget(w)
    progress, failures, started = [], [], []
    tracker.started.connect(started.append)
    gate = threading.Event()

    def work(op):
        for i in range(1000):
            op.report(i, 1000, "step")
            if i == 3:
                gate.set()
            op.check_cancelled()
            threading.Event().wait(0.002)
        return "finished"

    op = run_op(w, work, progress=lambda d, t, s: progress.append((d, t, s)), on_failure=failures.append,
                label="Working", cancellable=True)
    assert started and started[-1] is op
    gate.wait(5)
    op.cancel()
    assert wait_for_ops()
    assert failures and isinstance(failures[0], Cancelled)
    assert progress and progress[0][1] == 1000
    assert op.done and op not in tracker.running
    tracker.started.disconnect(started.append)


def test_dead_parent_gets_no_callback(qtbot):
    w = _Win()
    called = []
    gate = threading.Event()
    run_op(w, lambda: gate.wait(5), on_success=called.append)
    w.deleteLater()
    qtbot.wait(50)
    gate.set()
    assert wait_for_ops()
    assert called == []


def test_latest_job_hears_only_the_job_started_last(qtbot):
    from reader_app.ui.background.jobs import LatestJob

    w = _Win()
    qtbot.addWidget(w)
    gates = [threading.Event(), threading.Event()]
    heard = []
    latest = LatestJob()
    first = latest.start(run_op(w, lambda: gates[0].wait(5) and "first"), finished=heard.append)
    assert latest.job is first
    second = latest.start(run_op(w, lambda: gates[1].wait(5) and "second"), finished=heard.append)
    assert first.is_cancelled and not second.is_cancelled and latest.job is second
    gates[0].set()
    qtbot.waitUntil(lambda: first.done, timeout=5000)
    assert heard == [] and first.result == "first"  # it ended, unheard
    gates[1].set()
    qtbot.waitUntil(lambda: second.done, timeout=5000)
    assert heard == ["second"] and latest.job is None and latest.last is second
    latest.drop()
    assert latest.last is None
    assert wait_for_ops()


def test_an_op_is_a_job_with_the_same_signals_as_model_jobs(qtbot):
    w = _Win()
    qtbot.addWidget(w)

    def missing():
        raise NotFound("no such paper")

    def stopped():
        raise Cancelled("cancelled")

    outcomes = []
    for fn in (lambda: 7, missing, stopped):
        op = run_op(w, fn, on_failure=lambda _exc: None)
        op.finished.connect(lambda r: outcomes.append(("finished", r)))
        op.failed.connect(lambda m: outcomes.append(("failed", m)))
        op.cancelled.connect(lambda: outcomes.append(("cancelled",)))
        op.ended.connect(lambda: outcomes.append(("ended",)))
        qtbot.waitUntil(lambda op=op: op.done, timeout=5000)
    assert outcomes == [("finished", 7), ("ended",), ("failed", "no such paper"), ("ended",),
                        ("cancelled",), ("ended",)]
    assert w.errors == []  # on_failure took them
