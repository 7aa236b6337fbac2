"""A model process killed mid-answer (SIGKILL): the window keeps running and shows one
line, the CLI exits 2 with one line, and the next question works.  Real model, real
child process, real library and PDF."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reader_app.llm.model_files import embedded_model_path

MODEL = embedded_model_path()
REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.model, pytest.mark.skipif(MODEL is None, reason="embedded model not installed"),
              pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")]
KILLED = "The model stopped unexpectedly (killed — out of memory?)"


def test_window_survives_a_killed_model_and_the_next_question_works(qtbot, tmp_path, ui_template_library,
                                                                   monkeypatch):
    pytest.importorskip("pytestqt")
    from PySide6.QtCore import QSettings

    from reader_app.app import Services
    from reader_app.llm.process_engine import ProcessEngine
    from reader_app.ui.window.main_window import MainWindow
    from reader_app.ui.background.ops import wait_for_ops

    monkeypatch.setenv("READER_APP_CACHE_DIR", str(tmp_path / "cache"))
    src, paper_id = ui_template_library
    lib_path = tmp_path / "library"
    shutil.copytree(src, lib_path)
    engines = []

    def factory(**_kw):
        engines.append(ProcessEngine(model_path=str(MODEL), n_ctx=2048, threads=1))
        return engines[-1]

    services = Services(lib_path, ui_settings=QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat),
                        engine_factory=factory)
    win = MainWindow(services)
    qtbot.addWidget(win)
    win.show()
    try:
        with qtbot.waitSignal(win.pdf_view.firstPageShown, timeout=30000):
            win.open_paper(paper_id)
        ap = win.side_panel.ask_panel
        ap.set_mode("zero-shot")  # no demonstrations: the answer starts soon
        ap.question.setPlainText("Draft text that must survive the crash")
        killed = []

        def kill_on_first_token(*_fields):
            if not killed and engines and engines[-1].pid:
                killed.append(engines[-1].pid)
                os.kill(engines[-1].pid, signal.SIGKILL)

        job = ap.ask("What is this paper about?")
        job.update.connect(kill_on_first_token)
        with qtbot.waitSignal(job.failed, timeout=120000) as failed:
            pass
        message = failed.args[0]
        assert message.startswith(KILLED) and "\n" not in message
        assert killed and engines[-1].pid is None
        # the window, the typing and the paper are all still there; the line is shown
        assert win.isVisible() and ap.notice.isVisible() and ap.notice.text() == message
        assert ap.question.toPlainText() == "Draft text that must survive the crash"
        assert win.paper is not None and win.paper.id == paper_id
        assert not ap.busy and ap.ask_button.isEnabled()

        with qtbot.waitSignal(ap.answered, timeout=180000) as done:
            ap.ask("What is this paper about?")
        answer = done.args[0]
        assert answer.answer
        live = [e for e in engines if e.pid]
        assert live and live[-1].pid not in killed  # a new model process
    finally:
        win.close()
        wait_for_ops(5000)
        services.shutdown()


def test_cli_ask_with_a_killed_model_is_one_line_and_exit_2(tmp_path, ui_template_library):
    src, paper_id = ui_template_library
    lib_path = tmp_path / "library"
    shutil.copytree(src, lib_path)
    env = dict(os.environ, PYTHONPATH=str(REPO), READER_APP_CACHE_DIR=str(tmp_path / "cache"),
               READER_APP_LIBRARY=str(lib_path))
    cmd = [sys.executable, "-m", "reader_app", "ask", paper_id[:12], "What is this paper about?",
           "--mode", "zero-shot", "--n-ctx", "2048", "--threads", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    child = _wait_for_child(proc.pid, timeout=60)
    assert child, "the model process never started"
    _wait_for_cpu(child, seconds=1.5)  # loaded and evaluating the paper
    os.kill(child, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert out == ""
    assert err.strip().splitlines() == [f"reader-app: error: {KILLED}. Ask again to restart it."]
    # the next question works
    again = subprocess.run(cmd + ["--json"], capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]


def _wait_for_child(pid: int, timeout: float) -> int | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    kids = [int(x) for x in fh.read().split()]
            except OSError:
                kids = []
            for kid in kids:
                try:  # the model's child (multiprocessing's resource tracker is another)
                    with open(f"/proc/{kid}/cmdline", "rb") as fh:
                        if b"spawn_main" in fh.read():
                            return kid
                except OSError:
                    pass
        time.sleep(0.05)
    return None


def _wait_for_cpu(pid: int, seconds: float, timeout: float = 60) -> None:
    tick = os.sysconf("SC_CLK_TCK")
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            return
        if (int(fields[11]) + int(fields[12])) / tick >= seconds:
            return
        time.sleep(0.05)
