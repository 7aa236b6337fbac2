"""Issue D §4: a second ``reader-app open`` hands its file to the window already open on the
same library (QLocalServer named after the library); a stale socket is taken over; another
library, and ``--screenshot`` runs, get their own window."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

PAPER = "2304.02623v1.pdf"
HANDED = "to the reader-app window already open on this library"


# ---- in-process: protocol, names, stale sockets ---------------------------------------------

def test_server_name_is_per_library_short_and_stable(tmp_path):
    from reader_app.ui.window.single_instance import server_name

    a, b = tmp_path / "a", tmp_path / "b"
    assert server_name(a) == server_name(str(a)) == server_name(tmp_path / "x" / ".." / "a")
    assert server_name(a) != server_name(b)
    assert server_name(a).startswith("reader-app-") and len(server_name(a)) <= 32
    a.mkdir()
    (tmp_path / "link").symlink_to(a)
    assert server_name(tmp_path / "link") == server_name(a)  # the same library, reached via a link


def _send_in_process(name, message, reply_ms=5000):
    """``send`` from another process (a blocking Qt wait here would stall this thread's server)."""
    code = ("import json, sys\n"
            "from reader_app.ui.window.single_instance import send, HandOffError\n"
            "try:\n"
            "    print(json.dumps({'result': send(sys.argv[1], json.loads(sys.argv[2]), reply_ms=int(sys.argv[3]))}))\n"
            "except HandOffError as exc:\n"
            "    print(json.dumps({'error': str(exc)}))\n")
    return subprocess.Popen([sys.executable, "-c", code, name, json.dumps(message), str(reply_ms)],
                            stdout=subprocess.PIPE, text=True, cwd=str(REPO),
                            env=dict(os.environ, PYTHONPATH=str(REPO)))


def _reply(qtbot, proc) -> dict:
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=30000)
    finally:
        if proc.poll() is None:
            proc.kill()
    return json.loads(proc.stdout.read())


def test_request_reaches_the_server_and_bad_requests_are_refused(qtbot, tmp_path):
    """A real QLocalServer (event loop in this process) and real clients (other processes)."""
    from reader_app.ui.window.single_instance import InstanceServer, is_listening, server_name

    name = server_name(tmp_path / "lib")
    server = InstanceServer(name)
    assert server.listen()
    try:
        got = []
        server.message.connect(got.append)
        assert is_listening(name)  # a probe that says nothing is not a request
        assert _reply(qtbot, _send_in_process(name, {"open": ["/x/paper.pdf"], "password": "pw"})) == {"result": True}
        qtbot.waitUntil(lambda: len(got) == 1, timeout=5000)
        assert got == [{"open": ["/x/paper.pdf"], "password": "pw"}]

        answer = _reply(qtbot, _send_in_process(name, {"open": "not a list"}))
        assert "refused" in answer["error"] and "\n" not in answer["error"]
        # raw bytes that are not JSON, from a plain socket: refused with a one-line reason
        raw = socket.socket(socket.AF_UNIX)
        raw.connect(server._server.fullServerName())
        raw.sendall(b"\xff{not json\n")
        raw.settimeout(0.05)
        data = b""
        deadline = time.monotonic() + 10
        while not data.endswith(b"\n") and time.monotonic() < deadline:
            qtbot.wait(20)
            try:
                data += raw.recv(200)
            except TimeoutError:
                pass
        raw.close()
        assert data.startswith(b"error: bad request") and data.count(b"\n") == 1
        assert len(got) == 1
        # a second server on the same name sees the live one and does not steal it
        other = InstanceServer(name)
        assert not other.listen()
        assert is_listening(name)
    finally:
        server.close()
    assert not is_listening(name)


