"""Retrieval by meaning benchmark (not a test): prints figures measured in this run.

1. Topical library questions (tests/bench/topical_questions.json, written before measuring):
   the 37 PDFs of ../shared/papers-pwl and ../shared/papers in one library; for each
   question, is its paper the first candidate (top-1) / among the first 3, for BM25, dense
   (all-MiniLM-L6-v2), and both fused (RRF, weighted)?              target: right paper >= 90%
2. Embedding a 10-page paper (consistent hashing, STOC 1997) in the background.   <= 20 s
3. Ranking a 500-paper library (synthetic: real paragraphs and their vectors, copied into
   500 papers): a question's candidate papers, hybrid; and peak memory.    <= 0.2 s, <= 1 GB

    nice -n 10 python tests/bench/retrieval_bench.py [--library DIR] [--synthetic 500] [--json]

``--library DIR`` keeps the imported papers and their vectors between runs.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared"
FOLDERS = (SHARED / "papers-pwl", SHARED / "papers")
TEN_PAGES = SHARED / "papers-pwl" / "pwl__consistent-hashing-and-random-trees.pdf"

from reader_app.assistant import hybrid  # noqa: E402
from reader_app.core.errors import ReaderError  # noqa: E402
from reader_app.core.model import Paper, Paragraph, Section  # noqa: E402
from reader_app.library import Library  # noqa: E402
from reader_app.pdf import extract_paper, sha256_file  # noqa: E402

RANKINGS = {"bm25": dict(embedder=None), "dense": dict(words=False), "rrf": dict(how="rrf"),
            "weighted": dict(how="weighted", dense_weight=0.5), "weighted0.3": dict(how="weighted", dense_weight=0.3)}


def candidates(lib, q, emb, name):
    kw = dict(RANKINGS[name])
    e = kw.pop("embedder", emb)
    return hybrid.candidate_papers(lib, q, e, most=3, **kw)


def fill_library(lib, emb, log) -> tuple[dict[str, str], int, float]:
    """The 37 shared PDFs in ``lib`` (kept ones are not imported again) with their vectors:
    ({file name: paper id}, papers embedded now, seconds it took)."""
    files = {}
    for folder in FOLDERS:
        for pdf in sorted(folder.glob("*.pdf")):
            digest = sha256_file(pdf)
            files[pdf.name] = digest
            try:
                lib.get_paper(digest, with_paragraphs=False)
            except ReaderError:
                try:
                    lib.add_paper(extract_paper(pdf), str(pdf))
                except ReaderError as exc:
                    log(f"skipped {pdf.name}: {exc}")
    t = time.perf_counter()
    done = hybrid.embed_library(lib, emb, lambda d, n, title: log(f"vectors {d}/{n} {title[:50]}"))
    return files, done, time.perf_counter() - t


def topical_questions() -> list[dict]:
    return json.loads((REPO / "tests" / "bench" / "topical_questions.json").read_text())["questions"]


def topical(lib, emb, log) -> dict:
    files, done, embed_s = fill_library(lib, emb, log)
    qs = topical_questions()
    rows, out = [], {}
    for item in qs:
        want = files[item["paper"]]
        row = {"q": item["q"], "paper": item["paper"]}
        for name in RANKINGS:
            got = candidates(lib, item["q"], emb, name)
            row[name] = got.index(want) + 1 if want in got else 0
        rows.append(row)
    for name in RANKINGS:
        out[name] = {"top1": round(sum(r[name] == 1 for r in rows) / len(rows), 4),
                     "top3": round(sum(r[name] >= 1 for r in rows) / len(rows), 4)}
    return {"questions": len(rows), "papers": len(files), "embedded_papers": done,
            "embed_library_s": round(embed_s, 1), "by_ranking": out,
            "misses": [r for r in rows if r["rrf"] != 1]}


def ten_pages(emb) -> dict:
    paper = extract_paper(TEN_PAGES)
    paper.id = ""
    t, cpu = time.perf_counter(), time.process_time()
    vecs = hybrid.paper_vectors(paper, emb, None)
    return {"file": TEN_PAGES.name, "pages": paper.pages, "paragraphs": len(vecs),
            "embed_s": round(time.perf_counter() - t, 2), "embed_cpu_s": round(time.process_time() - cpu, 2)}


def synthetic(lib, emb, n_papers: int, folder: Path, log) -> dict:
    """``n_papers`` papers made of the real library's paragraphs (and their stored vectors)."""
    real = [lib.get_paper(p.id) for p in lib.list_papers()]
    pool = [(p, lib.stored_vectors(p.id, emb.name)) for p in real if p.paragraphs]
    big = Library.open(folder)
    rng = random.Random(0)
    t = time.perf_counter()
    for n in range(n_papers):
        src, vecs = pool[n % len(pool)]
        paras = [Paragraph(index=i, text=p.text, page=p.page, section_index=0, section="Body", kind=p.kind)
                 for i, p in enumerate(src.paragraphs)]
        keep = [p for p in paras if rng.random() < 0.9]  # papers differ a little
        for i, p in enumerate(keep):
            p.index = i
        paper = Paper(id=f"synthetic:{n:04d}", title=f"{src.title} ({n})", sections=[Section(0, "Body", 1, 0)],
                      paragraphs=keep)
        big.add_paper(paper)
        old = {p.text: vecs[p.index][1] for p in src.paragraphs if p.index in vecs}
        big.save_vectors(paper.id, emb.name, [(p.index, hybrid.text_hash(hybrid.passage_text(paper, p)), old[p.text])
                                              for p in keep if p.text in old])
    build_s = time.perf_counter() - t
    log(f"synthetic library of {n_papers} papers built in {build_s:.0f} s")
    qs = [q["q"] for q in json.loads((REPO / "tests" / "bench" / "topical_questions.json").read_text())["questions"]]
    hybrid.candidate_papers(big, qs[0], emb)  # loads the vector matrix once
    times = []
    for q in qs:
        t = time.perf_counter()
        hybrid.candidate_papers(big, q, emb)
        times.append(time.perf_counter() - t)
    keys, mat = big.vector_matrix(emb.name)
    big.close()
    return {"papers": n_papers, "vectors": len(keys), "matrix_mb": round(mat.nbytes / 2**20, 1),
            "rank_median_s": round(statistics.median(times), 3), "rank_max_s": round(max(times), 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def print_topical(t: dict, emb) -> None:
    print(f"topical library questions: {t['questions']} over {t['papers']} papers (embedder {emb.name})")
    for name, v in t["by_ranking"].items():
        print(f"  {name:9s} right paper first {100 * v['top1']:.0f}%, in the top 3 {100 * v['top3']:.0f}%")
    for m in t["misses"]:
        print(f"  hybrid miss (rank {m['rrf'] or '>3'}): {m['q']}  [{m['paper']}]")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--library", default=None)
    ap.add_argument("--synthetic", type=int, default=500)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-topical", action="store_true", help="only the timings (--library: where the "
                    "synthetic library takes its paragraphs and vectors from, e.g. an eval --retrieval-only library)")
    ap.add_argument("--no-timings", action="store_true", help="only the topical questions")
    args = ap.parse_args()
    log = (lambda s: print(s, file=sys.stderr, flush=True))
    emb, note = hybrid.open_retrieval()
    if emb is None:
        sys.exit(note)
    tmp = Path(tempfile.mkdtemp(prefix="reader-app-bench-retrieval-"))
    lib = Library.open(args.library or tmp / "lib")
    try:
        result = {"embedder": emb.name}
        if not args.no_topical:
            result["topical"] = topical(lib, emb, log)
        if not args.no_timings:
            result["ten_pages"] = ten_pages(emb)
        if args.synthetic and not args.no_timings:
            result["synthetic"] = synthetic(lib, emb, args.synthetic, tmp / "big", log)
    finally:
        lib.close()
    if args.json:
        print(json.dumps(result, indent=1))
        return
    t = result.get("topical")
    if t:
        print_topical(t, emb)
    p = result.get("ten_pages")
    if p:
        print(f"embedding {p['file']} ({p['pages']} pages, {p['paragraphs']} paragraphs): {p['embed_s']} s "
              f"({p['embed_cpu_s']} s of CPU)")
    if "synthetic" in result:
        s = result["synthetic"]
        print(f"ranking {s['papers']} papers ({s['vectors']} vectors, {s['matrix_mb']} MB): median {s['rank_median_s']} s, "
              f"max {s['rank_max_s']} s; peak memory {s['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
