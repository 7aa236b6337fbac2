"""``reader-app eval qasper``: answer QASPER dev questions and score them with the official metric.

The first N papers in file order (after ``skip`` papers, so that runs can be split) are loaded straight into ``Paper`` objects (qasper.py)
and every question is asked with the chosen mode.  The predicted answer is the
assistant's answer (``"Unanswerable"`` when it says the paper does not answer, which is
QASPER's label for that case); the predicted evidence is the text of the verified
cited paragraphs.  Scores come from the official ``qasper_evaluator`` (Answer F1,
Evidence F1, Answer F1 by answer type).

Quick answers recycle demonstrations (``passage_demos``: own, library or none; recycled.py)
from those kept for prepared papers.  ``demos_from`` stands in for a library of prepared
papers: ``--predictions`` files of doubledipper runs, whose rows keep the demonstrations
each paper's preparation wrote.  ``ranker``: passages by another ranking than BM25 (e.g.
``hybrid.hybrid_ranker``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from reader_app.assistant import qasper
from reader_app.assistant.service import Assistant
from reader_app.assistant.eval_report import (confidence_report, per_question, paired_bootstrap, read_predictions,
                                              score)
from reader_app.assistant.prompts import MODES
from reader_app.assistant.reply import parse_answer
from reader_app.core.errors import BadInput

EVAL_MODES = (*MODES, "quick")  # quick: answers from the best passages (passage_qa.py)


def run_eval(engine, path: str, *, papers: int | None = None, skip: int = 0, mode="doubledipper", k: int = 3,
             predictions_out: str | None = None,
             on_progress: Callable[[str], None] | None = None, use_grammar: bool = True,
             max_window_tokens: int | None = None, evidence_candidates: int | None = None,
             answer_style: str | None = None, probe: bool | None = None, samples: int | None = None,
             passage_demos: str | None = None, demos_from: list[str] | None = None, ranker=None,
             ttft: float | None = None, passage_tokens: int | None = None):
    """Score one mode (``mode="zero-shot"`` -> one result dict) or several (a list -> a list).
    ``ttft``: the first-token target of quick answers' passage budget (None: the
    ``answer_ttft_s`` setting); a quick result reports the budget and the passages' tokens.

    With several modes each paper is answered in every mode before the next paper, so
    the modes share the paper's system + paper KV state (one read of the paper).
    """
    modes = [mode] if isinstance(mode, str) else list(mode)
    for m in modes:
        if m not in EVAL_MODES:
            raise BadInput(f"unknown mode {m!r}; choose one of {', '.join(EVAL_MODES)}")
    if papers is not None and papers < 1:
        raise BadInput("--papers must be at least 1")
    if skip < 0:
        raise BadInput("--skip must be 0 or more")
    if ttft is not None and not 0 < ttft < float("inf"):
        raise BadInput("--ttft must be a number of seconds above 0")
    evaluator = qasper.load_evaluator(path)  # fail early, before any model time is spent
    data = qasper.load_dataset(path)
    ids = list(data)[skip:][: papers or len(data)]
    if not ids:
        raise BadInput(f"--skip {skip} passes over all {len(data)} papers")
    subset = {i: data[i] for i in ids}
    assistant = Assistant(engine, None, k=k, use_grammar=use_grammar, max_window_tokens=max_window_tokens,
                          evidence_candidates=evidence_candidates, answer_style=answer_style, probe=probe,
                          samples=samples, passage_demos=passage_demos, ranker=ranker,
                          answer_ttft_s=ttft, passage_tokens=passage_tokens)
    kept = keep_demonstrations(assistant, data, demos_from) if demos_from else 0
    predicted: dict[str, dict[str, dict]] = {m: {} for m in modes}
    own: dict[str, dict[str, str]] = {m: {} for m in modes}  # the model's own Answer: line
    first: dict[str, list] = {m: [] for m in modes}
    follow: dict[str, list] = {m: [] for m in modes}
    seconds = {m: 0.0 for m in modes}
    rows: dict[str, list[dict]] = {m: [] for m in modes}  # confidence and signals per answer
    budgets: dict[str, list[tuple[int, int]]] = {m: [] for m in modes}  # (passage budget, tokens) per answer
    out = open(predictions_out, "w", encoding="utf-8") if predictions_out else None
    try:
        for pi, arxiv_id in enumerate(ids):
            paper = qasper.paper_from_qasper(arxiv_id, data[arxiv_id])
            for m in modes:
                t0 = time.perf_counter()
                for qi, (qid, question) in enumerate(qasper.questions(data[arxiv_id])):
                    ans = (assistant.ask_quick(paper, question) if m == "quick"
                           else assistant.ask(paper, question, mode=m, k=k))
                    pred = predicted[m][qid] = qasper.prediction(ans)
                    rows[m].append({"question_id": qid, "confidence": ans.confidence,
                                    "signals": ans.trace.signals, "check_s": round(ans.trace.check_s, 4)})
                    own[m][qid] = parse_answer(getattr(ans, "raw", "")).answer
                    (first[m] if qi == 0 else follow[m]).append(ans.timings.ttft_s)
                    budgets[m].append((ans.trace.passage_budget, ans.trace.passage_tokens))
                    if out:
                        demos = ans.trace.demos
                        out.write(json.dumps({"question_id": qid, "mode": m, "paper": arxiv_id,
                                              "predicted_answer": pred["answer"],
                                              "predicted_evidence": pred["evidence"], "question": question,
                                              "raw": getattr(ans, "raw", ""), "model_answer": own[m][qid],
                                              "ttft_s": ans.timings.ttft_s, "total_s": ans.timings.total_s,
                                              "style": assistant.style.name, "demos": demos,
                                              **rows[m][-1],
                                              "logprobs": [[t, round(lp, 4)] for t, lp in ans.trace.logprobs]})
                              + "\n")
                        out.flush()
                    if on_progress:
                        on_progress(f"[{pi + 1}/{len(ids)}] {m}: {question[:60]!r} -> {pred['answer'][:70]!r}")
                seconds[m] += time.perf_counter() - t0
    finally:
        if out:
            out.close()
    gold = evaluator.get_answers_and_evidence(subset, False)
    mean = (lambda xs: round(sum(xs) / len(xs), 4) if xs else None)
    f1s = {m: per_question(evaluator, gold, predicted[m]) for m in modes}
    results = []
    for m in modes:
        result = {
            "dataset": "qasper",
            "papers": len(ids),
            "skipped": skip,
            "mode": m,
            "model": engine.name,
            "answer_style": assistant.style.name,
            "evidence_candidates": assistant.evidence_candidates,
            **score(evaluator, gold, predicted[m], own[m]),
            "seconds": round(seconds[m], 1),
            "seconds_per_paper": round(seconds[m] / len(ids), 1),
            "ttft_first_s": mean(first[m]),
            "ttft_followup_s": mean(follow[m]),
        }
        if any(r["confidence"] is not None for r in rows[m]):
            result["confidence"] = confidence_report(f1s[m], rows[m])
        if m == "doubledipper":
            result["demonstrations"] = dict(assistant.demo_log)
        if m == "quick":
            result["passage_demos"] = assistant.request().passage_demos
            result["papers_with_demonstrations"] = kept
            speed = assistant.prompt_speed
            result.update({"answer_ttft_s": assistant.answer_ttft_s,
                           "passage_budget": mean([b for b, _ in budgets[m]]),
                           "passage_tokens": mean([t for _, t in budgets[m]]),
                           "prompt_tokens_per_s": round(speed, 1) if speed else None})
        if m != "zero-shot" and "zero-shot" in modes:
            result["vs_zero-shot"] = paired_bootstrap(f1s[m], f1s["zero-shot"])
        results.append(result)
    return results[0] if isinstance(mode, str) else results


def keep_demonstrations(assistant: Assistant, data: dict, paths: list[str]) -> int:
    """Keep the demonstrations saved in doubledipper ``--predictions`` files as if their
    papers had been prepared with this model; returns how many papers got some."""
    per: dict[str, list[dict]] = {}
    for row in read_predictions(paths).get("doubledipper", []):
        seen = per.setdefault(str(row.get("paper")), [])
        for d in row.get("demos") or []:
            if isinstance(d, dict) and d not in seen:
                seen.append(d)
    kept = 0
    for arxiv_id, demos in per.items():
        if arxiv_id in data and demos:
            paper = qasper.paper_from_qasper(arxiv_id, data[arxiv_id])
            assistant.store.save_demonstrations(paper, assistant.model_key, "recycled", demos)
            kept += 1
    return kept
