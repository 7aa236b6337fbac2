"""Topical library questions answered by the model (not a test): prints figures measured in
this run.  The questions of tests/bench/topical_questions.json (written before measuring;
each names no title and one paper of ../shared/papers-pwl + ../shared/papers answers it) are
asked across the library of those 37 PDFs, as `reader-app ask --all` asks them (hybrid
passages, the answer_ttft_s budget, the passage_demos setting).  Reports how often the
answer cites the right paper (any citation, and a verified one), the answers' median first
token, and each answer.                                          target: right paper >= 90%

    nice -n 10 python tests/bench/topical_answers.py MODEL.gguf [--library DIR] [--out ROWS.jsonl]

``--library DIR`` keeps the imported papers and their vectors between runs (shared with
retrieval_bench.py's).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval_bench import fill_library, topical_questions  # noqa: E402

from reader_app.assistant import hybrid  # noqa: E402
from reader_app.assistant.service import Assistant  # noqa: E402
from reader_app.core.errors import ReaderError  # noqa: E402
from reader_app.library import Library  # noqa: E402
from reader_app.llm.engines import open_engine  # noqa: E402


def ask_all(assistant: Assistant, files: dict[str, str], log) -> list[dict]:
    rows = []
    for item in topical_questions():
        want = files[item["paper"]]
        t = time.perf_counter()
        answer = assistant.ask_library(item["q"])
        cited = [c.paper_id for c in answer.citations]
        verified = [c.paper_id for c in answer.citations if c.verified]
        row = {"q": item["q"], "paper": item["paper"], "answer": answer.answer, "answerable": answer.answerable,
               "right_cited": want in cited, "right_verified": want in verified,
               "first_cited": answer.paper_id == want, "papers_read": answer.trace.papers,
               "right_read": want in answer.trace.papers, "ttft_s": answer.timings.ttft_s,
               "total_s": round(time.perf_counter() - t, 2)}
        log(f"{'✓' if row['right_cited'] else '✗'} {item['q'][:60]} -> {answer.answer[:80]}")
        rows.append(row)
    return rows


def has_text(lib: Library, paper_id: str) -> bool:
    try:
        return any(p.text.strip() for p in lib.get_paper(paper_id).paragraphs)
    except ReaderError:  # not imported (fill_library said why)
        return False


def summary(rows: list[dict], with_text: set[str]) -> dict:
    share = (lambda xs: round(sum(xs) / len(xs), 4) if xs else None)
    texted = [r for r in rows if r["paper"] in with_text]
    return {"questions": len(rows), "right_paper_cited": share([r["right_cited"] for r in rows]),
            "right_paper_verified": share([r["right_verified"] for r in rows]),
            "first_citation_right": share([r["first_cited"] for r in rows]),
            "right_paper_read": share([r["right_read"] for r in rows]),
            "read_one_paper": share([len(r["papers_read"]) == 1 for r in rows]),
            "questions_whose_paper_has_text": len(texted),
            "right_paper_cited_of_those": share([r["right_cited"] for r in texted]),
            "median_ttft_s": round(statistics.median(r["ttft_s"] for r in rows), 2) if rows else None,
            "median_total_s": round(statistics.median(r["total_s"] for r in rows), 2) if rows else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--library", default=None)
    ap.add_argument("--out", default=None, help="write each answer as a JSON line")
    args = ap.parse_args()
    log = (lambda s: print(s, file=sys.stderr, flush=True))
    with tempfile.TemporaryDirectory(prefix="topical-answers-") as tmp:
        lib = Library.open(args.library or Path(tmp) / "lib")
        embedder, note = hybrid.open_retrieval(threads=2)
        if note:
            log(note)
        engine = open_engine(args.model)
        try:
            files, _done, _s = fill_library(lib, embedder, log)
            with_text = {name for name, pid in files.items() if has_text(lib, pid)}
            assistant = Assistant(engine, lib, ranker=hybrid.hybrid_ranker(lib, embedder))
            rows = ask_all(assistant, files, log)
        finally:
            engine.close()
            if embedder is not None:
                embedder.close()
            lib.close()
    if args.out:
        Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(json.dumps({"model": Path(args.model).name, **summary(rows, with_text)}, indent=1))


if __name__ == "__main__":
    main()
