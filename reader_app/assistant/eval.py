"""``reader-app eval qasper``: answer QASPER dev questions and score them with the official metric.

The first N papers in file order are loaded straight into ``Paper`` objects (qasper.py)
and every question is asked with the chosen mode.  The predicted answer is the
assistant's answer (``"Unanswerable"`` when it says the paper does not answer, which is
QASPER's label for that case); the predicted evidence is the text of the verified
cited paragraphs.  Scores come from the official ``qasper_evaluator`` (Answer F1,
Evidence F1, Answer F1 by answer type).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from reader_app.assistant import qasper
from reader_app.assistant.doubledipper import Assistant
from reader_app.assistant.prompts import MODES
from reader_app.core.errors import BadInput


def prediction(answer) -> dict:
    if not answer.answerable:
        return {"answer": "Unanswerable", "evidence": []}
    return {"answer": answer.answer, "evidence": [c.text for c in answer.citations if c.verified]}


def run_eval(engine, path: str, *, papers: int | None = None, mode: str = "doubledipper", k: int = 3,
             predictions_out: str | None = None,
             on_progress: Callable[[str], None] | None = None, use_grammar: bool = False) -> dict:
    if mode not in MODES:
        raise BadInput(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if papers is not None and papers < 1:
        raise BadInput("--papers must be at least 1")
    evaluator = qasper.load_evaluator(path)  # fail early, before any model time is spent
    data = qasper.load_dataset(path)
    ids = list(data)[: papers or len(data)]
    subset = {i: data[i] for i in ids}
    assistant = Assistant(engine, None, k=k, use_grammar=use_grammar)
    predicted: dict[str, dict] = {}
    first, follow = [], []
    start = time.perf_counter()
    out = open(predictions_out, "w", encoding="utf-8") if predictions_out else None
    try:
        for pi, arxiv_id in enumerate(ids):
            paper = qasper.paper_from_qasper(arxiv_id, data[arxiv_id])
            for qi, (qid, question) in enumerate(qasper.questions(data[arxiv_id])):
                ans = assistant.ask(paper, question, mode=mode, k=k)
                predicted[qid] = prediction(ans)
                (first if qi == 0 else follow).append(ans.timings.ttft_s)
                if out:
                    out.write(json.dumps({"question_id": qid, "predicted_answer": predicted[qid]["answer"],
                                          "predicted_evidence": predicted[qid]["evidence"],
                                          "question": question, "raw": getattr(ans, "raw", ""),
                                          "ttft_s": ans.timings.ttft_s}) + "\n")
                    out.flush()
                if on_progress:
                    on_progress(f"[{pi + 1}/{len(ids)}] {question[:60]!r} -> {predicted[qid]['answer'][:60]!r}")
    finally:
        if out:
            out.close()
    gold = evaluator.get_answers_and_evidence(subset, False)
    scores = evaluator.evaluate(gold, predicted)
    mean = (lambda xs: round(sum(xs) / len(xs), 4) if xs else None)
    return {
        "dataset": "qasper",
        "papers": len(ids),
        "questions": len(predicted),
        "mode": mode,
        "model": engine.name,
        "answer_f1": round(scores["Answer F1"], 4),
        "evidence_f1": round(scores["Evidence F1"], 4),
        "by_type": {t: round(v, 4) for t, v in scores["Answer F1 by type"].items()},
        "seconds": round(time.perf_counter() - start, 1),
        "ttft_first_s": mean(first),
        "ttft_followup_s": mean(follow),
    }
