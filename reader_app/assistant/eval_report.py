"""Scores of QASPER predictions: the official metric, abstention, the paired bootstrap.

Used by ``reader-app eval qasper`` after a run, and by ``--score PRED.jsonl ...`` to score
the prediction files of runs split with ``--skip`` together, without a model.

- ``score``: Answer F1 / Evidence F1 (overall and by answer type) from the official
  evaluator; F1 of the model's own ``Answer:`` line (before the app shortens or refuses
  it); abstention: answerable questions marked "not answered", unanswerable ones answered.
- ``paired_bootstrap``: mean per-question difference of two modes with its 95% interval.
- ``confidence_report``: how well the answers' confidence tells a right answer (Answer F1
  >= 0.5) from a wrong one: AUROC with its 95% interval, the most confident half's F1 against
  the least confident half's, F1 by badge level, and the AUROC of each raw signal.
"""

from __future__ import annotations

import gzip
import json
import random
from collections import defaultdict
from pathlib import Path

from reader_app.assistant import confidence as conf
from reader_app.assistant import qasper
from reader_app.assistant.prompts import Demo
from reader_app.assistant.reply import primer as primer_of
from reader_app.assistant.style import style_named
from reader_app.core.errors import BadInput
from reader_app.core.model import Answer, Timings


def gold_kind(references: list[dict]) -> str:
    """"answerable" (no annotator says unanswerable), "unanswerable" (all do) or "mixed"."""
    none = sum(1 for r in references if r["type"] == "none")
    return "unanswerable" if none == len(references) else "answerable" if none == 0 else "mixed"


def per_question(evaluator, gold: dict, predicted: dict) -> dict[str, float]:
    """{question_id: Answer F1} with the official metric (max over the references)."""
    return {q: evaluator.evaluate({q: gold[q]}, {q: predicted[q]})["Answer F1"] for q in predicted if q in gold}


def paired_bootstrap(a: dict[str, float], b: dict[str, float], n: int = 10000, seed: int = 0) -> dict:
    """Mean of a - b over the questions both hold, and its 95% bootstrap interval."""
    qs = sorted(set(a) & set(b))
    if not qs:
        return {"questions": 0, "mean": None, "low": None, "high": None, "better": 0, "worse": 0}
    d = [a[q] - b[q] for q in qs]
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(d, k=len(d))) / len(d) for _ in range(n))
    return {"questions": len(qs), "mean": round(sum(d) / len(d), 4), "low": round(means[int(0.025 * n)], 4),
            "high": round(means[int(0.975 * n) - 1], 4), "better": sum(x > 0 for x in d), "worse": sum(x < 0 for x in d)}


def confidence_report(f1: dict[str, float], rows: list[dict], n: int = 2000, seed: int = 0) -> dict:
    """How well confidence separates right from wrong answers over the ``rows`` (prediction
    lines with "question_id", "confidence" and "signals") that have a confidence and an F1."""
    rs = [r for r in rows if r["question_id"] in f1 and isinstance(r.get("confidence"), (int, float))]
    if len(rs) < 4:
        return {"questions": len(rs)}
    scores = [float(r["confidence"]) for r in rs]
    f = [f1[r["question_id"]] for r in rs]
    right = [x >= 0.5 for x in f]
    rng = random.Random(seed)
    aucs, gaps = [], []
    for _ in range(n):
        idx = rng.choices(range(len(rs)), k=len(rs))
        a = conf.auroc([scores[i] for i in idx], [right[i] for i in idx])
        if a is not None:
            aucs.append(a)
        gaps.append(_half_gap([scores[i] for i in idx], [f[i] for i in idx])[2])
    aucs.sort()
    gaps.sort()
    top, bottom, gap = _half_gap(scores, f)
    levels: dict[str, list[float]] = defaultdict(list)
    for sc, x in zip(scores, f):
        levels[conf.level(sc)].append(x)
    signals = {}
    for name in ("answer_mean", "answer_min", "answer_first", "evidence_mean"):
        vals = [(r["signals"][name], ok) for r, ok in zip(rs, right) if r.get("signals")]
        a = conf.auroc([v for v, _ in vals], [ok for _, ok in vals]) if vals else None
        signals[name] = round(a, 4) if a is not None else None
    pick = (lambda xs, q: round(xs[min(len(xs) - 1, int(q * len(xs)))], 4) if xs else None)
    auc = conf.auroc(scores, right)
    return {"questions": len(rs), "right": sum(right),
            "auroc": round(auc, 4) if auc is not None else None, "auroc_low": pick(aucs, 0.025),
            "auroc_high": pick(aucs, 0.975),
            "top_half_f1": round(top, 4), "bottom_half_f1": round(bottom, 4), "half_gap": round(gap, 4),
            "half_gap_low": pick(gaps, 0.025), "half_gap_high": pick(gaps, 0.975),
            "levels": {k: {"answers": len(v), "answer_f1": round(sum(v) / len(v), 4)} for k, v in sorted(levels.items())},
            "signal_auroc": signals}