def test_nobody_listening_and_stale_socket(tmp_path):
    from PySide6.QtCore import QDir

    from reader_app.ui.window.single_instance import InstanceServer, is_listening, send, server_name

    name = server_name(tmp_path / "lib")
    assert send(name, {"open": []}) is False  # nothing there
    # a socket file left by a crashed window: bound, never listening, never removed
    path = os.path.join(QDir.tempPath(), name)
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()
    try:
        assert os.path.exists(path)
        assert not is_listening(name)
        assert send(name, {"open": []}) is False
        server = InstanceServer(name)
        assert server.listen(), server.error_string()  # taken over
        assert is_listening(name)
        server.close()
    finally:
        if os.path.exists(path):
            os.unlink(path)


def test_hand_off_to_a_window_that_never_answers_is_one_warning(tmp_path, monkeypatch, capsys):
    """Connected but no reply: ``hand_off`` warns in one line and lets the caller open a window."""
    from PySide6.QtCore import QDir

    from reader_app import app
    from reader_app.ui.window import single_instance

    lib = tmp_path / "lib"
    name = single_instance.server_name(lib)
    path = os.path.join(QDir.tempPath(), name)
    mute = socket.socket(socket.AF_UNIX)
    mute.bind(path)
    mute.listen(1)
    monkeypatch.setattr(single_instance, "REPLY_MS", 300)
    try:
        assert app.hand_off([str(tmp_path / "paper.pdf")], library=str(lib)) is None
    finally:
        mute.close()
        os.unlink(path)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not reach the window" in err and "opening a new one" in err


# ---- real processes -------------------------------------------------------------------------

def _env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "xdg-config"))
    env.pop("READER_APP_LIBRARY", None)
    return env


def _start_window(tmp_path: Path, lib: Path, *args: str, tag: str = "first") -> subprocess.Popen:
    log = open(tmp_path / f"{tag}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "reader_app", "open", *args, "--library", str(lib)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=_env(tmp_path), cwd=str(REPO))
    log.close()
    return proc


def _wait_listening(proc: subprocess.Popen, lib: Path, timeout: float = 90) -> None:
    from reader_app.ui.window.single_instance import is_listening, server_name

    name = server_name(lib)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the window exited early with {proc.returncode}"
        if is_listening(name):
            return
        time.sleep(0.2)
    pytest.fail(f"no window listened on {lib} within {timeout} s")


def _wait_for_papers(lib: Path, n: int, timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    rows: list[dict] = []
    while time.monotonic() < deadline:
        r = run_cli("list", "--json", library=lib, timeout=60)
        assert r.code == 0, r
        rows = r.json()
        if len(rows) >= n:
            return rows
        time.sleep(0.5)
    pytest.fail(f"{lib} holds {len(rows)} papers after {timeout} s, expected {n}")


def _stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _handed_off(r, name: str | None = PAPER) -> None:
    assert r.code == 0, r
    lines = r.out.strip().splitlines()
    assert len(lines) == 1, r
    if name:
        assert lines[0] == f"handed {name} {HANDED}", r
    else:
        assert lines[0] == "raised the reader-app window already open on this library", r


@pytest.mark.slow
def test_two_windows_started_at_once_make_one_window(tmp_path):
    """Both starts find no window; the start lock makes the second wait and hand off."""
    lib = tmp_path / "library"
    procs = [_start_window(tmp_path, lib, tag=f"w{i}") for i in range(2)]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and all(p.poll() is None for p in procs):
            time.sleep(0.2)
        ended = [p for p in procs if p.poll() is not None]
        assert len(ended) == 1, "exactly one start hands off and exits"
        assert ended[0].returncode == 0
        log = (tmp_path / f"w{procs.index(ended[0])}.log").read_text()
        assert "raised the reader-app window already open on this library" in log, log
        live = next(p for p in procs if p.poll() is None)
        _wait_listening(live, lib)
    finally:
        _stop(*procs)


def test_start_lock_serialises_starts_and_frees_on_unlock(tmp_path):
    from reader_app.ui.window import single_instance

    name = single_instance.server_name(tmp_path / "lib")
    first = single_instance.start_lock(name, 100)
    assert first is not None
    code = ("import sys; from reader_app.ui.window import single_instance as s; "
            f"sys.exit(0 if s.start_lock({name!r}, 300) is None else 3)")
    held = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), cwd=str(REPO), timeout=60)
    assert held.returncode == 0, "another process cannot take it while held"
    first.unlock()
    free = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path), cwd=str(REPO), timeout=60)
    assert free.returncode == 3, "free again once unlocked"


