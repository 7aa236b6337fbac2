"""KV format speed at a long prefix: prompt tokens/s over ~5k tokens, a follow-up question's
TTFT on the cached prefix, and generation tokens/s at that context.

Usage: python tests/bench/kv/kvlong.py REPS [FORMAT,...] (f16 must be among them); the eval
model comes from ../shared/models/fetch-eval-model.  Writes kvlong-HHMM.json beside itself."""
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))
sys.path.insert(0, str(HERE.parent))
import bench_kv as b  # noqa: E402

model = b.eval_model()
labels = sys.argv[2].split(",") if len(sys.argv) > 2 else ["f16", "f16+fa", "q8_0/q4_0", "q8_0/q8_0"]
engines = {k: b.engine(model, b.FORMATS[k], 8192, 2) for k in labels}
first = engines["f16"]
best = max(b.prefixes(first, 5000), key=lambda np_: first.count_tokens(np_[1]))
name, prefix = best
suffix = first.chat_prefix_suffix(b.prompts.system_for("zero-shot"), "", "What dataset do they use? Answer in one sentence.")[1]
suffix2 = first.chat_prefix_suffix(b.prompts.system_for("zero-shot"), "", "Summarize the method in detail.")[1]
out = {}
for rep in range(int(sys.argv[1]) if len(sys.argv) > 1 else 1):
    for k in (labels if rep % 2 == 0 else labels[::-1]):
        eng = engines[k]
        eng.states.truncate(0)
        t1 = eng.complete(prefix, "", max_tokens=0).timings  # the prefix alone
        t2 = eng.complete(prefix, suffix2, max_tokens=48).timings  # follow-up on the cached prefix
        row = {"format": k, "paper": name, "prefix_tokens": t1.prompt_tokens, "prefix_tps": t1.prompt_tokens / t1.total_s,
               "followup_new_tokens": t2.prompt_tokens - t2.cached_tokens, "followup_ttft_s": t2.ttft_s,
               "gen_tps_long": (t2.completion_tokens - 1) / max(1e-9, t2.total_s - t2.ttft_s)}
        out.setdefault(k, []).append(row)
        print(json.dumps(row), flush=True)
(HERE / ("kvlong-%s.json" % time.strftime("%H%M"))).write_text(json.dumps(out, indent=1))
