"""Section summaries and the TL;DR with the REAL embedded model (temperature 0, fixed seed).

One shared paper imported into a real SQLite library.  Kept cheap: a context of 1024
tokens, one short section and a TL;DR on that small budget.  The 135M model is weak, so
these assert the contract (streaming, real cited paragraphs, caching per model in the
library, ``force`` regenerating, the CLI's JSON), not that the summaries are smart.
"""

from __future__ import annotations

import re
import time

import pytest

from reader_app.assistant.service import Assistant
from reader_app.assistant.summaries import QUOTED
from reader_app.library import Library
from tests.conftest import run_cli

pytestmark = pytest.mark.model

PAPER = "2304.02623v1.pdf"  # 4 pages, short sections
N_CTX = 1024


class CountingEngine:
    """The real engine, counting how often the model is run."""

    def __init__(self, engine):
        self.engine = engine
        self.streams = 0

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def generate(self, *args, **kwargs):
        self.streams += 1
        return self.engine.generate(*args, **kwargs)


@pytest.fixture(scope="module")
def engine():
    from reader_app.assistant import open_engine
    from reader_app.core.errors import ModelError

    try:
        eng = open_engine(n_ctx=N_CTX)
    except ModelError as exc:  # pragma: no cover - the embedded model ships with the package
        pytest.skip(f"embedded model unavailable: {exc}")
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def library(tmp_path_factory, papers_dir):
    """(library folder, paper id, the short section's index) for one real shared paper."""
    from reader_app.pdf import extract_paper_isolated

    folder = tmp_path_factory.mktemp("summaries-model") / "library"
    lib = Library.open(folder)
    try:
        pid, _ = lib.add_paper(extract_paper_isolated(str(papers_dir / PAPER)), str(papers_dir / PAPER))
        paper = lib.get_paper(pid)
    finally:
        lib.close()
    by_section: dict[int, list] = {}
    for p in paper.paragraphs:
        if p.section_index is not None and p.kind in ("body", "caption") and p.text.strip():
            by_section.setdefault(p.section_index, []).append(p)
    # the shortest section of at least two paragraphs: little model time, still a summary
    index = min((i for i, ps in by_section.items() if len(ps) >= 2),
                key=lambda i: sum(len(p.text) for p in by_section[i]))
    return folder, pid, index


def _check_summary(part: dict, paper, allowed: set[int] | None = None) -> None:
    numbers = {p.index + 1: p for p in paper.paragraphs}
    summary = part["summary"]
    assert summary.strip() and len(summary.split()) >= 5, part
    assert not summary.startswith(QUOTED), f"the model gave no usable summary: {part}"
    sentences = [re.sub(r"\W+", " ", s.lower()).strip() for s in re.split(r"(?<=[.!?])\s+", summary)]
    assert len(sentences) == len(set(sentences)), f"repeated sentences: {summary}"
    assert part["citations"], f"nothing cited: {part}"
    cited = [c["paragraph"] for c in part["citations"]]
    assert len(cited) == len(set(cited))
    for c in part["citations"]:
        para = numbers.get(c["paragraph"])
        assert para is not None, f"cites a paragraph that does not exist: {c['paragraph']}"
        assert c["page"] == para.page and c["text"] == para.text and c["section"] == para.section
        assert allowed is None or c["paragraph"] in allowed
    marked = {int(n) for m in re.findall(r"\[([\d,\s]+)\]", summary) for n in re.findall(r"\d+", m)}
    assert marked <= set(cited), (marked, cited)


def test_section_summary_streams_cites_and_is_cached_per_model(engine, library):
    folder, pid, index = library
    lib = Library.open(folder)
    try:
        paper = lib.get_paper(pid)
        section = [p for p in paper.paragraphs if p.section_index == index]
        title = paper.sections[index].title
        counting = CountingEngine(engine)
        a = Assistant(counting, lib)
        pieces: list[tuple[float, str]] = []
        notes: list[str] = []
        (part,) = a.summarize(paper, index, on_token=lambda t: pieces.append((time.perf_counter(), t)),
                              progress=notes.append)
        returned = time.perf_counter()
        # streamed: the header first, then the model's words piece by piece, all before returning
        assert pieces[0][1] == f"## {title}\n"
        body = [t for _, t in pieces[1:] if t.strip()]
        assert len(body) >= 5 and all(when <= returned for when, _ in pieces)
        assert "".join(body).split()[0] == part["summary"].split()[0]
        assert notes == [f"Summarizing {title} (1 of 1)"]
        assert part["title"] == title
        _check_summary(part, paper, allowed={p.index + 1 for p in section})
        ran = counting.streams
        assert ran >= 1

        # cached: the same result, the model not run again ...
        assert a.summarize(paper, index) == [part] and counting.streams == ran
        # ... and stored in the library: a new Assistant (say, after a restart) reuses it
        fresh = CountingEngine(engine)
        assert Assistant(fresh, lib).summarize(paper, index) == [part] and fresh.streams == 0
        stored = {d["section_key"]: d for d in lib.summaries(pid)}
        assert stored[f"s{index}"]["summary"] == part["summary"] and stored[f"s{index}"]["model"] == engine.key

        # force=True runs the model again and overwrites the cache.  (The words may differ a
        # little: the prompt's KV state now comes from the cache rather than a fresh pass.)
        (again,) = Assistant(fresh, lib).summarize(paper, index, force=True)
        assert fresh.streams >= 1
        _check_summary(again, paper, allowed={p.index + 1 for p in section})
        assert lib.get_summary(pid, engine.key, f"s{index}")["summary"] == again["summary"]
        part = again
    finally:
        lib.close()

    # the CLI prints the documented JSON (read from the library here: same model, same text)
    res = run_cli("summarize", pid[:12], "--section", index, "--n-ctx", N_CTX, "--json", library=folder,
                  timeout=600)
    assert res.code == 0, res
    out = res.json()
    assert set(out) == {"paper_id", "model", "sections"} and out["paper_id"] == pid
    assert out["model"] == engine.name
    (cli_part,) = out["sections"]
    assert set(cli_part) == {"title", "summary", "citations"}
    assert cli_part == part
    for c in cli_part["citations"]:
        assert set(c) == {"paragraph", "page", "section", "text", "bbox", "verified", "paper_id", "paper_title"}
        assert len(c["bbox"]) == 4 and c["paper_id"] == ""  # one paper's summary names no paper


def test_tldr_on_a_short_budget(engine, library):
    folder, pid, _ = library
    lib = Library.open(folder)
    try:
        paper = lib.get_paper(pid)
        counting = CountingEngine(engine)
        pieces: list[str] = []
        (part,) = Assistant(counting, lib).summarize(paper, on_token=pieces.append)
        assert part["title"] == "TL;DR" and pieces[0] == "## TL;DR\n"
        assert counting.streams == 1  # fits in one prompt even at n_ctx 1024
        _check_summary(part, paper)
        assert lib.get_summary(pid, engine.key, "tldr")["summary"] == part["summary"]
    finally:
        lib.close()