def _half_gap(scores: list[float], f1: list[float]) -> tuple[float, float, float]:
    """Mean F1 of the more confident half, of the less confident half, and their difference."""
    order = sorted(range(len(scores)), key=lambda i: (scores[i], i), reverse=True)
    half = len(order) // 2
    top = [f1[i] for i in order[:half]] or [0.0]
    bottom = [f1[i] for i in order[half:]] or [0.0]
    t, b = sum(top) / len(top), sum(bottom) / len(bottom)
    return t, b, t - b


def abstention(gold: dict, predicted: dict) -> dict:
    """How often an answerable question is marked not answered, and an unanswerable one answered."""
    counts = defaultdict(int)
    for q, pred in predicted.items():
        if q not in gold:
            continue
        kind = gold_kind(gold[q])
        refused = pred["answer"] == "Unanswerable"
        counts[kind] += 1
        counts[kind + (":refused" if refused else ":answered")] += 1
    rate = (lambda k, n: round(counts[k] / counts[n], 4) if counts[n] else None)
    return {"answerable": counts["answerable"], "answerable_not_answered": rate("answerable:refused", "answerable"),
            "unanswerable": counts["unanswerable"], "unanswerable_answered": rate("unanswerable:answered", "unanswerable")}


def score(evaluator, gold: dict, predicted: dict, model_answers: dict | None = None) -> dict:
    """Official scores of ``predicted`` ({qid: {"answer", "evidence"}}) on the ``gold`` questions it answers."""
    sub = {q: gold[q] for q in predicted if q in gold}
    s = evaluator.evaluate(sub, predicted)
    out = {"questions": len(sub), "answer_f1": round(s["Answer F1"], 4), "evidence_f1": round(s["Evidence F1"], 4),
           "by_type": {t: round(v, 4) for t, v in s["Answer F1 by type"].items()}, **abstention(gold, predicted)}
    if model_answers:
        own = {q: {"answer": model_answers.get(q) or "Unanswerable", "evidence": []} for q in sub}
        out["model_answer_f1"] = round(evaluator.evaluate(sub, own)["Answer F1"], 4)
    return out


def read_predictions(paths: list[str]) -> dict[str, list[dict]]:
    """{mode: [prediction lines]} from ``--predictions`` files (later files win for a repeated question)."""
    by_mode: dict[str, dict[str, dict]] = defaultdict(dict)
    for path in paths:
        try:
            raw = Path(path).read_bytes()
            if raw[:2] == b"\x1f\x8b":  # saved runs are kept gzipped (tests/bench/qasper/)
                raw = gzip.decompress(raw)
            lines = raw.decode("utf-8").splitlines()
        except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
            raise BadInput(f"cannot read predictions {path}: {exc}") from None
        for i, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                by_mode[row.get("mode", "?")][row["question_id"]] = row
            except (ValueError, KeyError, TypeError, AttributeError):
                raise BadInput(f"{path}:{i} is not a prediction line") from None
    return {m: list(rows.values()) for m, rows in by_mode.items()}


