"""Shared fixtures. Engineers: only ADD fixtures here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PAPERS = SHARED / "papers"
BAD_PDFS = SHARED / "bad-pdfs"
QASPER = SHARED / "qasper"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _need(SHARED)


@pytest.fixture(scope="session")
def papers_dir() -> Path:
    return _need(PAPERS)


@pytest.fixture(scope="session")
def bad_pdfs_dir() -> Path:
    return _need(BAD_PDFS)


@pytest.fixture(scope="session")
def qasper_dir() -> Path:
    return _need(QASPER)


class CliResult:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"CliResult(code={self.code}, out={self.out[:500]!r}, err={self.err[:500]!r})"


def run_cli(*args, library: Path | None = None, timeout: float = 120, env: dict | None = None,
            input: str | None = None) -> CliResult:
    """Run ``python -m reader_app ARGS`` in a fresh process (as a user would)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    if library is not None:
        full_env["READER_APP_LIBRARY"] = str(library)
    if env:
        full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-m", "reader_app", *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=full_env, cwd=str(REPO),
        input=input, stdin=None if input is not None else subprocess.DEVNULL,
    )
    return CliResult(proc)


@pytest.fixture
def cli(tmp_path):
    """``cli(*args)`` runs the CLI against a fresh library in tmp_path."""
    lib = tmp_path / "library"

    def _run(*args, **kw):
        kw.setdefault("library", lib)
        return run_cli(*args, **kw)

    _run.library = lib
    return _run
