"""Download a GGUF model: streamed, resumable (HTTP Range from a ``.part`` file),
checksummed, validated and renamed atomically into place.  Standard library only.

``NAME.gguf.part`` holds the bytes so far and ``NAME.gguf.part.json`` the URL and the
server's validators (ETag / Last-Modified), sent back as ``If-Range`` so a file that
changed on the server is fetched again from the start instead of being spliced.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from reader_app.assistant import settings
from reader_app.assistant.models import model_name, read_gguf_header, safe_model_filename
from reader_app.core.errors import BadInput, ModelError

CHUNK = 1024 * 1024
Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)


class ProgressBar:
    """A progress bar on stderr: redrawn in place on a terminal, a line per 10% otherwise."""

    def __init__(self, label: str, stream=None):
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._last_decile = -1
        self._start_bytes: int | None = None

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if self._start_bytes is None:
            self._start_bytes = done
        rate = (done - self._start_bytes) / max(now - self.start, 1e-6)
        mb = done / 1e6
        if total:
            pct = min(100.0, 100.0 * done / total)
            bar = "#" * int(pct / 4) + "." * (25 - int(pct / 4))
            text = f"{self.label} [{bar}] {pct:5.1f}% {mb:.1f}/{total / 1e6:.1f} MB {rate / 1e6:.1f} MB/s"
            decile = int(pct // 10)
        else:
            text = f"{self.label} {mb:.1f} MB {rate / 1e6:.1f} MB/s"
            decile = int(mb // 100)
        if self.tty:
            if now - self._last_draw >= 0.1 or (total and done >= total):
                self.stream.write("\r" + text.ljust(78))
                self.stream.flush()
                self._last_draw = now
        elif decile != self._last_decile:
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last_decile = decile

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def filename_from_url(url: str) -> str:
    path = urllib.parse.urlparse(url).path
    return urllib.parse.unquote(path.rstrip("/").rsplit("/", 1)[-1]) or "model.gguf"


def download_model(url: str, *, sha256: str | None = None, name: str | None = None,
                   dest_dir: str | os.PathLike | None = None, progress: Progress | None = None,
                   retries: int = 3, timeout: float = 30.0, validate: bool = True) -> Path:
    """Fetch ``url`` into the models dir and return the final path.

    Network errors and truncated bodies are retried ``retries`` times, each resuming
    where the last stopped; when they run out the ``.part`` file is kept so running the
    same command again resumes.  A checksum mismatch or a file that is not a GGUF model
    deletes the partial download (resuming it could never succeed) and raises ModelError.
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise BadInput(f"not an http(s) URL: {url}")
    if sha256 is not None:
        sha256 = sha256.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise BadInput("--sha256 must be 64 hexadecimal digits")
    folder = Path(dest_dir) if dest_dir else settings.models_dir()
    fname = safe_model_filename(name or filename_from_url(url))
    dest = folder / fname
    if dest.exists():
        raise BadInput(f"a model named {model_name(dest)} already exists: {dest}")
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / (fname + ".part")
    meta_path = folder / (fname + ".part.json")
    meta = _read_meta(meta_path)
    if part.exists() and meta.get("url") != url:
        part.unlink()  # a leftover from another URL: start over
        meta = {}

    attempt = 0
    while True:
        try:
            done = _fetch(url, part, meta, meta_path, progress, timeout)
            break
        except _Retryable as exc:
            attempt += 1
            if attempt > retries:
                have = part.stat().st_size if part.exists() else 0
                raise ModelError(f"download of {fname} interrupted after {have / 1e6:.1f} MB ({exc}); "
                                 "run the same command again to resume") from None
            time.sleep(min(0.2 * attempt, 2.0))

    if sha256 is not None:
        got = _file_sha256(part)
        if got != sha256:
            part.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            raise ModelError(f"checksum mismatch for {fname}: expected {sha256}, got {got}; "
                             "the download was discarded")
    if validate:
        try:
            read_gguf_header(part)
        except ModelError:
            part.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            raise ModelError(f"{url} did not give a GGUF model file ({done} bytes); "
                             "the download was discarded") from None
    os.replace(part, dest)
    meta_path.unlink(missing_ok=True)
    return dest


class _Retryable(Exception):
    pass


def _read_meta(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_meta(path: Path, meta: dict) -> None:
    try:
        path.write_text(json.dumps(meta), encoding="utf-8")
    except OSError:
        pass


def _fetch(url: str, part: Path, meta: dict, meta_path: Path, progress: Progress | None,
           timeout: float) -> int:
    """One HTTP request continuing ``part``; returns the final size or raises _Retryable."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "reader-app", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        validator = meta.get("etag") or meta.get("last_modified")
        if validator:
            headers["If-Range"] = validator
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 - scheme checked above
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            total = _total_from_content_range(exc.headers.get("Content-Range", ""))
            if total == have:
                return have  # the .part was already complete
            part.unlink(missing_ok=True)
            raise _Retryable("the server refused to resume; starting over") from None
        if exc.code >= 500 or exc.code == 429:
            raise _Retryable(f"HTTP {exc.code}") from None
        raise ModelError(f"download failed: HTTP {exc.code} {exc.reason} for {url}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(exc, urllib.error.URLError) and not isinstance(reason, (TimeoutError, ConnectionError)):
            if "refused" not in str(reason).lower() and "reset" not in str(reason).lower():
                raise ModelError(f"cannot download {url}: {reason}") from None
        raise _Retryable(str(reason)) from None

    with resp:
        status = resp.status
        if status == 206:
            start = _start_from_content_range(resp.headers.get("Content-Range", ""))
            if start != have:
                part.unlink(missing_ok=True)
                raise _Retryable("the server resumed at the wrong offset; starting over")
            total = _total_from_content_range(resp.headers.get("Content-Range", ""))
            mode = "ab"
        else:  # 200: the whole file (no Range support, or the file changed)
            have = 0
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            mode = "wb"
            new_meta = {"url": url, "etag": resp.headers.get("ETag"),
                        "last_modified": resp.headers.get("Last-Modified")}
            meta.clear()
            meta.update(new_meta)
            _write_meta(meta_path, meta)
        with open(part, mode) as fh:
            if progress:
                progress(have, total)
            try:
                while True:
                    chunk = resp.read(CHUNK)
                    if not chunk:
                        break
                    fh.write(chunk)
                    have += len(chunk)
                    if progress:
                        progress(have, total)
            except (OSError, http.client.HTTPException) as exc:
                raise _Retryable(f"connection lost: {exc.__class__.__name__}") from None
    if total is not None and have < total:
        raise _Retryable(f"connection closed at {have} of {total} bytes")
    return have


def _start_from_content_range(value: str) -> int | None:
    m = re.match(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)", value)
    return int(m.group(1)) if m else None


def _total_from_content_range(value: str) -> int | None:
    m = re.search(r"/(\d+)\s*$", value)
    return int(m.group(1)) if m else None


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()
