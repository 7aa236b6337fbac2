"""The KV cache's number format (K/V types, flash attention): quantized states round-trip
RAM and disk, old (version 1, f16) files are rebuilt, and a state saved in one format is
never restored into a context of another - with the embedded model."""

from __future__ import annotations

import json
import shutil
import struct

import pytest

from reader_app import settings
from reader_app.core.errors import BadInput
from reader_app.llm.kv_states import KVFormat, kv_format
from reader_app.llm.kvcache import DiskKVCache, PrefixState
from test_kvcache import PAPER, SYSTEM, model_env, needs_model, new_engine  # noqa: F401 (model_env: a fixture)

Q8Q4 = {"type_k": "q8_0", "type_v": "q4_0", "flash_attn": True}
F16 = {"type_k": "f16", "type_v": "f16", "flash_attn": False}


def ask(eng, question="What accuracy was measured in experiment 3?"):
    p, s = eng.chat_prefix_suffix(SYSTEM, PAPER + "\n\n", question)
    return p, s, eng.complete(p, s, max_tokens=8)


def header(path):
    raw = path.read_bytes()
    version, hlen = struct.unpack_from("<II", raw, 4)
    return version, json.loads(raw[12 : 12 + hlen])


# ---------------------------------------------------------------- no model


def test_format_defaults_settings_and_bad_names(model_env):
    assert kv_format() == KVFormat("f16", "f16", False)  # the defaults (on a CPU, f16 is the faster)
    settings.save({"kv_type_k": "q8_0", "kv_type_v": "q4_0", "flash_attn": True})
    assert kv_format() == KVFormat("q8_0", "q4_0", True)  # the smaller states, by setting
    assert kv_format("f16", "f16", False).tag == "k=f16,v=f16,fa=0"
    assert kv_format("q8_0", "q4_0", False) == KVFormat("q8_0", "f16", False)  # quantized V needs flash attention
    with pytest.raises(BadInput, match="unknown KV cache type 'q3_x'"):
        kv_format("q3_x")
    settings.save({"kv_type_k": "f16", "kv_type_v": "nonsense", "flash_attn": "yes"})
    assert kv_format() == KVFormat("f16", "f16", False)  # a bad stored value falls back to its default


def test_disk_cache_refuses_another_format_and_sweeps_old_versions(tmp_path):
    cache = DiskKVCache(tmp_path, cap_bytes=10_000_000)
    s = PrefixState(tokens=[1, 2, 3], data=b"x" * 100, kv="k=q8_0,v=q4_0,fa=1")
    path = cache.put("m", "a" * 64, s)
    assert cache.get("m", "a" * 64, s.tokens, kv="k=f16,v=f16,fa=0") is None and not path.exists()
    path = cache.put("m", "a" * 64, s)
    assert cache.read(path) == s  # a file read as it is, without its key
    assert cache.get("m", "a" * 64, s.tokens, kv=s.kv).data == s.data
    old = tmp_path / "0123456789abcdef-old.kv"
    old.write_bytes(b"RAKV" + struct.pack("<II", 1, 2) + b"{}")
    cache.put("m", "b" * 64, s)  # any write sweeps files of another version
    assert not old.exists() and path.exists()


# ---------------------------------------------------------------- with the embedded model


@needs_model
@pytest.mark.model
def test_quantized_states_round_trip_ram_and_disk_and_are_smaller(model_env):
    tmp_path = model_env
    eng = new_engine(tmp_path, **Q8Q4)
    try:
        p, s, g = ask(eng)
        first = g.text
        assert g.cache == "eval"
        eng.complete("Something else entirely.", "Hi?", max_tokens=2)  # the context moves on
        g = ask(eng)[2]
        assert g.text == first and g.cache == "ram"
        assert g.timings.cached_tokens == eng.count_tokens(p)
    finally:
        eng.close()
    (q_file,) = list((tmp_path / "kv").glob("*.kv"))
    assert header(q_file) == (2, header(q_file)[1]) and header(q_file)[1]["kv"] == "k=q8_0,v=q4_0,fa=1"
    again = new_engine(tmp_path, **Q8Q4)
    try:
        g = ask(again)[2]
        assert g.text == first and g.cache == "disk"
    finally:
        again.close()
    f16 = new_engine(tmp_path / "f16", **F16)
    try:
        ask(f16)
    finally:
        f16.close()
    (f_file,) = list((tmp_path / "f16" / "kv").glob("*.kv"))
    # K 8.5 bits and V 4.5 bits per value against 16 + 16: about 0.41 of the f16 state
    ratio = header(q_file)[1]["state_bytes"] / header(f_file)[1]["state_bytes"]
    assert 0.35 < ratio < 0.45, ratio


@needs_model
@pytest.mark.model
def test_old_version_f16_file_is_rebuilt_cleanly(model_env):
    tmp_path = model_env
    eng = new_engine(tmp_path, **F16)
    try:
        first = ask(eng)[2].text
    finally:
        eng.close()
    (path,) = list((tmp_path / "kv").glob("*.kv"))
    raw = path.read_bytes()
    version, hlen = struct.unpack_from("<II", raw, 4)
    head = json.loads(raw[12 : 12 + hlen])
    del head["kv"]  # a version-1 file: no format in its header
    old_head = json.dumps(head).encode()
    path.write_bytes(b"RAKV" + struct.pack("<II", 1, len(old_head)) + old_head + raw[12 + hlen :])
    eng = new_engine(tmp_path, **F16)
    try:
        g = ask(eng)[2]
        assert g.text == first
        assert g.cache == "eval" and g.timings.cached_tokens == 0
    finally:
        eng.close()
    assert path.read_bytes() == raw  # rebuilt as version 2, the same state
    eng = new_engine(tmp_path, **F16)
    try:
        g = ask(eng)[2]
        assert g.text == first and g.cache == "disk"
    finally:
        eng.close()


@needs_model
@pytest.mark.model
def test_state_of_another_format_is_never_restored(model_env):
    tmp_path = model_env
    f16 = new_engine(tmp_path, **F16)
    try:
        p, s, _ = ask(f16)
        f16_state = f16.states.ram.get(f16.states.key_for(f16.states.tokenize_prefix(p)))
    finally:
        f16.close()
    (f16_file,) = list((tmp_path / "kv").glob("*.kv"))
    q = new_engine(tmp_path, **Q8Q4)
    try:
        key = q.states.key_for(q.states.tokenize_prefix(p))
        assert q.states.disk.path_for(q.key, key) != f16_file  # another key: another file
        g = ask(q)[2]
        answer = g.text
        assert g.cache == "eval"  # the f16 file was not used
        # an f16 file put where the quantized state belongs (renamed by hand): refused by its header
        q_file = q.states.disk.path_for(q.key, key)
        q.states.ram.clear()
        shutil.copyfile(f16_file, q_file)
        q.complete("Something else entirely.", "Hi?", max_tokens=2)
        g = ask(q)[2]
        assert g.text == answer and g.cache == "eval"
        # f16 data that claims to be quantized: llama.cpp refuses it, the prefix is evaluated again
        q.states.ram.put(key, PrefixState(tokens=f16_state.tokens, data=f16_state.data, kv=q.kv.tag))
        q.complete("Something else entirely.", "Hi?", max_tokens=2)
        g = ask(q)[2]
        assert g.text == answer and g.cache == "eval"
        assert q.states.ram.get(key).data != f16_state.data  # replaced by the rebuilt state
    finally:
        q.close()
