"""Paragraph vectors follow the text (issue O, the app side): a vector computed from a text
that has changed since is never ranked on and is computed again; the library's matrix
follows changes made through another connection; ``reextract`` gives a paper that had
vectors new ones; the ``semantic_search`` setting turns retrieval by meaning off in the CLI.
Real parts: the embedded all-MiniLM-L6-v2 GGUF, a real PDF, real SQLite libraries."""

from __future__ import annotations

import json

import pytest

from reader_app.assistant import hybrid
from reader_app.assistant.ranking import rank as bm25_rank
from reader_app.library import Library
from reader_app.llm.embedder import open_embedder
from reader_app.pdf import extract_paper

PAPER = "2304.02623v1.pdf"  # 4 pages
SMALL = "1903.10676.pdf"  # 1 page
# names no word of paragraph 18's ("Compared to other types of writing that do not involve
# external documents, e.g., creative story or argumentative writing"): BM25 misses it
PARAPHRASE = "What makes this kind of writing different from fiction or persuasive essays?"
ANSWER_PARAGRAPH = 18
CHANGED = 5  # the paragraph a re-extraction reads otherwise here


@pytest.fixture(scope="module")
def embedder():
    e = open_embedder()
    yield e
    e.close()


def _changed(papers_dir):
    """The paper as a later extraction reads it: one paragraph's text differs."""
    paper = extract_paper(papers_dir / PAPER)
    paper.paragraphs[CHANGED].text = "Library vectors must follow the text they were computed from."
    return paper


def test_vectors_of_an_old_text_are_never_ranked_on_and_are_computed_again(tmp_path, papers_dir, embedder):
    with Library.open(tmp_path / "lib") as lib:
        pid, _ = lib.add_paper(extract_paper(papers_dir / PAPER), papers_dir / PAPER)
        read_before = lib.get_paper(pid)  # a background job read the paper ...
        lib.replace_extraction(pid, _changed(papers_dir))  # ... `reextract` (another process) changed it ...
        hybrid.paper_vectors(read_before, embedder, lib)  # ... and the job stores the old text's vectors
        model = embedder.name
        assert lib.stale_vector_papers(model) == {pid}
        assert lib.papers_without_vectors(model) == [pid]  # so the next pass computes them again
        keys, mat = lib.vector_matrix(model)
        assert (pid, CHANGED) not in keys and (pid, ANSWER_PARAGRAPH) in keys  # the stale one left out
        assert mat.shape[0] == len(keys) == len(lib.stored_vectors(pid, model)) - 1

        # a question meanwhile: ranked by words, and the paper named for its vectors
        now = lib.get_paper(pid)
        wanted = []
        ranker = hybrid.hybrid_ranker(lib, embedder, on_missing=wanted.append)
        assert ranker.kind == "hybrid"
        assert ranker.rank(now, PARAPHRASE) == bm25_rank(now, PARAPHRASE, lib) and wanted == [pid]
        assert hybrid.fresh_vectors(now, model, lib) is None

        assert hybrid.embed_library(lib, embedder) == 1
        assert lib.stale_vector_papers(model) == set() and lib.papers_without_vectors(model) == []
        h, _v = lib.stored_vectors(pid, model)[CHANGED]
        assert h == hybrid.text_hash(hybrid.passage_text(now, now.paragraphs[CHANGED]))
        keys, _mat = lib.vector_matrix(model)
        assert (pid, CHANGED) in keys
        # fresh now: ranked by words and meaning, which finds the paraphrase's paragraph
        fresh = hybrid.hybrid_ranker(lib, embedder, on_missing=wanted.append).rank(now, PARAPHRASE)
        assert ANSWER_PARAGRAPH in [i for i, _ in fresh[:5]] and wanted == [pid]
        assert ANSWER_PARAGRAPH not in [i for i, _ in bm25_rank(now, PARAPHRASE, lib)[:5]]

        # an embedding model that fails (here: closed under it) leaves the question ranked by words
        closed = open_embedder()
        closed.close()
        assert hybrid.hybrid_ranker(lib, closed).rank(now, PARAPHRASE) == bm25_rank(now, PARAPHRASE, lib)


def test_the_library_matrix_follows_changes_made_through_another_connection(tmp_path, papers_dir, embedder):
    folder = tmp_path / "lib"
    with Library.open(folder) as lib, Library.open(folder) as other:
        pid, _ = lib.add_paper(extract_paper(papers_dir / PAPER), papers_dir / PAPER)
        model = embedder.name
        assert lib.vector_matrix(model)[0] == []
        hybrid.embed_library(other, embedder)  # another connection (the app's worker, the CLI)
        keys, _ = lib.vector_matrix(model)
        assert keys and {k[0] for k in keys} == {pid}
        other.replace_extraction(pid, _changed(papers_dir))  # drops the vectors there
        assert lib.vector_matrix(model)[0] == []
        assert lib.papers_without_vectors(model) == [pid]


def test_cli_reextract_gives_new_vectors_and_the_setting_turns_meaning_off(cli, papers_dir, tmp_path):
    assert cli("add", papers_dir / SMALL).code == 0
    r = cli("reextract", "--all", "--json", timeout=300)
    assert r.code == 0 and r.json()[0]["vectors"] == 0, r  # it had none: none computed
    r = cli("vectors", "--json", timeout=300)
    assert r.code == 0 and r.json()["computed"] == 1, r
    r = cli("reextract", "--all", "--json", timeout=300)
    assert r.code == 0 and r.json()[0]["vectors"] > 0, r  # had vectors: new ones, from the new text
    r = cli("vectors", "--json", timeout=300)
    assert r.code == 0 and r.json()["computed"] == 0 and r.json()["papers_with_vectors"] == 1, r

    config = tmp_path / "config-off"
    config.mkdir()
    (config / "assistant.json").write_text(json.dumps({"semantic_search": False}))
    off = {"READER_APP_CONFIG_DIR": str(config)}
    r = cli("vectors", env=off)
    assert r.code == 2 and r.err.count("\n") == 1 and "semantic_search" in r.err and "Traceback" not in r.err
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    r = cli("find", "SciERC results", "--embedder", broken, "--json", env=off)
    assert r.code == 0 and r.err == "" and len(r.json()) == 1, r  # by words, no model opened: nothing to say
    r = cli("reextract", "--all", "--json", env=off, timeout=300)
    assert r.code == 0 and r.json()[0]["vectors"] == 0, r
