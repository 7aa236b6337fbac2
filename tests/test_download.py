"""`reader-app models download` against a loopback HTTP server started by the test."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reader_app.llm.download import ProgressBar, download_model
from reader_app.core.errors import BadInput, ModelError
from tests.test_models import tiny_model

REPO = Path(__file__).resolve().parents[1]


class FileServer:
    """Serves ``files`` (name -> bytes) on 127.0.0.1 with Range support.

    ``drop_first[name] = n`` makes the first n responses for that file send half the
    body and then close the connection.  ``requests`` records (path, Range header).
    """

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.drop_first: dict[str, int] = {}
        self.no_range = False
        self.etag = '"v1"'
        self.requests: list[tuple[str, str | None]] = []
        self.linked: dict[str, str] = {}  # name -> the sha256 /resolve/NAME publishes (Hugging Face style)
        self.throttle = 0.0  # seconds to sleep per 16 KB sent
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                name = self.path.lstrip("/")
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                if name.startswith("resolve/"):  # like huggingface.co: a redirect to the file's CDN
                    name = name[len("resolve/"):]
                    self.send_response(302)
                    self.send_header("Location", "/" + name)
                    if name in server.linked:
                        self.send_header("X-Linked-Etag", f'"{server.linked[name]}"')
                        self.send_header("X-Linked-Size", str(len(server.files.get(name, b""))))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = server.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if rng and not server.no_range and self.headers.get("If-Range") in (None, server.etag):
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                part = body[start:]
                self.send_header("Content-Length", str(len(part)))
                self.send_header("ETag", server.etag)
                self.end_headers()
                if server.drop_first.get(name, 0) > 0:
                    server.drop_first[name] -= 1
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                for i in range(0, len(part), 16384):
                    if server.throttle:
                        time.sleep(server.throttle)
                    self.wfile.write(part[i:i + 16384])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def resolve_url(self, name: str) -> str:
        """The file behind a redirect that publishes its sha256 (``X-Linked-Etag``)."""
        self.linked.setdefault(name, hashlib.sha256(self.files[name]).hexdigest())
        return self.url("resolve/" + name)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    with FileServer() as s:
        yield s


@pytest.fixture
def model_bytes(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("src") / "src.gguf", template="T" * 300_000).read_bytes()  # ~300 KB


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_plain_download_with_checksum(server, model_bytes, tmp_path):
    server.files["m.gguf"] = model_bytes
    seen = []
    path = download_model(server.url("m.gguf"), sha256=sha(model_bytes), dest_dir=tmp_path / "models",
                          progress=lambda done, total: seen.append((done, total)))
    assert path == tmp_path / "models" / "m.gguf"
    assert path.read_bytes() == model_bytes
    assert seen[-1] == (len(model_bytes), len(model_bytes))
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.gguf"]  # no .part left


def test_dropped_connection_is_resumed_with_range(server, model_bytes, tmp_path):
    server.files["m.gguf"] = model_bytes
    server.drop_first["m.gguf"] = 1
    path = download_model(server.url("m.gguf"), sha256=sha(model_bytes), dest_dir=tmp_path)
    assert path.read_bytes() == model_bytes
    assert len(server.requests) == 2
    assert server.requests[0][1] is None
    half = len(model_bytes) // 2
    assert server.requests[1][1] == f"bytes={half}-"


def test_interrupted_download_resumes_on_the_next_run(server, model_bytes, tmp_path):
    server.files["m.gguf"] = model_bytes
    server.drop_first["m.gguf"] = 1
    with pytest.raises(ModelError, match="run the same command again to resume"):
        download_model(server.url("m.gguf"), dest_dir=tmp_path, retries=0)
    part = tmp_path / "m.gguf.part"
    assert part.stat().st_size == len(model_bytes) // 2
    assert not (tmp_path / "m.gguf").exists()
    path = download_model(server.url("m.gguf"), sha256=sha(model_bytes), dest_dir=tmp_path)
    assert path.read_bytes() == model_bytes
    assert server.requests[-1][1] == f"bytes={len(model_bytes) // 2}-"
    assert not part.exists()


def test_changed_file_on_server_restarts_from_zero(server, model_bytes, tmp_path):
    server.files["m.gguf"] = model_bytes
    server.drop_first["m.gguf"] = 1
    with pytest.raises(ModelError):
        download_model(server.url("m.gguf"), dest_dir=tmp_path, retries=0)
    new = model_bytes[:-10] + b"0123456789"
    server.files["m.gguf"] = new
    server.etag = '"v2"'  # If-Range no longer matches: the server sends the whole file
    path = download_model(server.url("m.gguf"), sha256=sha(new), dest_dir=tmp_path)
    assert path.read_bytes() == new


def test_server_without_range_support(server, model_bytes, tmp_path):
    server.files["m.gguf"] = model_bytes
    server.drop_first["m.gguf"] = 1
    server.no_range = True
    path = download_model(server.url("m.gguf"), sha256=sha(model_bytes), dest_dir=tmp_path)
    assert path.read_bytes() == model_bytes


def test_checksum_mismatch_discards_the_download(server, model_bytes, tmp_path):
    server.files["m.gguf"] = model_bytes
    with pytest.raises(ModelError, match="checksum mismatch"):
        download_model(server.url("m.gguf"), sha256="0" * 64, dest_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_not_a_gguf_is_discarded(server, tmp_path):
    server.files["page.gguf"] = b"<html>Please log in</html>"
    with pytest.raises(ModelError, match="did not give a GGUF"):
        download_model(server.url("page.gguf"), dest_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_http_errors_and_bad_arguments(server, tmp_path, model_bytes):
    with pytest.raises(ModelError, match="HTTP 404"):
        download_model(server.url("missing.gguf"), dest_dir=tmp_path)
    with pytest.raises(BadInput, match="64 hexadecimal"):
        download_model(server.url("m.gguf"), sha256="abc", dest_dir=tmp_path)
    with pytest.raises(BadInput, match="http"):
        download_model("file:///etc/passwd", dest_dir=tmp_path)
    server.files["m.gguf"] = model_bytes
    download_model(server.url("m.gguf"), dest_dir=tmp_path, name="renamed")
    assert (tmp_path / "renamed.gguf").exists()
    with pytest.raises(BadInput, match="already exists"):
        download_model(server.url("m.gguf"), dest_dir=tmp_path, name="renamed")


def test_progress_bar_lines_when_not_a_terminal():
    out = io.StringIO()
    bar = ProgressBar("m.gguf", stream=out)
    for done in range(0, 1001, 50):
        bar(done, 1000)
    bar.finish()
    lines = out.getvalue().splitlines()
    assert 5 <= len(lines) <= 12
    assert lines[-1].startswith("m.gguf [#########################] 100.0%")


def test_cli_download_resumes_and_lists(server, model_bytes, tmp_path):
    server.files["cli-model.gguf"] = model_bytes
    server.drop_first["cli-model.gguf"] = 1
    env = dict(os.environ, PYTHONPATH=str(REPO), READER_APP_MODELS_DIR=str(tmp_path / "models"),
               READER_APP_CONFIG_DIR=str(tmp_path / "config"), READER_APP_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "reader_app", "models", "download", server.url("cli-model.gguf"),
                           "--sha256", sha(model_bytes), "--json"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["name"] == "cli-model" and info["size"] == len(model_bytes)
    assert "100.0%" in proc.stderr  # progress on stderr, JSON alone on stdout
    proc = subprocess.run([sys.executable, "-m", "reader_app", "models", "download", server.url("cli-model.gguf"),
                           "--name", "other", "--sha256", "1" * 64],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("reader-app: error: checksum mismatch")


# ---------------------------------------------------------------- checksums the server publishes


def test_published_checksum_is_verified_without_sha256(server, model_bytes, tmp_path):
    server.files["m.gguf"] = model_bytes
    report: dict = {}
    path = download_model(server.resolve_url("m.gguf"), dest_dir=tmp_path, report=report)
    assert path.read_bytes() == model_bytes
    assert report == {"sha256": sha(model_bytes), "verified": "server"}
    assert server.requests[0][0] == "/resolve/m.gguf" and server.requests[1][0] == "/m.gguf"


def test_wrong_published_checksum_discards_the_download(server, model_bytes, tmp_path):
    server.files["m.gguf"] = model_bytes
    server.linked["m.gguf"] = "ab" * 32
    with pytest.raises(ModelError, match="checksum mismatch.*the server published") as err:
        download_model(server.resolve_url("m.gguf"), dest_dir=tmp_path)
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []  # nothing half-written, nothing listed


def test_resume_keeps_the_published_checksum(server, model_bytes, tmp_path):
    server.files["m.gguf"] = model_bytes
    server.linked["m.gguf"] = "cd" * 32  # wrong: proves the resumed run still checks it
    server.drop_first["m.gguf"] = 1
    with pytest.raises(ModelError, match="resume"):
        download_model(server.resolve_url("m.gguf"), dest_dir=tmp_path, retries=0)
    assert json.loads((tmp_path / "m.gguf.part.json").read_text())["linked_sha256"] == "cd" * 32
    with pytest.raises(ModelError, match="checksum mismatch"):
        download_model(server.resolve_url("m.gguf"), dest_dir=tmp_path)
    assert server.requests[-1][1] == f"bytes={len(model_bytes) // 2}-"


def test_unverifiable_download_says_so(server, model_bytes, tmp_path):
    server.files["m.gguf"] = model_bytes
    report: dict = {}
    download_model(server.url("m.gguf"), dest_dir=tmp_path, report=report)
    assert report == {"sha256": None, "verified": None}


def test_cancel_keeps_the_part_file_to_resume(server, model_bytes, tmp_path):
    from reader_app.core.errors import Cancelled

    server.files["m.gguf"] = model_bytes
    server.throttle = 0.01
    cancel = threading.Event()

    def progress(done, total):
        if done >= 64 * 1024:
            cancel.set()

    with pytest.raises(Cancelled, match="resumes"):
        download_model(server.url("m.gguf"), dest_dir=tmp_path, cancel=cancel, progress=progress)
    part = tmp_path / "m.gguf.part"
    have = part.stat().st_size
    assert 0 < have < len(model_bytes)
    assert not (tmp_path / "m.gguf").exists()
    server.throttle = 0.0
    path = download_model(server.url("m.gguf"), sha256=sha(model_bytes), dest_dir=tmp_path)
    assert path.read_bytes() == model_bytes
    assert server.requests[-1][1] == f"bytes={have}-"


def test_full_disk_is_one_line_before_downloading(server, model_bytes, tmp_path, monkeypatch):
    import shutil as _shutil
    from collections import namedtuple

    server.files["m.gguf"] = model_bytes
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(_shutil, "disk_usage", lambda _p: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(ModelError, match="not enough disk space") as err:
        download_model(server.url("m.gguf"), dest_dir=tmp_path)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "m.gguf").exists()
