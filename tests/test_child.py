"""reader_app.core.child (with child_server and child_wire): the one child-process protocol
(real spawned processes).

The service below runs in the child (it imports this module by name)."""

from __future__ import annotations

import ast
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from reader_app.core.child import Child
from reader_app.core.child_wire import error_from_wire, error_to_wire, exit_words
from reader_app.core.errors import HelperProcessError, ModelError, PdfError, ReaderError

PKG = Path(__file__).resolve().parents[1] / "reader_app"
POSIX = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")


class OddPdfError(PdfError):
    """A ReaderError defined outside reader_app.core.errors."""


class Service:
    """The child's handler."""

    def __init__(self, greeting: str):
        self.greeting = greeting

    def __call__(self, job):
        if job.op == "hello":
            return f"{self.greeting}, {job.args[0]}", os.getpid()
        if job.op == "fail":
            raise PdfError("page 3\n  is   broken")
        if job.op == "odd":
            raise OddPdfError("an odd one")
        if job.op == "bug":
            raise ZeroDivisionError("division by zero")
        if job.op == "count":
            for i in range(job.args[0]):
                job.emit(("progress", i))
            return "counted"
        if job.op == "until_cancelled":
            n = 0
            while not job.cancel.is_set():
                job.emit(n)
                n += 1
                time.sleep(0.01)
            return f"stopped after {n}"
        if job.op == "sleep":
            time.sleep(job.args[0])
            return job.args[0]
        if job.op == "assert_and_abort":
            print("noise", file=sys.stderr)
            print("GGML_ASSERT(n_tokens > 0) failed", file=sys.stderr, flush=True)
            os.abort()
        raise ReaderError(f"no op {job.op!r}")


def _broken_setup(_arg):
    raise ModelError("cannot load model: not a GGUF file")


@pytest.fixture
def child():
    c = Child(Service, "hello", name="test-child")
    yield c
    c.stop()


def test_calls_return_values_from_another_process(child):
    assert child.ready(60)
    text, pid = child.call("hello", "world")
    assert text == "hello, world" and pid == child.pid != os.getpid()


def test_errors_come_back_as_their_class_and_one_line(child):
    with pytest.raises(PdfError) as info:
        child.call("fail")
    assert type(info.value) is PdfError and str(info.value) == "page 3 is broken"
    with pytest.raises(PdfError) as info:  # a subclass from elsewhere: its nearest class in core.errors
        child.call("odd")
    assert type(info.value) is PdfError and str(info.value) == "an odd one"
    with pytest.raises(ReaderError) as info:  # a bug: worded by ``internal``, no traceback
        child.call("bug")
    assert str(info.value) == "ZeroDivisionError: division by zero"
    assert "Traceback" not in str(info.value) and "\n" not in str(info.value)
    assert child.call("hello", "again")[0] == "hello, again"  # still serving


def test_error_transport_names_a_class_never_pickles_one():
    assert error_to_wire(PdfError("a\nb")) == ("PdfError", "a b")
    assert error_to_wire(KeyError("x")) == ("", "KeyError: 'x'")
    assert type(error_from_wire(("NoSuchError", "m"))) is ReaderError  # unknown: the generic one
    assert type(error_from_wire(("dict", "m"))) is ReaderError  # not an error class: the same
    assert type(error_from_wire(("ModelCrashed", "m"))).__name__ == "ModelCrashed"
    assert str(error_from_wire(("", "KeyError: 'x'"), lambda m: PdfError(f"bug ({m})"))) == "bug (KeyError: 'x')"


def test_a_setup_that_fails_is_its_error_and_leaves_no_process():
    c = Child(_broken_setup, None, name="test-child")
    with pytest.raises(ModelError, match="^cannot load model: not a GGUF file$"):
        c.ready(60)
    with pytest.raises(ModelError):
        c.call("hello", "x")
    c.proc.join(30)
    assert not c.proc.is_alive()
    c.stop()


def test_events_arrive_in_order_before_the_result(child):
    rid = child.request("count", 5)
    got = []
    while (msg := child.next(rid, 30))[0] == "event":
        got.append(msg[1])
    assert got == [("progress", i) for i in range(5)] and msg == ("ok", "counted")


def test_cancel_stops_the_call_and_the_child_serves_on(child):
    rid = child.request("until_cancelled")
    first = child.next(rid, 30)
    assert first == ("event", 0)
    child.cancel(rid)
    deadline = time.monotonic() + 5
    while (msg := child.next(rid, 10))[0] == "event":
        assert time.monotonic() < deadline, "the call went on after its cancel"
    assert msg[0] == "ok" and msg[1].startswith("stopped after ")
    assert child.call("hello", "after")[0] == "hello, after"


