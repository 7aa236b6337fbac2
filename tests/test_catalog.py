"""The model catalog: its entries, the fit check, and `reader-app models catalog / get`
against a loopback server that acts as the model host (redirects with X-Linked-Etag,
ranges, a wrong checksum).  Nothing here touches the internet."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reader_app.llm import catalog
from reader_app.core.errors import BadInput
from tests.test_download import FileServer, model_bytes, server, sha  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[1]


def write_catalog(path: Path, server: FileServer, model_bytes: bytes, *, ram: int = 10**6,
                  sha256: str | None = None) -> Path:
    """A catalog of two models served by ``server``: one with its sha256 given, one without."""
    server.files["given.gguf"] = model_bytes
    server.files["published.gguf"] = model_bytes
    base = dict(license="Apache-2.0", size=len(model_bytes), ram=ram, context=4096, parameters="1M",
                good_for="tests", qasper=None)
    entries = [dict(base, name="given-model", title="Given", url=server.resolve_url("given.gguf"),
                    sha256=sha256 or sha(model_bytes)),
               dict(base, name="published-model", title="Published", url=server.resolve_url("published.gguf"),
                    sha256=None)]
    path.write_text(json.dumps({"models": entries}), encoding="utf-8")
    return path


def run_cli(*args, env, stdin=None):
    return subprocess.run([sys.executable, "-m", "reader_app", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120, stdin=stdin if stdin is not None else subprocess.DEVNULL)


@pytest.fixture
def cli_env(tmp_path):
    return dict(os.environ, PYTHONPATH=str(REPO), READER_APP_MODELS_DIR=str(tmp_path / "models"),
                READER_APP_CONFIG_DIR=str(tmp_path / "config"), READER_APP_CACHE_DIR=str(tmp_path / "cache"))


# ---------------------------------------------------------------- the shipped catalog


def test_shipped_catalog_entries_are_complete():
    models = catalog.load_catalog()
    assert 5 <= len(models) <= 8
    names = [m.name for m in models]
    assert len(set(names)) == len(names)
    for m in models:
        assert m.url.startswith("https://huggingface.co/") and "/resolve/" in m.url, m.name
        assert m.filename.endswith(".gguf")
        assert m.license and m.good_for and m.context >= 4096
        assert 3 * 10**8 < m.size < 6 * 10**9 and m.ram > m.size, m.name
        assert m.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", m.sha256)
    coder = catalog.find_entry("qwen2.5-coder-1.5b-instruct")
    assert coder.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert coder.size == 1_117_320_768


def test_find_entry_by_prefix_and_errors():
    assert catalog.find_entry("LLAMA-3.2-3B").name == "llama-3.2-3b-instruct"
    with pytest.raises(BadInput, match="several"):
        catalog.find_entry("qwen")
    with pytest.raises(BadInput, match="no model 'nope' in the catalog; choose one of"):
        catalog.find_entry("nope")


def test_fit_check_against_ram_and_disk(tmp_path):
    m = catalog.find_entry("qwen3-4b")
    fits = catalog.check_fit(m, tmp_path, free_ram=m.ram + 1, disk=m.size + 1)
    assert fits.fits and fits.problem(m) is None
    low_ram = catalog.check_fit(m, tmp_path, free_ram=m.ram - 1, disk=m.size + 1)
    assert not low_ram.fits and "RAM" in low_ram.problem(m)
    low_disk = catalog.check_fit(m, tmp_path, free_ram=m.ram + 1, disk=m.size // 2)
    assert not low_disk.fits and "disk" in low_disk.problem(m)
    (tmp_path / (m.filename + ".part")).write_bytes(b"x" * 1000)  # a resumed download needs less
    assert catalog.check_fit(m, tmp_path, free_ram=None, disk=m.size - 500).disk_ok
    (tmp_path / m.filename).write_bytes(b"x")
    assert catalog.check_fit(m, tmp_path, free_ram=1, disk=0).installed


def test_available_ram_is_plausible():
    ram = catalog.available_ram()
    assert ram is None or 10**7 < ram < 10**14


# ---------------------------------------------------------------- CLI


def test_cli_catalog_lists_fit_and_qasper(cli_env):
    proc = run_cli("models", "catalog", "--json", env=cli_env)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert {"name", "license", "size", "ram", "context", "url", "sha256", "good_for", "fits",
            "installed", "qasper"} <= set(rows[0])
    assert not any(r["installed"] for r in rows)
    assert any(r["qasper"] for r in rows)  # the eval model has a measured figure
    text = run_cli("models", "catalog", env=cli_env).stdout
    assert "qwen2.5-1.5b-instruct" in text and "models get NAME" in text


def test_cli_get_verifies_and_makes_selectable(server, model_bytes, tmp_path, cli_env):
    env = dict(cli_env, READER_APP_CATALOG=str(write_catalog(tmp_path / "cat.json", server, model_bytes)))
    server.drop_first["published.gguf"] = 1  # a dropped connection is resumed with a Range request
    proc = run_cli("models", "get", "published-model", "--use", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["verified"] == "server" and info["sha256"] == sha(model_bytes)
    assert info["default"] is True
    assert (tmp_path / "models" / "published.gguf").read_bytes() == model_bytes
    assert any(rng and rng.startswith("bytes=") for _p, rng in server.requests)
    listed = json.loads(run_cli("models", "list", "--json", env=env).stdout)
    assert any(m["name"] == "published" and m["default"] for m in listed)
    proc = run_cli("models", "get", "given-model", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "checksum verified (catalog)" in proc.stdout
    proc = run_cli("models", "get", "given-model", env=env)  # already there: nothing fetched again
    assert proc.returncode == 0 and "already downloaded" in proc.stdout


def test_cli_get_wrong_checksum_is_one_line_and_nothing_listed(server, model_bytes, tmp_path, cli_env):
    env = dict(cli_env, READER_APP_CATALOG=str(write_catalog(tmp_path / "cat.json", server, model_bytes,
                                                              sha256="0" * 64)))
    proc = run_cli("models", "get", "given-model", env=env)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("reader-app: error: checksum mismatch") and "discarded" in last
    assert "Traceback" not in proc.stderr
    folder = tmp_path / "models"
    assert not folder.exists() or list(folder.iterdir()) == []
    listed = json.loads(run_cli("models", "list", "--json", env=env).stdout)
    assert not any(m["name"] == "given" for m in listed)


def test_cli_get_asks_before_a_model_too_big_for_ram(server, model_bytes, tmp_path, cli_env):
    env = dict(cli_env, READER_APP_CATALOG=str(write_catalog(tmp_path / "cat.json", server, model_bytes,
                                                              ram=10**15)))
    proc = run_cli("models", "get", "given-model", env=env)  # no terminal to ask on: refused
    assert proc.returncode == 2
    assert "RAM" in proc.stderr and "--yes" in proc.stderr
    assert not server.requests
    proc = run_cli("models", "get", "given-model", "--yes", env=env)
    assert proc.returncode == 0, proc.stderr


def test_cli_get_404_and_unknown_name(server, model_bytes, tmp_path, cli_env):
    env = dict(cli_env, READER_APP_CATALOG=str(write_catalog(tmp_path / "cat.json", server, model_bytes)))
    del server.files["published.gguf"]
    proc = run_cli("models", "get", "published-model", env=env)
    assert proc.returncode == 2 and "HTTP 404" in proc.stderr.strip().splitlines()[-1]
    proc = run_cli("models", "get", "nope", env=env)
    assert proc.returncode == 2 and "no model 'nope'" in proc.stderr
    bad = tmp_path / "broken.json"
    bad.write_text("{", encoding="utf-8")
    proc = run_cli("models", "catalog", env=dict(env, READER_APP_CATALOG=str(bad)))
    assert proc.returncode == 2 and proc.stderr.startswith("reader-app: error: cannot read the model catalog")