@pytest.mark.slow
def test_second_open_hands_its_file_to_the_first_window(tmp_path, papers_dir):
    lib = tmp_path / "library"
    first = _start_window(tmp_path, lib)
    try:
        _wait_listening(first, lib)
        t0 = time.monotonic()
        r = run_cli("open", papers_dir / PAPER, "--library", lib, timeout=30, env=_env(tmp_path))
        took = time.monotonic() - t0
        _handed_off(r)
        rows = _wait_for_papers(lib, 1)  # the first window imported it
        assert rows[0]["id"] == hashlib.sha256((papers_dir / PAPER).read_bytes()).hexdigest()
        # no file: the window is asked to come forward
        _handed_off(run_cli("open", "--library", lib, timeout=30, env=_env(tmp_path)), None)
        r = run_cli("open", "--library", lib, "--json", timeout=30, env=_env(tmp_path))
        assert r.code == 0 and json.loads(r.out)["handed_off"] is None
        # a --screenshot run stays independent: it draws its own window and exits
        shot = tmp_path / "shot.png"
        r = run_cli("open", papers_dir / PAPER, "--library", lib, "--screenshot", shot, timeout=180,
                    env=_env(tmp_path))
        assert r.code == 0 and HANDED not in r.out and shot.stat().st_size > 10000, r
        _handed_off(run_cli("open", "--library", lib, timeout=30, env=_env(tmp_path)), None)  # still the first's
        assert first.poll() is None
        print(f"hand-off took {took:.2f} s (whole CLI process)")
    finally:
        _stop(first)
    assert first.returncode == 0  # SIGTERM closes the window cleanly ...
    from reader_app.ui.window.single_instance import is_listening, server_name

    assert not is_listening(server_name(lib))  # ... and removes its socket


@pytest.mark.slow
def test_window_of_a_crashed_instance_is_taken_over(tmp_path, papers_dir):
    from PySide6.QtCore import QDir

    from reader_app.ui.window.single_instance import is_listening, server_name

    lib = tmp_path / "library"
    name = server_name(lib)
    first = _start_window(tmp_path, lib)
    second = None
    try:
        _wait_listening(first, lib)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=20)
        assert os.path.exists(os.path.join(QDir.tempPath(), name))  # the crash left its socket
        assert not is_listening(name)
        # the next start finds nobody, opens its own window with the file and takes the name over
        second = _start_window(tmp_path, lib, str(papers_dir / PAPER), tag="second")
        _wait_listening(second, lib)
        _wait_for_papers(lib, 1)
        _handed_off(run_cli("open", "--library", lib, timeout=30, env=_env(tmp_path)), None)
        assert second.poll() is None
    finally:
        _stop(*(p for p in (first, second) if p is not None))


@pytest.mark.slow
def test_a_different_library_gets_its_own_window(tmp_path, papers_dir):
    lib_a, lib_b = tmp_path / "lib-a", tmp_path / "lib-b"
    first = _start_window(tmp_path, lib_a)
    second = None
    try:
        _wait_listening(first, lib_a)
        second = _start_window(tmp_path, lib_b, str(papers_dir / PAPER), tag="second")
        _wait_listening(second, lib_b)  # it did not hand off: it listens on its own library
        rows = _wait_for_papers(lib_b, 1)
        assert len(rows) == 1
        r = run_cli("list", "--json", library=lib_a)
        assert r.code == 0 and r.json() == []
        assert first.poll() is None and second.poll() is None
        _handed_off(run_cli("open", "--library", lib_a, timeout=30, env=_env(tmp_path)), None)
        _handed_off(run_cli("open", "--library", lib_b, timeout=30, env=_env(tmp_path)), None)
    finally:
        _stop(*(p for p in (first, second) if p is not None))
