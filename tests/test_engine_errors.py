"""Missing, non-GGUF and corrupt models give one-line ModelErrors, never a crash or
llama.cpp noise; what needs no model keeps working."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reader_app.assistant import open_engine
from reader_app.llm.model_files import embedded_model_path
from reader_app.core.errors import ModelError

REPO = Path(__file__).resolve().parents[1]
MODEL = embedded_model_path()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("READER_APP_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("READER_APP_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("READER_APP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("READER_APP_MODEL", raising=False)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        open_engine(str(tmp_path / "nowhere" / "model.gguf"))


def test_unknown_model_name():
    with pytest.raises(ModelError, match="no model named 'llama-70b'"):
        open_engine("llama-70b")


@pytest.mark.parametrize("content", [b"", b"hello world", b"%PDF-1.5\n" + os.urandom(4000), os.urandom(10000)])
def test_non_gguf_files(tmp_path, content):
    f = tmp_path / "model.gguf"
    f.write_bytes(content)
    with pytest.raises(ModelError, match="not a GGUF model"):
        open_engine(str(f))


def test_bad_model_from_env_or_setting_names_its_origin(tmp_path, monkeypatch):
    f = tmp_path / "bad.gguf"
    f.write_bytes(b"junk")
    monkeypatch.setenv("READER_APP_MODEL", "no-such-model")
    with pytest.raises(ModelError, match="READER_APP_MODEL"):
        open_engine()


TRUNCATED = r"""
import sys
from reader_app.llm.llama_engine import LlamaEngine
from reader_app.core.errors import ModelError
try:
    LlamaEngine(sys.argv[1], n_ctx=512, threads=1, disk_cache=False)
except ModelError as exc:
    print("ModelError:", exc)
else:
    print("loaded?!")
"""


@pytest.mark.model
@pytest.mark.skipif(MODEL is None, reason="embedded model not installed")
@pytest.mark.parametrize("cut", [0.5, 1000])
def test_truncated_model_is_refused_quietly(tmp_path, cut):
    """Half a file is caught by the header check; 1000 bytes short only by llama.cpp."""
    data = MODEL.read_bytes()
    f = tmp_path / "truncated.gguf"
    f.write_bytes(data[: int(len(data) * cut)] if cut < 1 else data[: len(data) - cut])
    proc = subprocess.run([sys.executable, "-c", TRUNCATED, str(f)], capture_output=True, text=True,
                          cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)
    assert proc.returncode == 0, proc.stderr[-1500:]
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ModelError:"), proc.stdout
    assert "truncated.gguf" in lines[0]
    assert "truncated" in lines[0] if cut < 1 else "corrupted or incomplete" in lines[0]
    assert proc.stderr == ""  # llama.cpp's own logging stays silent


def test_cli_without_a_usable_model_still_lists(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"junk")
    env = dict(os.environ, PYTHONPATH=str(REPO), READER_APP_MODEL=str(bad),
               READER_APP_MODELS_DIR=str(tmp_path / "models"), READER_APP_CONFIG_DIR=str(tmp_path / "config"))
    proc = subprocess.run([sys.executable, "-m", "reader_app", "models", "--json"], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    assert not any(m["default"] for m in listing)  # the chosen model is unusable
    if MODEL is not None:
        assert any(m["source"] == "embedded" for m in listing)
