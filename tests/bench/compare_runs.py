"""Two saved QASPER runs of the same mode, question by question (not a test): Answer F1 and
Evidence F1 of each on the questions both answered, and the paired bootstrap of the
difference (run B - run A), e.g. quantized KV states against f16.

    python tests/bench/compare_runs.py A.jsonl[.gz] B.jsonl[.gz] [--data ../shared/qasper/qasper-dev.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from reader_app.assistant.eval_report import paired_bootstrap, read_predictions, score  # noqa: E402
from reader_app.assistant.qasper import load_dataset, load_evaluator  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "qasper" / "qasper-dev.json"))
    args = ap.parse_args()
    evaluator = load_evaluator(args.data)
    gold = evaluator.get_answers_and_evidence(load_dataset(args.data), False)
    runs = []
    for path in (args.a, args.b):
        rows = [r for rs in read_predictions([path]).values() for r in rs]
        runs.append({r["question_id"]: r for r in rows})
    common = sorted(set(runs[0]) & set(runs[1]) & set(gold))
    out = {"questions": len(common), "papers": len({runs[0][q]["paper"] for q in common})}
    per = []
    for name, run in zip(("a", "b"), runs):
        preds = {q: {"answer": run[q]["predicted_answer"], "evidence": run[q].get("predicted_evidence") or []}
                 for q in common}
        out[name] = score(evaluator, gold, preds)
        one = {q: evaluator.evaluate({q: gold[q]}, {q: preds[q]}) for q in common}
        per.append(({q: s["Answer F1"] for q, s in one.items()}, {q: s["Evidence F1"] for q, s in one.items()}))
    out["answer_f1_b_minus_a"] = paired_bootstrap(per[1][0], per[0][0])
    out["evidence_f1_b_minus_a"] = paired_bootstrap(per[1][1], per[0][1])
    out["same_answer"] = sum(runs[0][q]["predicted_answer"] == runs[1][q]["predicted_answer"] for q in common)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
