"""KV prefix-state caches: the file format, corruption, LRU size caps, and reuse with the
real model in-process and across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest

from reader_app.llm.kvcache import DiskKVCache, PrefixState, RamLRU, file_sha256, prefix_key
from reader_app.llm.model_files import embedded_model_path

REPO = Path(__file__).resolve().parents[1]
MODEL = embedded_model_path()
needs_model = pytest.mark.skipif(MODEL is None, reason="embedded model not installed")


def state(n_tokens: int, nbytes: int, seed: int = 0) -> PrefixState:
    return PrefixState(tokens=[(i * 7 + seed) % 50000 for i in range(n_tokens)], data=os.urandom(nbytes))


# ---------------------------------------------------------------- disk cache, no model


def test_disk_round_trip(tmp_path):
    cache = DiskKVCache(tmp_path, cap_bytes=10_000_000)
    s = state(100, 5000)
    key = prefix_key("gguf:abc", s.tokens)
    path = cache.put("gguf:abc", key, s)
    assert path is not None and path.exists()
    got = cache.get("gguf:abc", key, s.tokens)
    assert got is not None and got.tokens == s.tokens and got.data == s.data
    assert cache.get("gguf:other-model", key, s.tokens) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # written atomically, no leftovers


def test_stale_temporaries_of_dead_writers_are_swept(tmp_path):
    cache = DiskKVCache(tmp_path, cap_bytes=10_000_000)
    old, fresh = tmp_path / ".a-b.kv.0123abcd.tmp", tmp_path / ".a-c.kv.4567cdef.tmp"
    old.write_bytes(b"half")
    fresh.write_bytes(b"in progress")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    cache.evict()
    assert not old.exists() and fresh.exists()


def test_prefix_key_depends_on_model_tokens_and_extra():
    toks = [1, 2, 3]
    assert prefix_key("m1", toks) != prefix_key("m2", toks)
    assert prefix_key("m1", toks) != prefix_key("m1", [1, 2, 4])
    assert prefix_key("m1", toks, "n_ctx=2048") != prefix_key("m1", toks, "n_ctx=4096")
    assert prefix_key("m1", toks) == prefix_key("m1", list(toks))


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
def test_damaged_file_is_a_miss_and_is_deleted(tmp_path, damage):
    cache = DiskKVCache(tmp_path, cap_bytes=10_000_000)
    s = state(50, 4000)
    key = prefix_key("m", s.tokens)
    path = cache.put("m", key, s)
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[-100] ^= 0xFF
    elif damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "garbage":
        raw = bytearray(os.urandom(len(raw)))
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    assert cache.get("m", key, s.tokens) is None
    assert not path.exists()


def test_token_mismatch_is_a_miss(tmp_path):
    cache = DiskKVCache(tmp_path, cap_bytes=10_000_000)
    s = state(50, 100)
    key = prefix_key("m", s.tokens)
    cache.put("m", key, s)
    assert cache.get("m", key, s.tokens[:-1] + [999]) is None


def test_size_cap_evicts_least_recently_used(tmp_path):
    cache = DiskKVCache(tmp_path, cap_bytes=25_000)
    keys = []
    for i in range(3):
        s = state(10, 10_000, seed=i)
        k = prefix_key("m", s.tokens)
        cache.put("m", k, s)
        keys.append((k, s))
        t = time.time() - 100 + i  # distinct, increasing mtimes
        os.utime(cache.path_for("m", k), (t, t))
    # 3 x ~10 KB > 25 KB: the oldest went when the third was written
    assert not cache.path_for("m", keys[0][0]).exists()
    assert cache.path_for("m", keys[1][0]).exists() and cache.path_for("m", keys[2][0]).exists()
    assert cache.total_bytes() <= 25_000
    # a hit refreshes: reading #1 makes #2 the least recently used
    assert cache.get("m", keys[1][0], keys[1][1].tokens) is not None
    s = state(10, 10_000, seed=9)
    k = prefix_key("m", s.tokens)
    cache.put("m", k, s)
    assert cache.path_for("m", keys[1][0]).exists()
    assert not cache.path_for("m", keys[2][0]).exists()
    assert cache.path_for("m", k).exists()


def test_state_bigger_than_cap_is_not_written(tmp_path):
    cache = DiskKVCache(tmp_path, cap_bytes=1000)
    s = state(10, 5000)
    assert cache.put("m", prefix_key("m", s.tokens), s) is None
    assert cache.files() == []


def test_ram_lru_bounds_items_and_bytes():
    lru = RamLRU(max_items=2, max_bytes=25_000)
    a, b, c = state(1, 10_000, 1), state(1, 10_000, 2), state(1, 10_000, 3)
    lru.put("a", a)
    lru.put("b", b)
    assert lru.get("a") is a  # a is now most recent
    lru.put("c", c)
    assert "b" not in lru and "a" in lru and "c" in lru
    lru.put("big", state(1, 30_000))  # bigger than the byte cap: not kept
    assert "big" not in lru and len(lru) == 2
    small = RamLRU(max_items=5, max_bytes=25_000)
    for name, s in (("a", a), ("b", b), ("c", c)):
        small.put(name, s)
    assert len(small) == 2 and small.nbytes <= 25_000


def test_file_sha256_is_remembered_per_path_size_mtime(tmp_path):
    import hashlib

    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF" + b"x" * 1000)
    memo = tmp_path / "hashes.json"
    assert file_sha256(f, cache_file=memo) == hashlib.sha256(f.read_bytes()).hexdigest()
    stored = json.loads(memo.read_text())
    assert len(stored) == 1
    # the memo is used: a forged entry for the same (path, size, mtime) is returned
    ident = next(iter(stored))
    memo.write_text(json.dumps({ident: "f" * 64}))
    assert file_sha256(f, cache_file=memo) == "f" * 64
    # a changed file (size/mtime) is hashed again
    f.write_bytes(b"GGUF" + b"y" * 2000)
    assert file_sha256(f, cache_file=memo) == hashlib.sha256(f.read_bytes()).hexdigest()


# ---------------------------------------------------------------- with the real model
# (one thread: the tests' CPU is shared; the KV logic does not depend on it)

PAPER = "\n".join(
    f"[{i}] In experiment {i}, the authors trained a small transformer on {i * 1000} sentences "
    f"and measured an accuracy of {50 + i} percent on the held-out set."
    for i in range(1, 9)
)
SYSTEM = "You answer questions about the paper below. Use only the paper."

CHILD = r"""
import json, sys
from dataclasses import asdict
from reader_app.llm.llama_engine import LlamaEngine
from reader_app.llm.kvcache import DiskKVCache
eng = LlamaEngine(sys.argv[1], n_ctx=2048, threads=1, disk_cache=DiskKVCache(sys.argv[2]))
args = json.loads(sys.stdin.read())
prefix, suffix = eng.chat_prefix_suffix(args["system"], args["paper"], args["question"])
gen = eng.complete(prefix, suffix, max_tokens=args["max_tokens"])
print(json.dumps({"out": gen.text, "timings": asdict(gen.timings), "cache": gen.cache,
                  "prefix_tokens": eng.count_tokens(prefix)}))
