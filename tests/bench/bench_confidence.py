"""What the confidence costs (not a test): generation speed with the per-token probabilities
against without them, on one engine in one run, alternating; prints the ratio.

The default confidence reads each generated token's log-probability (one softmax over the
vocabulary per token) and the ten likeliest first tokens.  This runs the same prompt with
that reading on and off (``LlamaEngine._logprob``/``_top`` replaced by constants for "off"),
alternating, and reports the median generation tokens/s of each and their ratio.  The
self-check and sampled answers cost whole model calls instead: their seconds per answer
are in the rows of ``reader-app eval qasper --probe --samples N`` (``check_s``) and
summed up in docs/evaluation.md.

    python tests/bench/bench_confidence.py [--model PATH] [--rounds 6] [--tokens 64] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2])]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="a GGUF (default: the embedded model)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    from reader_app.llm.llama_engine import LlamaEngine
    from reader_app.llm.model_files import embedded_model_path

    eng = LlamaEngine(args.model or embedded_model_path(), n_ctx=2048, threads=args.threads, disk_cache=False,
                      ram_states=0)
    real = (eng._logprob, eng._top)  # noqa: SLF001 - the bench switches them off on purpose
    off = (lambda _ll, _t: 0.0, lambda _ll, k=10: [])
    text = " ".join(f"In experiment {k} the model reached {50 + k * 7 % 40} percent on {k * 100} examples."
                    for k in range(12))
    prefix, suffix = eng.chat_prefix_suffix("You are a helpful assistant.", text,
                                            "Count from one to one hundred in words, one per line.")
    speeds: dict[str, list[float]] = {"on": [], "off": []}
    eng.complete(prefix, suffix, max_tokens=8)  # warm up
    for r in range(args.rounds):
        for mode in (("on", "off") if r % 2 == 0 else ("off", "on")):
            eng._logprob, eng._top = real if mode == "on" else off  # noqa: SLF001
            first = None
            n = 0
            gen = eng.generate(prefix, suffix, max_tokens=args.tokens)
            for _ in gen:
                if first is None:
                    first = time.perf_counter()
                n += 1
            speeds[mode].append((n - 1) / (time.perf_counter() - first))
            if mode == "on":
                assert len(gen.logprobs) >= n and len(gen.first_top) == 10
    eng.close()
    on, off_ = statistics.median(speeds["on"]), statistics.median(speeds["off"])
    print(f"model {eng.name}: generation {on:.1f} tok/s with the probabilities, {off_:.1f} without: "
          f"ratio {on / off_:.3f} ({args.rounds} rounds alternating, {args.tokens} tokens, {args.threads} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
