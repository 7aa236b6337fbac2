"""ProcessEngine throughput of two checkouts, alternating (not a test): prints new/old ratios.

Measures, from the caller's side of ``ProcessEngine.generate`` (so the child-process
protocol's cost is included): prompt tokens/s (prompt tokens / time to the first piece)
and generation tokens/s (pieces after the first / time after the first), with the
embedded model, a ~300-token prompt and 64 generated tokens.  Each round runs OLD then
NEW (or NEW then OLD, alternating) in fresh processes; each process warms up once and
takes the median of ``--reps`` runs.

    python tests/bench/bench_child.py --old ../old-checkout --new . [--rounds 4] [--reps 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

WORKER = r"""
import json, statistics, sys, time
try:
    from reader_app.llm.process_engine import ProcessEngine
except ImportError:  # a checkout from before the model had its own package (issue N)
    from reader_app.assistant.engine_process import ProcessEngine
a = json.loads(sys.argv[1])
eng = ProcessEngine(model_path=a["model"], n_ctx=2048, threads=a["threads"], disk_cache=False, ram_states=0)
def run(i):
    text = " ".join(f"Run {i}: in experiment {k} the model reached {50 + (k * 7 + i) % 40} percent "
                    f"on {k * 100 + i} examples." for k in range(16))
    prefix, suffix = eng.chat_prefix_suffix("You are a helpful assistant.", text,
                                            "Count from one to one hundred in words, one per line.")
    n_prompt = eng.count_tokens(prefix + suffix)
    t0 = time.perf_counter(); first = None; n = 0
    run_one = eng.generate if hasattr(eng, "generate") else eng.stream  # (checkouts before and after N)
    for _ in run_one(prefix, suffix, max_tokens=a["max_tokens"]):
        if first is None:
            first = time.perf_counter()
        n += 1
    end = time.perf_counter()
    return n_prompt / (first - t0), (n - 1) / (end - first), n
run(0)
res = [run(i + 1) for i in range(a["reps"])]
eng.close()
print(json.dumps({"prompt_tps": statistics.median(r[0] for r in res),
                  "gen_tps": statistics.median(r[1] for r in res), "n": min(r[2] for r in res)}))
"""


def measure(repo: Path, args) -> dict:
    payload = json.dumps({"model": args.model, "threads": args.threads, "reps": args.reps,
                          "max_tokens": args.max_tokens})
    env = dict(os.environ, PYTHONPATH=str(repo))
    proc = subprocess.run([sys.executable, "-c", WORKER, payload], capture_output=True, text=True, env=env,
                          cwd=repo, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"{repo}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from reader_app.llm.model_files import embedded_model_path

    ap = argparse.ArgumentParser()
    ap.add_argument("--old", type=Path, required=True)
    ap.add_argument("--new", type=Path, default=Path(__file__).resolve().parents[2])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=64)
    args = ap.parse_args()
    args.model = str(embedded_model_path())
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    for r in range(args.rounds):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        for which in order:
            res = measure(args.old if which == "old" else args.new, args)
            runs[which].append(res)
            print(f"round {r + 1} {which}: prompt {res['prompt_tps']:.0f} tok/s, "
                  f"generation {res['gen_tps']:.1f} tok/s ({res['n']} tokens)", flush=True)
    for key, label in (("prompt_tps", "prompt"), ("gen_tps", "generation")):
        ratios = [n[key] / o[key] for o, n in zip(runs["old"], runs["new"])]
        old = statistics.median(x[key] for x in runs["old"])
        new = statistics.median(x[key] for x in runs["new"])
        print(f"{label}: old {old:.1f} tok/s, new {new:.1f} tok/s, new/old {new / old:.3f} "
              f"(per round {min(ratios):.3f}..{max(ratios):.3f})")


if __name__ == "__main__":
    main()
