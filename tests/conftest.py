"""Shared fixtures. Engineers: only ADD fixtures here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Hermetic runs: the KV cache, settings and user models of the person running the tests
# are never read or written; child processes inherit these.
import atexit as _atexit
import shutil as _shutil
import tempfile as _tempfile

_HOME = _tempfile.mkdtemp(prefix="reader-app-tests-")
_atexit.register(_shutil.rmtree, _HOME, True)
for _var, _sub in (("READER_APP_CACHE_DIR", "cache"), ("READER_APP_CONFIG_DIR", "config"),
                   ("READER_APP_MODELS_DIR", "models")):
    os.environ[_var] = os.path.join(_HOME, _sub)
for _var in ("READER_APP_MODEL", "READER_APP_BACKEND", "READER_APP_BASE_URL", "READER_APP_API_KEY",
             "READER_APP_CHAT_TEMPLATE", "READER_APP_LIBRARY"):
    os.environ.pop(_var, None)

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


@pytest.fixture
def small_pdf(tmp_path) -> Path:
    """A one-page, valid PDF whose text starts "A small but valid PDF document"."""
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "A small but valid PDF document for the tests.")
    path = tmp_path / "small.pdf"
    doc.save(path)
    return path


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


def add_shared_papers(path) -> list:
    """Import every shared paper into the library at ``path`` (tag 'shared'); the ``add`` rows."""
    r = run_cli("add", *sorted(PAPERS.glob("*.pdf")), "--tag", "shared", "--json", library=path, timeout=600)
    assert r.code == 0, r
    return r.json()


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


# ---- side-panel fixtures (ui panels engineer) ------------------------------------------

def make_panel_paper(paper_id: str = "f" * 64):
    """A small synthetic paper (no PDF) with sections, pages and paragraph boxes."""
    from reader_app.core.model import Paper, Paragraph, Section

    sections = [Section(0, "1 Introduction", 1, 1), Section(1, "2 Data", 1, 2), Section(2, "3 Results", 1, 3)]
    texts = [
        (0, 1, "Scientific papers are hard to read quickly. We build a reading assistant that cites "
               "the paragraphs it relies on."),
        (0, 1, "The assistant runs on a laptop. It never sends the paper to a server."),
        (1, 2, "We train the model on the PubMed corpus of 1.2 million abstracts. The abstracts were "
               "collected in 2019."),
        (1, 2, "Each abstract is split into sentences. Sentences shorter than five words are dropped."),
        (2, 3, "The model reaches an accuracy of 91 percent on the test set. This beats the baseline "
               "by four points."),
        (2, 3, "Errors come mostly from long sentences. Tables are not handled yet."),
    ]
    paragraphs = [
        Paragraph(index=i, text=t, page=page, bbox=(72.0, 100.0 + 80 * (i % 2), 300.0, 160.0 + 80 * (i % 2)),
                  section_index=si, section=sections[si].title)
        for i, (si, page, t) in enumerate(texts)
    ]
    return Paper(id=paper_id, title="A Small Test Paper", authors=["Ada Lovelace"], year=2024, pages=4,
                 sections=sections, paragraphs=paragraphs)


@pytest.fixture
def panel_env(tmp_path, monkeypatch):
    """A real SQLite library in tmp_path holding ``make_panel_paper()``, assistant settings
    in tmp_path, and a factory for ``app.Services`` whose engine is a FakeEngine.

    ``panel_env.services(respond=..., delay=..., engine_factory=...)`` builds Services;
    ``panel_env.paper_id``, ``panel_env.library_path``; Services are shut down at teardown.
    """
    from types import SimpleNamespace

    monkeypatch.setenv("READER_APP_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("READER_APP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("READER_APP_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("READER_APP_MODEL", raising=False)
    from reader_app.library import Library

    lib_path = tmp_path / "library"
    lib = Library.open(lib_path)
    paper = make_panel_paper()
    paper_id, _ = lib.add_paper(paper)
    lib.close()
    made = []

    def services(respond=None, delay: float = 0.0, engine_factory=None):
        from PySide6.QtCore import QSettings

        from reader_app.app import Services
        from tests.fakes import FakeEngine

        if engine_factory is None:
            def engine_factory(**_kw):
                return FakeEngine(respond or "1]\nAnswer: yes", delay=delay)
        ui = QSettings(str(tmp_path / "ui.ini"), QSettings.IniFormat)
        s = Services(lib_path, engine_factory=engine_factory, ui_settings=ui)
        made.append(s)
        return s

    env = SimpleNamespace(services=services, paper_id=paper_id, library_path=lib_path, paper=paper,
                          tmp_path=tmp_path)
    yield env
    for s in made:
        s.shutdown()


# --- desktop window (tests/test_ui_window*.py, test_ui_pdfview*.py, test_ui_library*.py) ---

UI_PAPER = "2304.02623v1.pdf"  # 4 pages, 7 sections: small enough to import quickly


@pytest.fixture(scope="session")
def ui_template_library(tmp_path_factory, papers_dir):
    """(folder, paper_id): a library with one real shared paper, made once; copy before writing."""
    from reader_app.library import Library
    from reader_app.pdf import extract_paper_isolated

    folder = tmp_path_factory.mktemp("ui-template") / "library"
    lib = Library.open(folder)
    try:
        paper = extract_paper_isolated(str(papers_dir / UI_PAPER))
        paper_id, _ = lib.add_paper(paper, str(papers_dir / UI_PAPER))
    finally:
        lib.close()
    return folder, paper_id


@pytest.fixture
def ui_env(qtbot, tmp_path, ui_template_library):
    """A MainWindow on a private copy of the template library, a FakeEngine, QSettings in tmp.

    ``ui_env.window(library=...)`` makes a (further) window on the same library and settings.
    """
    import shutil
    from types import SimpleNamespace

    from PySide6.QtCore import QSettings

    from reader_app.app import Services
    from reader_app.ui.window.main_window import MainWindow
    from reader_app.ui.background.ops import wait_for_ops
    from tests.fakes import FakeEngine

    src, paper_id = ui_template_library
    lib_path = tmp_path / "library"
    shutil.copytree(src, lib_path)
    made = []

    def window(library=lib_path, respond="Evidence: [1]\nAnswer: yes", delay=0.0):
        ui = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
        services = Services(library, ui_settings=ui,
                            engine_factory=lambda **_kw: FakeEngine(respond, delay=delay))
        win = MainWindow(services)
        win.password_prompt = lambda name: None
        win.folder_prompt = lambda title: str(tmp_path / "out")
        qtbot.addWidget(win)
        win.resize(1200, 800)
        win.show()
        made.append((win, services))
        return win

    env = SimpleNamespace(window=window, paper_id=paper_id, library_path=lib_path, tmp_path=tmp_path)
    yield env
    for win, services in made:
        win.close()
    wait_for_ops(5000)
    for win, services in made:
        services.shutdown()
