"""Download a GGUF model: streamed, resumable (HTTP Range from a ``.part`` file),
checksummed, validated and renamed atomically into place.  Standard library only.

``NAME.gguf.part`` holds the bytes so far and ``NAME.gguf.part.json`` the URL and the
server's validators (ETag / Last-Modified), sent back as ``If-Range`` so a file that
changed on the server is fetched again from the start instead of being spliced.

Without a checksum given in advance, the one the server publishes is used: Hugging Face
answers a ``/resolve/`` URL with a redirect carrying ``X-Linked-Etag`` (the LFS file's
sha256) and ``X-Linked-Size``.  The file only gets its final name once verified, so
nothing half-written is ever listed as a model.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shutil
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from reader_app import settings
from reader_app.llm.model_files import model_name, read_gguf_header, safe_model_filename
from reader_app.core.errors import BadInput, Cancelled, ModelError
from reader_app.core.files import atomic_write, move_into_place

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
                   retries: int = 3, timeout: float = 30.0, validate: bool = True,
                   cancel: threading.Event | None = None, report: dict | None = None) -> Path:
    """Fetch ``url`` into the models dir and return the final path.

    Network errors and truncated bodies are retried ``retries`` times, each resuming
    where the last stopped; when they run out the ``.part`` file is kept so running the
    same command again resumes.  A checksum mismatch or a file that is not a GGUF model
    deletes the partial download (resuming it could never succeed) and raises ModelError.
    ``cancel`` (set from another thread) stops between chunks with ``Cancelled``, keeping
    the ``.part`` to resume.  ``report``, when given, receives ``sha256`` and
    ``verified`` (``"given"``, ``"server"`` or None: nothing to check against).
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
            done = _fetch(url, part, meta, meta_path, progress, timeout, cancel)
            break
        except _Retryable as exc:
            attempt += 1
            if attempt > retries:
                have = part.stat().st_size if part.exists() else 0
                raise ModelError(f"download of {fname} interrupted after {have / 1e6:.1f} MB ({exc}); "
                                 "run the same command again to resume") from None
            time.sleep(min(0.2 * attempt, 2.0))

    expected, source = (sha256, "given") if sha256 else (meta.get("linked_sha256"), "server")
    got = None
    if expected:
        got = _file_sha256(part)
        if got != expected:
            part.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            whose = "expected" if source == "given" else "the server published"
            raise ModelError(f"checksum mismatch for {fname}: {whose} {expected}, got {got}; "
                             "the download was discarded")
    if report is not None:
        report.update(sha256=got, verified=source if expected else None)
    if validate:
        try:
            read_gguf_header(part)
        except ModelError:
            part.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            raise ModelError(f"{url} did not give a GGUF model file ({done} bytes); "
                             "the download was discarded") from None
    # The .part file is the download's own temporary file (kept between runs to resume),
    # so the final step is a durable rename rather than a fresh atomic write.
    move_into_place(part, dest)
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
        atomic_write(path, json.dumps(meta))
    except OSError:
        pass


class _LinkedHeaders(urllib.request.HTTPRedirectHandler):
    """Follows redirects like urllib does, keeping the X-Linked-* headers seen on the way."""

    def __init__(self):
        super().__init__()
        self.linked: dict[str, str] = {}

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        _keep_linked(headers, self.linked)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _keep_linked(headers, into: dict) -> None:
    etag = (headers.get("X-Linked-Etag") or "").strip()
    etag = etag[2:] if etag.startswith("W/") else etag
    etag = etag.strip('"').lower()
    if re.fullmatch(r"[0-9a-f]{64}", etag):
        into["linked_sha256"] = etag
    size = (headers.get("X-Linked-Size") or "").strip()
    if size.isdigit():
        into["linked_size"] = int(size)


def _check_disk(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise ModelError(f"not enough disk space in {folder}: the download needs {needed / 1e9:.2f} GB more, "
                         f"{free / 1e9:.2f} GB free")


def _fetch(url: str, part: Path, meta: dict, meta_path: Path, progress: Progress | None,
           timeout: float, cancel: threading.Event | None = None) -> int:
    """One HTTP request continuing ``part``; returns the final size or raises _Retryable."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "reader-app", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
        validator = meta.get("etag") or meta.get("last_modified")
        if validator:
            headers["If-Range"] = validator
    req = urllib.request.Request(url, headers=headers)
    linked = _LinkedHeaders()
    try:
        resp = urllib.request.build_opener(linked).open(req, timeout=timeout)  # noqa: S310 - scheme checked
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
        _keep_linked(resp.headers, linked.linked)
        if linked.linked and any(meta.get(k) != v for k, v in linked.linked.items()):
            meta.update(linked.linked)
            _write_meta(meta_path, meta)
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
                        "last_modified": resp.headers.get("Last-Modified"), **linked.linked}
            meta.clear()
            meta.update(new_meta)
            _write_meta(meta_path, meta)
        if total is not None:
            _check_disk(part.parent, total - have)
        with open(part, mode) as fh:
            if progress:
                progress(have, total)
            while True:
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"download of {part.name[:-5]} cancelled at {have / 1e6:.1f} MB; "
                                    "it resumes from there next time")
                try:  # read1: what has arrived (up to CHUNK), so cancel is noticed on a slow link
                    chunk = resp.read1(CHUNK) if hasattr(resp, "read1") else resp.read(CHUNK)
                except (OSError, http.client.HTTPException) as exc:
                    raise _Retryable(f"connection lost: {exc.__class__.__name__}") from None
                if not chunk:
                    break
                try:
                    fh.write(chunk)
                except OSError as exc:
                    raise ModelError(f"cannot write {part}: {exc.strerror or exc} "
                                     f"({shutil.disk_usage(part.parent).free / 1e6:.0f} MB free); "
                                     "free some space and run the same command again to resume") from None
                have += len(chunk)
                if progress:
                    progress(have, total)
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
