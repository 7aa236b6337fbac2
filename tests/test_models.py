"""Model manager: GGUF header reader, discovery, choice of model, `reader-app models` CLI."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from reader_app import settings
from reader_app.llm import model_files as models
from reader_app.core.errors import BadInput, ModelError

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = models.embedded_model_path()


def _s(text: str) -> bytes:
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def _value(v) -> tuple[int, bytes]:
    if isinstance(v, bool):
        return 7, struct.pack("<?", v)
    if isinstance(v, int):
        return 4, struct.pack("<I", v)
    if isinstance(v, float):
        return 6, struct.pack("<f", v)
    if isinstance(v, str):
        return 8, _s(v)
    if isinstance(v, list):
        if all(isinstance(x, str) for x in v):
            return 9, struct.pack("<IQ", 8, len(v)) + b"".join(_s(x) for x in v)
        return 9, struct.pack("<IQ", 5, len(v)) + b"".join(struct.pack("<i", x) for x in v)
    raise TypeError(v)


def write_gguf(path: Path, metadata: dict, tensors: list[tuple[str, tuple[int, ...]]]) -> Path:
    """A small GGUF v3 file: header, metadata, tensor infos, then zeroed f32 tensor data."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata)))
    for k, v in metadata.items():
        t, data = _value(v)
        out += _s(k) + struct.pack("<I", t) + data
    offset = 0
    for name, dims in tensors:
        out += _s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", 0, offset)
        offset += 4 * int(__import__("math").prod(dims))
    out += bytes(-len(out) % 32) + bytes(offset)  # aligned data section
    path.write_bytes(bytes(out))
    return path


