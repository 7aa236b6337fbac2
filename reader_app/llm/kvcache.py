"""Caches of prompt-prefix KV states: a bounded RAM LRU and an on-disk LRU with a size cap.

A state is the llama.cpp sequence state (the KV cells) after evaluating a prefix's
tokens, plus those tokens.  It is keyed by the model file's sha256 and the hash of the
prefix tokens, so a follow-up question - even in a new process - only evaluates its own
tokens.  Nothing here imports llama_cpp; the engine turns states into bytes and back.

Disk files live in ``<cache dir>/kv/`` as ``<model16>-<prefix32>.kv``::

    b"RAKV" | u32 version | u32 header length | JSON header | int32 tokens | state bytes

The header records the token count, the state length, a CRC-32 of tokens+state and the KV
format the state was saved in (``kv``: K and V types, flash attention; version 2).
A file that fails any check - of another version (the f16 files of version 1), another KV
format, damaged - is deleted and treated as a miss (the engine rebuilds it); files of
another version are also swept when the folder is evicted.
Writes go to a temporary file in the same folder and are renamed into place.
Eviction drops the least recently used files (mtime, refreshed on every hit) until the
folder is under the cap.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
import zlib
from array import array
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from reader_app import settings
from reader_app.core.files import atomic_write, remove_stale_temporaries

_MAGIC = b"RAKV"
_VERSION = 2  # 1: no KV format in the header (always f16 K and V)


@dataclass
class PrefixState:
    tokens: list[int]
    data: bytes  # llama.cpp sequence state
    kv: str = ""  # the KV format it was saved in (kv_states.KVFormat.tag)

    @property
    def nbytes(self) -> int:
        return len(self.data) + 4 * len(self.tokens)


def prefix_key(model_key: str, tokens: list[int], extra: str = "") -> str:
    h = hashlib.sha256()
    h.update(model_key.encode())
    h.update(b"\0" + extra.encode() + b"\0")
    h.update(array("i", tokens).tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------- model file hash

_hash_lock = threading.Lock()


def file_sha256(path: str | os.PathLike, *, cache_file: Path | None = None) -> str:
    """sha256 of a (large) file, remembered per (path, size, mtime) in the cache dir."""
    p = Path(path).resolve()
    st = p.stat()
    ident = f"{p}|{st.st_size}|{st.st_mtime_ns}"
    cache_file = cache_file or settings.cache_dir() / "model-hashes.json"
    with _hash_lock:
        known = settings.read_json_dict(cache_file)
        digest = known.get(ident)
        if isinstance(digest, str) and len(digest) == 64:
            return digest
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(4 * 1024 * 1024), b""):
                h.update(block)
        digest = h.hexdigest()
        known = {k: v for k, v in known.items() if not k.startswith(f"{p}|")}
        known[ident] = digest
        try:
            _atomic_write(cache_file, json.dumps(known, indent=1).encode())
        except OSError:
            pass  # a read-only cache dir only costs re-hashing
        return digest


def _atomic_write(path: Path, data: bytes | list[bytes]) -> None:
    # No fsync (sync=False): these are caches, every state file carries a CRC-32 and a
    # length that are checked when read, so a file torn by a crash is a miss, never a wrong
    # state; fsyncing hundreds of MB would delay the answer that wrote it.
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data, mode=0o600, sync=False)


# ---------------------------------------------------------------- RAM


class RamLRU:
    """At most ``max_items`` states and ``max_bytes`` bytes; least recently used go first."""

    def __init__(self, max_items: int = 3, max_bytes: int = settings.GIB):
        self.max_items, self.max_bytes = max(0, max_items), max(0, max_bytes)
        self._items: OrderedDict[str, PrefixState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self._items.values())

    def get(self, key: str) -> PrefixState | None:
        state = self._items.get(key)
        if state is not None:
            self._items.move_to_end(key)
        return state

    def put(self, key: str, state: PrefixState) -> None:
        if state.nbytes > self.max_bytes or self.max_items == 0:
            return
        self._items[key] = state
        self._items.move_to_end(key)
        while len(self._items) > self.max_items or self.nbytes > self.max_bytes:
            self._items.popitem(last=False)

    def drop(self, key: str) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


# ---------------------------------------------------------------- disk


class DiskKVCache:
    def __init__(self, folder: str | os.PathLike | None = None, cap_bytes: int | None = None):
        self.folder = Path(folder) if folder else settings.cache_dir() / "kv"
        if cap_bytes is None:
            cap_bytes = settings.int_setting("kv_disk_cap_bytes") or settings.DEFAULTS["kv_disk_cap_bytes"]
        self.cap_bytes = int(cap_bytes)

    def path_for(self, model_key: str, key: str) -> Path:
        model_id = hashlib.sha256(model_key.encode()).hexdigest()[:16]
        return self.folder / f"{model_id}-{key[:32]}.kv"

    def get(self, model_key: str, key: str, tokens: list[int], kv: str | None = None) -> PrefixState | None:
        """The state for these prefix tokens (saved in KV format ``kv``, when given), or None.
        A damaged file, or one of another version or format, is deleted."""
        path = self.path_for(model_key, key)
        try:
            raw = path.read_bytes()
        except OSError:
            return None
        state = _decode(raw)
        if state is None or state.tokens != list(tokens) or (kv is not None and state.kv != kv):
            path.unlink(missing_ok=True)
            return None
        try:
            os.utime(path)  # mark as recently used
        except OSError:
            pass
        return state

    def read(self, path: str | os.PathLike) -> PrefixState | None:
        """The state a file holds, or None when it fails a check (nothing is deleted)."""
        try:
            return _decode(Path(path).read_bytes())
        except OSError:
            return None

    def put(self, model_key: str, key: str, state: PrefixState) -> Path | None:
        if state.nbytes > self.cap_bytes:
            return None
        path = self.path_for(model_key, key)
        try:
            _atomic_write(path, _encode(state))
        except OSError:
            return None  # a full or read-only disk only costs speed
        self.evict(keep=path)
        return path

    def files(self) -> list[Path]:
        try:
            return [p for p in self.folder.glob("*.kv") if p.is_file()]
        except OSError:
            return []

    def total_bytes(self) -> int:
        return sum(_size(p) for p in self.files())

    def evict(self, keep: Path | None = None) -> list[Path]:
        """Delete files of another format version, and least recently used ones until the
        folder is under the cap."""
        entries = []
        for p in self.files():
            try:
                st = p.stat()
            except OSError:
                continue
            entries.append((st.st_mtime_ns, st.st_size, p))
        entries.sort(key=lambda e: e[0])
        total = sum(e[1] for e in entries)
        removed = []
        for _mtime, size, p in entries:
            if keep is not None and p == keep:
                continue
            if total <= self.cap_bytes and _version(p) == _VERSION:
                continue
            p.unlink(missing_ok=True)
            removed.append(p)
            total -= size
        # stale temporaries of writers that died
        remove_stale_temporaries(self.folder, 3600)
        return removed

    def clear(self) -> int:
        n = 0
        for p in self.files():
            p.unlink(missing_ok=True)
            n += 1
        return n


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except OSError:
        return 0


def _version(p: Path) -> int | None:
    """The format version of a state file (None: not one, or unreadable)."""
    try:
        with open(p, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return _VERSION  # leave what cannot be read to the size cap
    if len(head) < 8 or head[:4] != _MAGIC:
        return None
    return struct.unpack_from("<I", head, 4)[0]


def _encode(state: PrefixState) -> list[bytes]:
    toks = array("i", state.tokens).tobytes()
    crc = zlib.crc32(state.data, zlib.crc32(toks))
    header = json.dumps({"n_tokens": len(state.tokens), "state_bytes": len(state.data), "crc32": crc,
                         "kv": state.kv}).encode()
    return [_MAGIC, struct.pack("<II", _VERSION, len(header)), header, toks, state.data]


def _decode(raw: bytes) -> PrefixState | None:
    try:
        if raw[:4] != _MAGIC:
            return None
        version, hlen = struct.unpack_from("<II", raw, 4)
        if version != _VERSION or hlen > 4096:
            return None
        header = json.loads(raw[12 : 12 + hlen])
        n, nbytes, crc = int(header["n_tokens"]), int(header["state_bytes"]), int(header["crc32"])
        kv = header["kv"]
        if not isinstance(kv, str):
            return None
        start = 12 + hlen
        if n < 0 or nbytes < 0 or len(raw) != start + 4 * n + nbytes:
            return None
        toks = raw[start : start + 4 * n]
        data = raw[start + 4 * n :]
        if zlib.crc32(data, zlib.crc32(toks)) != crc:
            return None
        return PrefixState(tokens=array("i", toks).tolist(), data=data, kv=kv)
    except (ValueError, KeyError, TypeError, struct.error):
        return None
