"""The embedding engine: sentence vectors from a small GGUF model run by llama.cpp.

``open_embedder()`` loads the embedded default (all-MiniLM-L6-v2, Q8_0, 25 MB, shipped in
``models/embedding/``; see its README) or any GGUF of an encoder architecture llama.cpp
pools (bert, nomic-bert, modern-bert, ...), in this process: an embedder is small, and a
background job runs it.  ``Embedder.embed(texts)`` gives unit-length float32 vectors, so a
dot product is the cosine.  A missing, corrupt or wrong-architecture file is a one-line
``ModelError``; callers fall back to ranking by words (assistant/hybrid.py).

``EMBEDDERS``: stronger GGUF embedders a user may download (license, size, source).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np

from reader_app.core.errors import ModelError
from reader_app.core.recent import Recent
from reader_app.llm.llama_engine import last_llama_error
from reader_app.llm.model_files import model_name, read_gguf_header, repo_models_dir

EMBEDDED_EMBEDDER = "all-MiniLM-L6-v2-Q8_0.gguf"
ENCODER_ARCHS = ("bert", "nomic-bert", "nomic-bert-moe", "modern-bert", "jina-bert-v2", "jina-bert-v3",
                 "neo-bert", "t5encoder")
MAX_CHARS = 1500  # a passage is cut to about 300 word pieces (the model was trained on 256)
CONTEXT = 512
CATALOG = Path(__file__).with_name("embedders.json")


@dataclass(frozen=True)
class EmbedderModel:
    """A catalog entry: a GGUF embedder a user may download."""

    name: str
    title: str
    license: str
    size: int
    dim: int
    url: str
    sha256: str | None
    scifact_ndcg10: float | None
    query_prefix: str = ""
    passage_prefix: str = ""


def embedder_catalog() -> tuple[EmbedderModel, ...]:
    data = json.loads(CATALOG.read_text(encoding="utf-8"))
    return tuple(EmbedderModel(**m) for m in data["models"])


def default_embedder_path() -> Path:
    """The embedded default: ``$READER_APP_EMBEDDER`` if set, else models/embedding/."""
    env = os.environ.get("READER_APP_EMBEDDER")
    if env:
        return Path(env).expanduser()
    return repo_models_dir() / "embedding" / EMBEDDED_EMBEDDER


class Embedder:
    """One loaded embedding model.  Thread-safe: calls are serialized."""

    def __init__(self, path: Path, llama: llama_cpp.Llama, dim: int) -> None:
        self.path = path
        self.name = model_name(path)
        self.dim = dim
        self._llama = llama
        self._lock = threading.Lock()
        self._recent = Recent(64)  # a question is embedded once

    def embed_one(self, text: str) -> np.ndarray:
        """One text's vector, remembered for the last 64 texts (a question is ranked within
        its paper and across the library: one embedding)."""
        found = self._recent.get(text)
        if found is not None:
            return found
        vec = self.embed([text])[0]
        self._recent.put(text, vec)
        return vec

    def embed(self, texts: list[str], batch: int = 16) -> np.ndarray:
        """[len(texts), dim] float32, each row of length 1 (a text without words: zeros)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo = [(i, " ".join((t or "").split())[:MAX_CHARS]) for i, t in enumerate(texts)]
        todo = [(i, t) for i, t in todo if t]
        with self._lock:
            if self._llama is None:
                raise ModelError("the embedding model is closed")
            for start in range(0, len(todo), batch):
                chunk = todo[start:start + batch]
                try:
                    vecs = self._llama.embed([t for _, t in chunk], normalize=True, truncate=True)
                except (RuntimeError, ValueError) as exc:
                    raise ModelError(f"embedding failed: {' '.join(str(exc).split())}") from None
                for (i, _), v in zip(chunk, vecs):
                    out[i] = np.asarray(v, dtype=np.float32)
        return out

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None


def open_embedder(path: str | os.PathLike | None = None, *, threads: int = 1) -> Embedder:
    """Load an embedding GGUF (default: the embedded one).  ModelError, one line, when it is
    missing, corrupt, or not an encoder llama.cpp can pool."""
    p = Path(path).expanduser() if path else default_embedder_path()
    header = read_gguf_header(p)  # missing, not GGUF, truncated: ModelError
    arch = header.architecture
    if arch not in ENCODER_ARCHS:
        raise ModelError(f"{p.name} is a {arch or 'unknown'} model, not an embedding model "
                         f"({', '.join(ENCODER_ARCHS[:4])}, ...)")
    dim = header.metadata.get(f"{arch}.embedding_length")
    try:
        llama = llama_cpp.Llama(str(p), embedding=True, n_ctx=CONTEXT, n_batch=CONTEXT, n_ubatch=CONTEXT,
                                n_threads=max(1, int(threads)), n_threads_batch=max(1, int(threads)),
                                verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        why = last_llama_error() or " ".join(str(exc).split())
        raise ModelError(f"cannot load embedding model {p.name}: {why}") from None
    dim = int(dim) if isinstance(dim, int) and dim > 0 else llama.n_embd()
    return Embedder(p, llama, dim)