def test_a_forgotten_call_does_not_leak_into_the_next(child):
    rid = child.request("count", 50)
    child.forget(rid)
    assert child.call("hello", "next")[0] == "hello, next"


def test_calls_from_several_threads_each_get_their_own_answer(child):
    results = {}

    def ask(i):
        results[i] = child.call("sleep", 0.05 * (i % 3))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == {i: 0.05 * (i % 3) for i in range(6)}


@POSIX
def test_a_child_killed_by_a_signal_is_reported_dead_in_words():
    deaths = []

    def on_death(code, tail):
        deaths.append((code, tail))
        return HelperProcessError(f"the test child stopped ({exit_words(code)})")

    c = Child(Service, "hello", name="test-child", on_death=on_death)
    try:
        rid = c.request("until_cancelled")
        assert c.next(rid, 60)[0] == "event"
        os.kill(c.pid, signal.SIGKILL)
        with pytest.raises(HelperProcessError) as info:
            while True:
                c.next(rid, 10)
        assert str(info.value) == "the test child stopped (killed — out of memory?)"
        assert deaths[0][0] == -signal.SIGKILL and c.dead
        with pytest.raises(HelperProcessError, match="killed"):  # every later call: the same line
            c.call("hello", "x")
        assert not c.proc.is_alive()
    finally:
        c.stop()


@POSIX
def test_an_abort_is_reported_with_the_childs_last_stderr_lines(capfd):
    deaths = []

    def on_death(code, tail):
        deaths.append((code, tail))
        return HelperProcessError(f"stopped ({exit_words(code)}: {tail[-1]})")

    c = Child(Service, "hello", name="test-child", on_death=on_death)
    try:
        with pytest.raises(HelperProcessError) as info:
            c.call("assert_and_abort")
        assert str(info.value) == "stopped (aborted: GGML_ASSERT(n_tokens > 0) failed)"
        assert deaths[0][1][-2:] == ["noise", "GGML_ASSERT(n_tokens > 0) failed"]
    finally:
        c.stop()
    out, err = capfd.readouterr()
    assert "GGML_ASSERT" not in out + err  # the child's output stays off the terminal


def test_stop_ends_the_process(child):
    child.ready(60)
    child.stop()
    assert not child.proc.is_alive() and child.dead
    with pytest.raises(HelperProcessError, match="stopped"):
        child.call("hello", "x")


def test_exit_codes_in_words():
    assert exit_words(-signal.SIGSEGV) == "segmentation fault"
    assert exit_words(-signal.SIGABRT) == "aborted"
    assert exit_words(3) == "exit code 3"
    assert exit_words(None) == "lost contact"


PROTOCOL = ("reader_app.core.child", "reader_app.core.child_server", "reader_app.core.child_wire")
USERS = ("llm/process_engine.py", "llm/engine_child.py", "pdf/render.py", "pdf/isolated.py")


@pytest.mark.parametrize("rel", USERS)
def test_every_isolated_part_uses_the_one_module(rel):
    tree = ast.parse((PKG / rel).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert imported & set(PROTOCOL), imported
    assert not imported & {"socket", "subprocess", "multiprocessing", "multiprocessing.connection"}, imported
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.keyword) and n.arg}
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not names & {"pass_fds", "fork", "Popen", "socketpair"}
    assert "fork" not in strings


def test_the_module_spawns_and_is_stdlib_only():
    src = (PKG / "core" / "child.py").read_text(encoding="utf-8")
    assert 'get_context("spawn")' in src
    for module in PROTOCOL:
        src = (PKG.parent / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
        assert 'get_context("fork")' not in src and "os.fork" not in src and "pass_fds" not in src, module


def test_a_script_without_a_main_guard_can_start_children(tmp_path):
    """Spawn would run the script again in the child (and that would start a child of its
    own); the child does not import the parent's main script."""
    import subprocess

    script = tmp_path / "unguarded.py"
    script.write_text("from reader_app.core.child import Child\n"
                      "c = Child('test_child:Service', 'hi', name='test-child')\n"
                      "print(c.call('hello', 'script')[0], flush=True)\n"
                      "c.stop()\n")
    tests_dir = str(Path(__file__).resolve().parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((str(PKG.parent), tests_dir)))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0 and proc.stdout == "hi, script\n", proc.stderr[-2000:]
    assert proc.stderr == ""