"""


def run_child(tmp_path, question, max_tokens=12):
    env = dict(os.environ, READER_APP_CACHE_DIR=str(tmp_path / "cache"),
               READER_APP_CONFIG_DIR=str(tmp_path / "config"), PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(MODEL), str(tmp_path / "kv")],
        input=json.dumps({"system": SYSTEM, "paper": PAPER + "\n\n", "question": question,
                          "max_tokens": max_tokens}),
        capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr == ""  # llama.cpp logging is silenced
    return json.loads(proc.stdout)


@pytest.fixture
def model_env(tmp_path, monkeypatch):
    monkeypatch.setenv("READER_APP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("READER_APP_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


def new_engine(tmp_path, **kw):
    from reader_app.llm.llama_engine import LlamaEngine

    return LlamaEngine(MODEL, n_ctx=2048, threads=1, disk_cache=DiskKVCache(tmp_path / "kv"), **kw)


@needs_model
@pytest.mark.model
def test_follow_up_in_a_new_process_only_evaluates_its_own_tokens(model_env):
    tmp_path = model_env
    first = run_child(tmp_path, "What accuracy was measured in experiment 3?")
    assert first["cache"] == "eval"
    assert first["timings"]["cached_tokens"] == 0
    assert len(list((tmp_path / "kv").glob("*.kv"))) == 1
    second = run_child(tmp_path, "How many sentences were used in experiment 7?")
    n_prefix = second["prefix_tokens"]
    assert n_prefix > 128
    assert second["cache"] == "disk"
    assert second["timings"]["cached_tokens"] == n_prefix
    assert second["timings"]["prompt_tokens"] > n_prefix
    # the same question again in a third process: same answer as computed from scratch
    again = run_child(tmp_path, "What accuracy was measured in experiment 3?")
    assert again["cache"] == "disk" and again["timings"]["cached_tokens"] == n_prefix
    assert again["out"] == first["out"]


@needs_model
@pytest.mark.model
def test_in_process_reuse_from_context_then_ram(model_env):
    tmp_path = model_env
    eng = new_engine(tmp_path)
    try:
        p, s1 = eng.chat_prefix_suffix(SYSTEM, PAPER + "\n\n", "Which experiment used 5000 sentences?")
        _, s2 = eng.chat_prefix_suffix(SYSTEM, PAPER + "\n\n", "What was the accuracy in experiment 2?")
        n_prefix = eng.count_tokens(p)
        g = eng.complete(p, s1, max_tokens=8)
        a1 = g.text
        assert g.cache == "eval" and g.timings.cached_tokens == 0
        g = eng.complete(p, s2, max_tokens=8)
        assert g.cache == "kv" and g.timings.cached_tokens >= n_prefix
        # another paper evicts this one from the context, but its state is in RAM
        other, s3 = eng.chat_prefix_suffix("Different system text.", PAPER.replace("transformer", "LSTM"), "Hi?")
        g = eng.complete(other, s3, max_tokens=4)
        assert g.timings.cached_tokens < n_prefix
        g = eng.complete(p, s1, max_tokens=8)
        assert g.text == a1
        assert g.cache == "ram"
        assert g.timings.cached_tokens == n_prefix
        assert g.timings.prompt_tokens == n_prefix + eng.count_tokens(s1)
    finally:
        eng.close()


@needs_model
@pytest.mark.model
def test_corrupt_state_file_is_ignored_and_rebuilt(model_env):
    tmp_path = model_env
    eng = new_engine(tmp_path)
    p, s = eng.chat_prefix_suffix(SYSTEM, PAPER + "\n\n", "What accuracy was measured in experiment 4?")
    try:
        g = eng.complete(p, s, max_tokens=8)
        answer = g.text
    finally:
        eng.close()
    (path,) = list((tmp_path / "kv").glob("*.kv"))
    good = path.read_bytes()
    raw = bytearray(good)
    for i in range(200, len(raw), 4096):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    eng = new_engine(tmp_path)
    try:
        g = eng.complete(p, s, max_tokens=8)
        assert g.text == answer
        assert g.cache == "eval" and g.timings.cached_tokens == 0
    finally:
        eng.close()
    assert path.exists() and path.read_bytes() == good  # rebuilt, identical state
    eng = new_engine(tmp_path)
    try:
        g = eng.complete(p, s, max_tokens=8)
        assert g.text == answer
        assert g.cache == "disk"
    finally:
        eng.close()


@needs_model
@pytest.mark.model
def test_engine_disk_cache_respects_size_cap(model_env):
    tmp_path = model_env
    probe = new_engine(tmp_path)
    p1, s = probe.chat_prefix_suffix(SYSTEM, PAPER + "\n\n", "Q?")
    g = probe.complete(p1, s, max_tokens=1)
    probe.close()
    (first,) = list((tmp_path / "kv").glob("*.kv"))
    one = first.stat().st_size
    t = time.time() - 60
    os.utime(first, (t, t))
    from reader_app.llm.llama_engine import LlamaEngine

    eng = LlamaEngine(MODEL, n_ctx=2048, threads=1,
                      disk_cache=DiskKVCache(tmp_path / "kv", cap_bytes=int(one * 1.5)))
    try:
        p2, s2 = eng.chat_prefix_suffix(SYSTEM, PAPER.replace("accuracy", "F1 score") + "\n\n", "Q?")
        g = eng.complete(p2, s2, max_tokens=1)
    finally:
        eng.close()
    files = list((tmp_path / "kv").glob("*.kv"))
    assert len(files) == 1 and files[0] != first
    assert sum(f.stat().st_size for f in files) <= one * 1.5


@needs_model
@pytest.mark.model
def test_shared_base_is_cached_apart_and_new_demonstrations_do_not_reread_the_paper(model_env):
    tmp_path = model_env
    eng = new_engine(tmp_path)
    try:
        base, _ = eng.chat_prefix_suffix(SYSTEM, PAPER + "\n\n", "")
        demos_a = "Examples:\nQuestion: Which model?\nEvidence: [1]\nAnswer: a transformer\n"
        demos_b = "Examples:\nQuestion: How many layers?\nEvidence: [2]\nAnswer: six layers\n"
        p_a, s = eng.chat_prefix_suffix(SYSTEM, PAPER + "\n\n" + demos_a, "Which experiment used 5000 sentences?")
        p_b, _ = eng.chat_prefix_suffix(SYSTEM, PAPER + "\n\n" + demos_b, "Which experiment used 5000 sentences?")
        n_base, n_b = eng.count_tokens(base), eng.count_tokens(p_b)
        assert p_a.startswith(base) and p_b.startswith(base)
        g = eng.complete(p_a, s, max_tokens=6, base=base)
        first = g.text
        assert g.cache == "eval" and g.timings.cached_tokens == 0
        g = eng.complete("Something else entirely.", "Hi?", max_tokens=2)  # the context moves on
        g = eng.complete(p_b, s, max_tokens=6, base=base)  # new demonstrations: only they are read
        assert g.timings.cached_tokens >= n_base - 4 and g.timings.cached_tokens < n_b
    finally:
        eng.close()
    again = new_engine(tmp_path)  # a new process: the paper's state comes from the disk
    try:
        demos_c = "Examples:\nQuestion: Which optimizer?\nEvidence: [3]\nAnswer: Adam\n"
        p_c, _ = again.chat_prefix_suffix(SYSTEM, PAPER + "\n\n" + demos_c, "Which experiment used 5000 sentences?")
        g = again.complete(p_c, s, max_tokens=6, base=base)
        assert g.cache == "eval" and g.timings.cached_tokens >= n_base - 4
        g = again.complete(p_a, s, max_tokens=6)
        assert g.text == first and g.cache == "disk"
        # a zero-shot question (its prefix is the paper alone) finds the paper's state too
        g = again.complete("Something else entirely.", "Hi?", max_tokens=2)
        g = again.complete(base, s, max_tokens=4, base=base)
        assert g.timings.cached_tokens >= n_base - 4
    finally:
        again.close()
    third = new_engine(tmp_path)  # ... and demonstrations written after it find the zero-shot state
    try:
        (tmp_path / "kv").mkdir(exist_ok=True)
        for f in (tmp_path / "kv").glob("*.kv"):
            f.unlink()
        g = third.complete(base, s, max_tokens=2, base=base)  # saves the paper's state as a zero-shot prompt
        g = third.complete("Something else entirely.", "Hi?", max_tokens=2)
        g = third.complete(p_b, s, max_tokens=4, base=base)
        assert g.timings.cached_tokens >= n_base - 4
    finally:
        third.close()