def tiny_model(path: Path, ctx: int = 4096, template: str | None = "{{ messages }}") -> Path:
    md = {"general.architecture": "llama", "general.name": "tiny", "llama.context_length": ctx,
          "tokenizer.ggml.tokens": ["a", "b", "c"] * 30, "tokenizer.ggml.scores": [0] * 90}
    if template is not None:
        md["tokenizer.chat_template"] = template
    return write_gguf(path, md, [("tok_embd.weight", (64, 90)), ("blk.0.attn_q.weight", (64, 64))])


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("READER_APP_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("READER_APP_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("READER_APP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("READER_APP_MODEL", raising=False)
    return tmp_path


# ---------------------------------------------------------------- GGUF header


def test_header_reader_on_a_synthetic_file(tmp_path):
    f = tiny_model(tmp_path / "tiny.gguf", ctx=4096, template="TEMPLATE")
    h = models.read_gguf_header(f)
    assert h.version == 3
    assert h.architecture == "llama"
    assert h.context_length == 4096
    assert h.chat_template == "TEMPLATE"
    assert h.tensor_count == 2
    assert h.parameters == 64 * 90 + 64 * 64
    assert h.metadata["general.name"] == "tiny"
    assert h.metadata["tokenizer.ggml.tokens"] == "<array of 90>"  # big arrays are skipped


@pytest.mark.skipif(EMBEDDED is None, reason="embedded model not installed")
def test_header_reader_on_the_embedded_model():
    h = models.read_gguf_header(EMBEDDED)
    assert h.architecture == "llama"
    assert h.context_length == 8192
    assert "<|im_start|>" in h.chat_template
    assert 130e6 < h.parameters < 140e6  # SmolLM2-135M
    assert h.metadata["llama.block_count"] == 30


@pytest.mark.parametrize("content", [b"", b"GG", b"not a model at all", b"%PDF-1.7\n" + bytes(100)])
def test_non_gguf_files_are_refused(tmp_path, content):
    f = tmp_path / "x.gguf"
    f.write_bytes(content)
    with pytest.raises(ModelError, match="not a GGUF model"):
        models.read_gguf_header(f)


def test_missing_file_and_folder_are_refused(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        models.read_gguf_header(tmp_path / "nope.gguf")
    with pytest.raises(ModelError, match="not a model file"):
        models.read_gguf_header(tmp_path)


def test_truncated_tensor_data_is_refused(tmp_path):
    good = tiny_model(tmp_path / "good.gguf").read_bytes()
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(good[: len(good) - 64 * 64 * 4 - 10])  # cut inside the first tensor's data
    with pytest.raises(ModelError, match="truncated"):
        models.read_gguf_header(bad)


@pytest.mark.parametrize("cut", [8, 30, 200, -70])
def test_truncated_or_garbled_headers_are_refused(tmp_path, cut):
    good = tiny_model(tmp_path / "good.gguf").read_bytes()
    bad = tmp_path / "bad.gguf"
    if cut > 0:
        bad.write_bytes(good[:cut])
    else:  # huge string length in the metadata
        raw = bytearray(good)
        raw[24:32] = struct.pack("<Q", 2**62)
        bad.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="corrupt header"):
        models.read_gguf_header(bad)


# ---------------------------------------------------------------- discovery and choice


def test_lists_embedded_repo_and_user_models(dirs, monkeypatch):
    repo_models = dirs / "repo_models"
    repo_models.mkdir()
    tiny_model(repo_models / "repo-tiny.gguf", ctx=2048)
    monkeypatch.setattr(models, "repo_models_dir", lambda: repo_models)
    (dirs / "models").mkdir()
    tiny_model(dirs / "models" / "user-tiny.gguf", template=None)
    (dirs / "models" / "broken.gguf").write_bytes(b"garbage")
    (dirs / "models" / "notes.txt").write_text("ignored")
    found = {m.name: m for m in models.list_models()}
    assert set(found) >= {"repo-tiny", "user-tiny", "broken"}
    assert found["repo-tiny"].source == "repo" and found["repo-tiny"].context_length == 2048
    assert found["user-tiny"].source == "user" and found["user-tiny"].chat_template is False
    assert found["broken"].error and found["broken"].parameters == 0
    if EMBEDDED is not None:
        emb = found["SmolLM2-135M-Instruct.Q4_1"]
        assert emb.source == "embedded" and emb.default and emb.chat_template
        assert [m.name for m in found.values() if m.default] == [emb.name]


def test_model_choice_argument_then_env_then_setting(dirs):
    (dirs / "models").mkdir()
    a = tiny_model(dirs / "models" / "alpha.gguf")
    b = tiny_model(dirs / "models" / "beta.gguf")
    c = tiny_model(dirs / "models" / "gamma-7b.gguf")
    if EMBEDDED is not None:
        assert models.default_model_path() == EMBEDDED
    settings.save({"model": "beta"})
    assert models.default_model_path() == b
    os.environ["READER_APP_MODEL"] = str(c)
    try:
        assert models.default_model_path() == c
        assert models.default_model_path("alpha") == a
        assert models.default_model_path("ALPHA.gguf") == a
        assert models.default_model_path(str(a)) == a
        assert models.default_model_path("gamma") == c  # unique partial name
    finally:
        del os.environ["READER_APP_MODEL"]
    with pytest.raises(ModelError, match="no model named"):
        models.find_model("delta")
    settings.save({"model": "delta"})
    with pytest.raises(ModelError, match="from setting"):
        models.default_model_path()


def test_ambiguous_partial_name(dirs):
    (dirs / "models").mkdir()
    tiny_model(dirs / "models" / "llama-3b.gguf")
    tiny_model(dirs / "models" / "llama-8b.gguf")
    with pytest.raises(ModelError, match="ambiguous"):
        models.find_model("llama")


def test_add_copies_a_validated_model(dirs, tmp_path):
    src = tiny_model(tmp_path / "mine.gguf")
    info = models.add_model(src)
    assert Path(info.path) == dirs / "models" / "mine.gguf"
    assert Path(info.path).read_bytes() == src.read_bytes()
    with pytest.raises(BadInput, match="already exists"):
        models.add_model(src)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"<html>not found</html>")
    with pytest.raises(ModelError):
        models.add_model(junk)
    assert sorted(p.name for p in (dirs / "models").iterdir()) == ["mine.gguf"]


def test_settings_survive_a_broken_file(dirs):
    settings.settings_path().parent.mkdir(parents=True)
    settings.settings_path().write_text("{not json")
    assert settings.get("n_ctx_cap") == 8192
    settings.save({"n_ctx_cap": 4096})
    assert settings.get("n_ctx_cap") == 4096
    with pytest.raises(BadInput):
        settings.set_value("no_such_setting", 1)


def test_physical_cores_is_sane():
    n = settings.physical_cores()
    assert 1 <= n <= (os.cpu_count() or 1)


# ---------------------------------------------------------------- CLI


def cli(*args, env_dirs: Path, check_rc: int | None = 0):
    env = dict(os.environ, PYTHONPATH=str(REPO), READER_APP_MODELS_DIR=str(env_dirs / "models"),
               READER_APP_CONFIG_DIR=str(env_dirs / "config"), READER_APP_CACHE_DIR=str(env_dirs / "cache"))
    env.pop("READER_APP_MODEL", None)
    proc = subprocess.run([sys.executable, "-m", "reader_app", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=60)
    if check_rc is not None:
        assert proc.returncode == check_rc, proc.stderr
    return proc


def test_cli_models_list_add_use(tmp_path):
    src = tiny_model(tmp_path / "tiny-model.gguf", ctx=2048)
    out = cli("models", "add", str(src), "--json", env_dirs=tmp_path)
    added = json.loads(out.stdout)
    assert added["name"] == "tiny-model" and added["source"] == "user"
    listing = json.loads(cli("models", "--json", env_dirs=tmp_path).stdout)
    names = [m["name"] for m in listing]
    assert "tiny-model" in names
    for m in listing:
        assert set(m) >= {"name", "path", "size", "parameters", "context_length", "chat_template", "default"}
    human = cli("models", env_dirs=tmp_path).stdout
    assert "tiny-model" in human and "context 2048" in human
    used = json.loads(cli("models", "use", "tiny-model", "--json", env_dirs=tmp_path).stdout)
    assert used["name"] == "tiny-model" and used["default"]
    listing = json.loads(cli("models", "list", "--json", env_dirs=tmp_path).stdout)
    assert [m["name"] for m in listing if m["default"]] == ["tiny-model"]
    cli("models", "use", "--clear", env_dirs=tmp_path)


def test_cli_models_errors_are_one_line(tmp_path):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"junk")
    for args in (("models", "add", str(junk)), ("models", "add", str(tmp_path / "missing.gguf")),
                 ("models", "use", "no-such-model"), ("models", "download", "ftp://example.org/x.gguf")):
        proc = cli(*args, env_dirs=tmp_path, check_rc=2)
        assert proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("reader-app: error: "), proc.stderr


def test_model_free_paths_do_not_load_llama_cpp():
    code = ("import sys, reader_app.assistant, reader_app.llm.model_files, reader_app.llm.download, "
            "reader_app.commands.models, reader_app.cli; reader_app.cli.build_parser(); "
            "print('llama_cpp' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_engine_options_for_other_commands(dirs):
    import argparse

    from reader_app.commands.models import add_engine_options

    p = add_engine_options(argparse.ArgumentParser())
    args = p.parse_args(["--model", "x.gguf", "--backend", "openai", "--base-url", "http://h:1",
                         "--api-key", "k", "--n-ctx", "4096", "--threads", "3"])
    assert (args.model, args.backend, args.base_url, args.api_key, args.n_ctx, args.threads) == (
        "x.gguf", "openai", "http://h:1", "k", 4096, 3)
    assert p.parse_args([]).backend is None


def test_cli_models_cache_reports_and_clears(tmp_path):
    kv = tmp_path / "cache" / "kv"
    kv.mkdir(parents=True)
    (kv / "a-b.kv").write_bytes(b"x" * 1000)
    out = json.loads(cli("models", "cache", "--json", env_dirs=tmp_path).stdout)
    assert out["files"] == 1 and out["bytes"] == 1000 and out["folder"] == str(kv)
    out = json.loads(cli("models", "cache", "--clear", "--json", env_dirs=tmp_path).stdout)
    assert out["removed"] == 1 and out["files"] == 0
