"""``reader-app eval qasper FILE --across N``: questions asked across a library of N papers.

The first N papers (after ``skip``) go into one temporary SQLite library; the questions of
the first ``papers`` of them are asked without naming their paper (``Assistant.ask_library``).
Reported: paper retrieval (the gold paper first / in the top 3 of the candidate papers, and
among the cited papers), Answer F1 and Evidence F1 with the official metric, and seconds per
question.  Predictions are written in the same format as ``eval`` (mode "library"), so
``--score`` compares them with single-paper runs on the same questions (``--baseline``).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable

from reader_app.assistant import passage_qa, qasper
from reader_app.assistant.eval import keep_demonstrations
from reader_app.assistant.eval_report import confidence_report, gold_kind, per_question, score
from reader_app.assistant.reply import parse_answer
from reader_app.assistant.service import Assistant
from reader_app.core.errors import BadInput, ReaderError
from reader_app.core.model import Scope
from reader_app.library import Library


def run_across(engine, path: str, *, across: int, papers: int | None = None, skip: int = 0,
               predictions_out: str | None = None, on_progress: Callable[[str], None] | None = None,
               answer_style: str | None = None, library_dir: str | None = None, passage_demos: str | None = None,
               demos_from: list[str] | None = None, passage_tokens: int | None = None, ranker=None) -> dict:
    """``passage_demos``, ``demos_from``, ``passage_tokens``, ``ranker``: as for ``eval.run_eval``'s
    quick answers (the kept demonstrations go into the temporary library)."""
    if across < 1:
        raise BadInput("--across must be at least 1")
    evaluator = qasper.load_evaluator(path)
    data = qasper.load_dataset(path)
    ids = list(data)[skip:][:across]
    if not ids:
        raise BadInput(f"--skip {skip} passes over all {len(data)} papers")
    asked_ids = ids[: papers or len(ids)]
    with tempfile.TemporaryDirectory(prefix="reader-app-across-") as tmp:
        lib = Library.open(library_dir or tmp)
        try:
            t0 = time.perf_counter()
            for arxiv_id in ids:
                lib.add_paper(qasper.paper_from_qasper(arxiv_id, data[arxiv_id]))
            import_s = time.perf_counter() - t0
            assistant = Assistant(engine, lib, answer_style=answer_style, passage_demos=passage_demos,
                                  passage_tokens=passage_tokens, ranker=ranker)
            kept = keep_demonstrations(assistant, data, demos_from) if demos_from else 0
            rows = _ask_all(assistant, lib, data, asked_ids, predictions_out, on_progress)
        finally:
            lib.close()
    predicted = {r["question_id"]: {"answer": r["predicted_answer"], "evidence": r["predicted_evidence"]}
                 for r in rows}
    own = {r["question_id"]: r["model_answer"] for r in rows}
    gold = evaluator.get_answers_and_evidence({i: data[i] for i in asked_ids}, False)
    answerable = [r for r in rows if r["question_id"] in gold and gold_kind(gold[r["question_id"]]) == "answerable"]
    share = (lambda xs: round(sum(xs) / len(xs), 4) if xs else None)
    secs = [r["total_s"] for r in rows]
    return {
        "dataset": "qasper", "mode": "library", "library_papers": len(ids), "papers": len(asked_ids),
        "skipped": skip, "model": engine.name, "answer_style": assistant.style.name,
        **score(evaluator, gold, predicted, own),
        "retrieval_top1": share([r["gold_rank"] == 1 for r in answerable]),
        "retrieval_top3": share([0 < r["gold_rank"] <= 3 for r in answerable]),
        "gold_paper_cited": share([r["gold_cited"] for r in answerable]),
        "seconds_per_question": round(statistics.mean(secs), 2) if secs else None,
        "ttft_s": round(statistics.median([r["ttft_s"] for r in rows]), 2) if rows else None,
        "import_s": round(import_s, 2),
        "passage_demos": assistant.request().passage_demos, "papers_with_demonstrations": kept,
        **({"confidence": confidence_report(per_question(evaluator, gold, predicted), rows)}
           if any(r["confidence"] is not None for r in rows) else {}),
    }


def _ask_all(assistant, lib, data, asked_ids, predictions_out, on_progress) -> list[dict]:
    rows = []
    out = open(predictions_out, "w", encoding="utf-8") if predictions_out else None
    try:
        for pi, arxiv_id in enumerate(asked_ids):
            gold_pid = f"qasper:{arxiv_id}"
            for qid, question in qasper.questions(data[arxiv_id]):
                candidates = passage_qa.candidate_papers(lib, question, Scope(), most=10)
                rank = candidates.index(gold_pid) + 1 if gold_pid in candidates else 0
                try:
                    ans = assistant.ask_library(question)
                    pred, raw, t = qasper.prediction(ans), ans.raw, ans.timings
                    cited = sorted({c.paper_id for c in ans.citations if c.verified})
                    conf, sig = ans.confidence, ans.trace.signals
                    demos, read = ans.trace.demos, ans.trace.papers
                except ReaderError as exc:  # no paper matches: an unanswered question
                    pred, raw, t, cited = {"answer": "Unanswerable", "evidence": []}, "", None, []
                    conf, sig, demos, read = None, None, [], []
                    if on_progress:
                        on_progress(f"  {exc}")
                row = {"question_id": qid, "mode": "library", "paper": arxiv_id, "question": question,
                       "predicted_answer": pred["answer"], "predicted_evidence": pred["evidence"], "raw": raw,
                       "model_answer": parse_answer(raw).answer, "ttft_s": t.ttft_s if t else 0.0,
                       "total_s": t.total_s if t else 0.0, "gold_rank": rank, "gold_cited": gold_pid in cited,
                       "cited_papers": cited, "papers_read": read, "style": assistant.style.name, "demos": demos,
                       "confidence": conf, "signals": sig}
                rows.append(row)
                if out:
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                if on_progress:
                    on_progress(f"[{pi + 1}/{len(asked_ids)}] rank {rank} {question[:60]!r} -> {pred['answer'][:70]!r}")
    finally:
        if out:
            out.close()
    return rows
