"""Issue D §3: a process killed with SIGKILL mid-write loses no note it reported saved."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, run_cli

WRITER = r"""
import sys
from reader_app.core.model import Paper, Paragraph, Section
from reader_app.library import Library

lib = Library.open(sys.argv[1])
pid = "f" * 64
try:
    lib.resolve_id(pid)
except Exception:
    paper = Paper(id=pid, title="Crash test", pages=3,
                  sections=[Section(0, "Intro", 1, 1)],
                  paragraphs=[Paragraph(0, "Some text here.", 1, (0, 0, 1, 1), 0, "Intro")])
    lib.add_paper(paper, None)
i = 0
while True:
    text = f"note {sys.argv[2]}-{i} " + "x" * (i % 500)
    note = lib.add_note(pid, text, page=1 + i % 3, quote="q" * (i % 50) or None)
    print(f"saved {note.id} {text}", flush=True)
    i += 1
"""


@pytest.mark.slow
def test_sigkill_during_note_writes_loses_nothing_reported(tmp_path):
    lib = tmp_path / "library"
    rng = random.Random(1234)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    reported: dict[int, str] = {}
    kills = 0
    for round_no in range(40):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(lib), str(round_no)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        # let it start writing, then kill it at a random moment
        first = proc.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        kills += 1
        out = first + proc.stdout.read()
        proc.wait()
        for line in out.splitlines():
            if line.startswith("saved ") and line.count(" ") >= 2:
                _, note_id, text = line.split(" ", 2)
                reported[int(note_id)] = text
    assert kills == 40
    assert len(reported) > 40
    r = run_cli("notes", "f" * 12, "--json", library=lib)
    assert r.code == 0, r
    stored = {n["id"]: n["text"] for n in r.json()}
    lost = {k: v for k, v in reported.items() if stored.get(k) != v}
    assert not lost, f"{len(lost)} reported-saved notes lost"
    check = run_cli("check", "--json", library=lib)
    assert check.code == 0 and check.json()["integrity"] == "ok"


@pytest.mark.slow
def test_sigkill_of_cli_note_command(tmp_path):
    lib = tmp_path / "library"
    env = dict(os.environ, PYTHONPATH=str(REPO), READER_APP_LIBRARY=str(lib))
    subprocess.run([sys.executable, "-c", WRITER.replace("while True", "while i < 1"), str(lib), "seed"],
                   env=env, check=True, capture_output=True)
    rng = random.Random(7)
    saved = []
    for i in range(10):
        proc = subprocess.Popen([sys.executable, "-m", "reader_app", "note", "f" * 8, f"cli note {i}", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=REPO)
        time.sleep(rng.uniform(0.1, 0.8))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        if out.strip():
            saved.append(f"cli note {i}")
    texts = {n["text"] for n in run_cli("notes", "f" * 8, "--json", library=lib).json()}
    assert set(saved) <= texts
    assert run_cli("check", "--json", library=lib).json()["integrity"] == "ok"