def reshape(rows: dict[str, list[dict]], data: dict, style: str | None = None) -> None:
    """Recompute each row's shown answer and evidence from its saved ``raw`` reply with the current
    post-processing (``answers.shape_answer``), in place: a change to parsing, shaping or
    support checks is scored on the same replies without running the model again.  The model
    saw the whole paper when it fitted one window (most QASPER papers at 8k tokens); for a
    longer paper its window is not saved, so every paragraph counts as seen.  A reply that
    does not end its line counts as cut by the token cap."""
    # deferred: both import reader_app.library (sqlite_utils), and `reader-app --help` imports this module
    from reader_app.assistant import answers, windows

    papers: dict[str, dict] = {}
    for mode, rs in rows.items():
        primer = primer_of(mode)
        for r in rs:
            pid = r.get("paper")
            if pid not in data:
                raise BadInput(f"question {r['question_id']}: paper {pid!r} is not in the data set")
            if pid not in papers:
                paper = qasper.paper_from_qasper(pid, data[pid])
                papers[pid] = {windows.number_of(p): p for p in windows.included(paper)}
            raw = r.get("raw") or ""
            reply = raw[len(primer):] if raw.startswith(primer) else raw
            demos = [Demo.from_dict(d) for d in r.get("demos") or []]
            text, ok, cites = answers.shape_answer(r["question"], reply, primer, papers[pid],
                                                   style_named(style or r.get("style") or "small"), demos,
                                                   cut=not reply.endswith("\n"))
            pred = qasper.prediction(Answer(pid, r["question"], text, ok, cites, mode, "", Timings()))
            r["predicted_answer"], r["predicted_evidence"] = pred["answer"], pred["evidence"]


def score_files(evaluator, data: dict, paths: list[str], baseline: str = "zero-shot",
                reshape_style: str | bool | None = None) -> list[dict]:
    """One result per mode found in the files, each compared with ``baseline`` (paired bootstrap).
    ``reshape_style``: recompute the shown answers from the saved replies first (``reshape``;
    True: with each row's own style, or a style name)."""
    gold = evaluator.get_answers_and_evidence(data, False)
    rows = read_predictions(paths)
    if not rows:
        raise BadInput("no predictions in " + ", ".join(paths))
    if reshape_style:
        reshape(rows, data, reshape_style if isinstance(reshape_style, str) else None)
    rescore_confidence(rows)
    preds = {m: {r["question_id"]: {"answer": r["predicted_answer"], "evidence": r.get("predicted_evidence") or []}
                 for r in rs} for m, rs in rows.items()}
    f1s = {m: per_question(evaluator, gold, p) for m, p in preds.items()}
    results = []
    for m, rs in rows.items():
        papers = {r.get("paper") for r in rs}
        secs = [r["total_s"] for r in rs if isinstance(r.get("total_s"), (int, float))]
        res = {"mode": m, "papers": len(papers), **score(evaluator, gold, preds[m],
                                                         {r["question_id"]: r.get("model_answer") for r in rs}),
               "seconds_per_paper": round(sum(secs) / len(papers), 1) if secs and papers else None}
        if m != baseline and baseline in f1s:
            res["vs_" + baseline] = paired_bootstrap(f1s[m], f1s[baseline])
        if any(r.get("signals") for r in rs):
            res["confidence"] = confidence_report(f1s[m], rs)
        results.append(res)
    return results


def rescore_confidence(rows: dict[str, list[dict]]) -> None:
    """Each saved row's confidence again from its saved signals, with today's formula."""
    for rs in rows.values():
        for r in rs:
            sig = conf.Signals.from_dict(r.get("signals"))
            if sig is not None:
                r["confidence"] = conf.confidence(sig, r.get("predicted_answer") != "Unanswerable")
