"""KV cache formats (not a test): f16 against quantized K/V with the 1.5B eval model.

    python tests/bench/bench_kv.py kl      [--tokens 1024] [--last 512]   next-token KL, top-1 agreement
    python tests/bench/bench_kv.py speed   [--tokens 1024] [--reps 3]     prompt / generation tokens/s
    (--formats f16+fa,q8_0/q8_0,q8_0/q4_0: the formats compared with f16)
    python tests/bench/bench_kv.py restore [--budget 7000]                bytes per token, restore time, disk cap
    python tests/bench/bench_kv.py restore-files DIR                      the same for state files already saved

Prompts are the app's zero-shot prefixes (system prompt + the paper's first window, as
``build_windows`` cuts it) of the 7 papers in ../shared/papers.  ``kl`` compares the
next-token distributions of each format with f16 (flash attention off: what the app used
before) at the last ``--last`` of the first ``--tokens`` positions.  ``speed`` alternates
the formats run by run in one process and prints ratios to f16.  ``restore`` evaluates one
paper's prefix per format, saves its state as the app does (disk cache), and times reading
and restoring it.  Each prints one JSON object (``--out FILE`` also writes it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import llama_cpp  # noqa: E402

from reader_app import settings  # noqa: E402
from reader_app.assistant import prompts  # noqa: E402
from reader_app.assistant.windows import build_windows  # noqa: E402
from reader_app.llm.kv_states import KVFormat  # noqa: E402
from reader_app.llm.kvcache import DiskKVCache  # noqa: E402
from reader_app.llm.llama_engine import LlamaEngine  # noqa: E402
from reader_app.pdf.extract import extract_paper  # noqa: E402

PAPERS = REPO.parent / "shared" / "papers"
F16 = KVFormat("f16", "f16", False)
FORMATS = {
    "f16": F16,
    "f16+fa": KVFormat("f16", "f16", True),
    "q8_0/q8_0": KVFormat("q8_0", "q8_0", True),
    "q8_0/q4_0": KVFormat("q8_0", "q4_0", True),
}


def eval_model() -> str:
    return subprocess.run([sys.executable, "/work/shared/models/fetch-eval-model"], capture_output=True,
                          text=True, check=True).stdout.strip()


def engine(model: str, fmt: KVFormat, n_ctx: int, threads: int, disk=False) -> LlamaEngine:
    return LlamaEngine(model, n_ctx=n_ctx, threads=threads, disk_cache=disk, ram_states=0,
                       type_k=fmt.type_k, type_v=fmt.type_v, flash_attn=fmt.flash_attn)


def prefixes(eng: LlamaEngine, budget: int) -> list[tuple[str, str]]:
    out = []
    for pdf in sorted(PAPERS.glob("*.pdf")):
        paper = extract_paper(pdf)
        window = build_windows(paper, eng.count_tokens, budget)[0]
        out.append((pdf.stem, eng.chat_prefix_suffix(prompts.system_for("zero-shot"), window.text, "")[0]))
    return out


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def run_kl(model: str, threads: int, n_tokens: int, last: int, formats: list[str]) -> dict:
    probe = engine(model, F16, 8192, threads)
    toks = [(name, probe.states.tokenize_prefix(p)[:n_tokens]) for name, p in prefixes(probe, n_tokens + 256)]
    probe.close()
    rows = []
    for name, t in toks:
        ref = None
        for label in ["f16"] + [f for f in formats if f != "f16"]:
            fmt = FORMATS[label]
            ll = llama_cpp.Llama(model_path=model, n_ctx=len(t), n_batch=512, n_threads=threads,
                                 n_threads_batch=threads, logits_all=True, verbose=False, seed=0,
                                 **fmt.llama_kwargs())
            ll.eval(t)
            lp = log_softmax(np.array(ll.scores[len(t) - last : len(t)]))
            ll.close()
            if ref is None:
                ref = lp
                continue
            kl = (np.exp(ref) * (ref - lp)).sum(axis=1)
            agree = (ref.argmax(axis=1) == lp.argmax(axis=1)).mean()
            rows.append({"paper": name, "format": label, "tokens": len(t), "positions": last,
                         "kl_mean": float(kl.mean()), "kl_max": float(kl.max()), "top1": float(agree)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    summary = {}
    for label in [f for f in formats if f != "f16"]:
        mine = [r for r in rows if r["format"] == label]
        summary[label] = {"kl_mean": statistics.mean(r["kl_mean"] for r in mine),
                          "kl_max": max(r["kl_max"] for r in mine),
                          "top1": statistics.mean(r["top1"] for r in mine), "papers": len(mine)}
    return {"kind": "kl", "reference": "f16, flash attention off", "summary": summary, "rows": rows}


def run_speed(model: str, threads: int, n_tokens: int, gen: int, reps: int, labels: list[str]) -> dict:
    labels = ["f16"] + [f for f in labels if f != "f16"]
    engines = {k: engine(model, FORMATS[k], 4096, threads) for k in labels}
    first = engines["f16"]
    name, prefix = prefixes(first, n_tokens)[0]  # a first window of about n_tokens
    suffix = first.chat_prefix_suffix(prompts.system_for("zero-shot"), "", "Summarize the paper in detail.")[1]
    runs = {k: [] for k in labels}
    for rep in range(reps):
        for k in (labels if rep % 2 == 0 else labels[::-1]):
            eng = engines[k]
            eng.states.truncate(0)
            t = eng.complete(prefix, suffix, max_tokens=gen).timings
            row = {"format": k, "prompt_tokens": t.prompt_tokens, "completion_tokens": t.completion_tokens,
                   "prompt_tps": t.prompt_tokens / t.ttft_s,
                   "gen_tps": (t.completion_tokens - 1) / max(1e-9, t.total_s - t.ttft_s)}
            runs[k].append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    for eng in engines.values():
        eng.close()
    med = {k: {"prompt_tps": statistics.median(r["prompt_tps"] for r in v),
               "gen_tps": statistics.median(r["gen_tps"] for r in v)} for k, v in runs.items()}
    ratios = {k: {"prompt": med[k]["prompt_tps"] / med["f16"]["prompt_tps"],
                  "gen": med[k]["gen_tps"] / med["f16"]["gen_tps"]} for k in labels}
    return {"kind": "speed", "paper": name, "threads": threads, "reps": reps, "median": med,
            "ratio_to_f16": ratios, "runs": runs}


def run_restore(model: str, threads: int, budget: int, reps: int) -> dict:
    labels = ["f16", "q8_0/q4_0"]
    out = {}
    cap = settings.DEFAULTS["kv_disk_cap_bytes"]
    with tempfile.TemporaryDirectory() as tmp:
        probe = engine(model, F16, 8192, threads)
        name, prefix = max(prefixes(probe, budget), key=lambda np_: probe.count_tokens(np_[1]))
        probe.close()
        for k in labels:
            disk = DiskKVCache(Path(tmp) / k.replace("/", "-"), cap_bytes=cap)
            eng = engine(model, FORMATS[k], 8192, threads, disk=disk)
            t0 = time.perf_counter()
            eng.complete(prefix, "", max_tokens=0)  # as preparing a paper does: evaluate and save
            eval_s = time.perf_counter() - t0
            toks = eng.states.tokenize_prefix(prefix)
            key = eng.states.key_for(toks)
            path = disk.path_for(eng.key, key)
            reads, restores = [], []
            for _ in range(reps):
                t0 = time.perf_counter()
                state = disk.get(eng.key, key, toks, kv=eng.kv.tag)
                t1 = time.perf_counter()
                assert state is not None and eng.states.restore(state)
                t2 = time.perf_counter()
                reads.append(t1 - t0)
                restores.append(t2 - t1)
            per_token = len(state.data) / len(toks)
            out[k] = {"tokens": len(toks), "file_bytes": path.stat().st_size, "state_bytes": len(state.data),
                      "bytes_per_token": per_token, "eval_s": eval_s,
                      "read_s": statistics.median(reads), "restore_s": statistics.median(restores),
                      "mb_per_7k_paper": per_token * 7000 / 1e6,
                      "papers_in_default_cap": int(cap // (per_token * 7000))}
            print(json.dumps({k: out[k]}), file=sys.stderr, flush=True)
            eng.close()
    out["size_ratio"] = out["f16"]["bytes_per_token"] / out["q8_0/q4_0"]["bytes_per_token"]
    return {"kind": "restore", "paper": name, "cap_bytes": cap, "formats": out,
            "note": "read_s: file read + CRC check, page cache warm (just written); restore_s: llama_state_seq_set_data"}


def run_restore_files(model: str, threads: int, folder: Path, reps: int) -> dict:
    """Read and restore state files saved by the app (e.g. an eval's cache dir's kv/)."""
    cap = settings.DEFAULTS["kv_disk_cap_bytes"]
    disk = DiskKVCache(folder, cap_bytes=cap)
    rows, engines = [], {}
    for path in sorted(disk.files(), key=lambda p: -p.stat().st_size):
        state = disk.read(path)
        if state is None:
            continue
        fmt = next((f for f in FORMATS.values() if f.tag == state.kv), None)
        if fmt is None:
            continue
        if fmt not in engines:
            engines[fmt] = engine(model, fmt, 8192, threads)
        eng = engines[fmt]
        reads, restores = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            state = disk.read(path)
            t1 = time.perf_counter()
            assert eng.states.restore(state)
            t2 = time.perf_counter()
            reads.append(t1 - t0)
            restores.append(t2 - t1)
        per_token = len(state.data) / len(state.tokens)
        rows.append({"file": path.name, "kv": state.kv, "tokens": len(state.tokens), "file_bytes": path.stat().st_size,
                     "bytes_per_token": per_token, "read_s": statistics.median(reads),
                     "restore_s": statistics.median(restores), "papers_in_default_cap": int(cap // (per_token * 7000))})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    for eng in engines.values():
        eng.close()
    return {"kind": "restore-files", "folder": str(folder), "cap_bytes": cap, "rows": rows,
            "note": "read_s: file read + CRC check (page cache as found); restore_s: llama_state_seq_set_data"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["kl", "speed", "restore", "restore-files"])
    ap.add_argument("folder", nargs="?", help="restore-files: a folder of state files")
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=1024)
    ap.add_argument("--last", type=int, default=512)
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--budget", type=int, default=7000)
    ap.add_argument("--formats", default="f16+fa,q8_0/q8_0,q8_0/q4_0",
                    help=f"formats compared with f16 (kl, speed), of: {', '.join(FORMATS)}")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    model = a.model or eval_model()
    if a.what == "kl":
        res = run_kl(model, a.threads, a.tokens, a.last, a.formats.split(","))
    elif a.what == "speed":
        res = run_speed(model, a.threads, a.tokens, a.gen, a.reps, a.formats.split(","))
    elif a.what == "restore":
        res = run_restore(model, a.threads, a.budget, a.reps)
    else:
        res = run_restore_files(model, a.threads, Path(a.folder), a.reps)
    res["model"] = Path(model).name
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
