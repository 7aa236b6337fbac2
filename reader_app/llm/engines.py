"""``open_engine(EngineConfig) -> Engine``: the one way the rest of the app gets an engine.

The model is chosen by ``config.model`` (NAME or PATH), then ``$READER_APP_MODEL``, then
the ``model`` setting, then the embedded default.  The backend by ``config.backend``, then
``$READER_APP_BACKEND``, then the ``backend`` setting.

A llama.cpp model runs in its own process (``process_engine.ProcessEngine``), so that
a crash in llama.cpp cannot take the caller down; ``in_process=True``, or
``READER_APP_MODEL_PROCESS=0``, or the ``model_process`` setting set to false, loads it
in the calling process instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

from reader_app import settings
from reader_app.core.errors import BadInput, ModelError
from reader_app.llm.engine import Engine
from reader_app.llm.model_files import default_model_path, read_gguf_header
from reader_app.llm.openai_engine import OpenAIEngine
from reader_app.llm.process_engine import LLAMA_TARGET, ProcessEngine

BACKENDS = ("llama", "openai")


@dataclass(frozen=True)
class EngineConfig:
    """What an engine is opened with; equal configs open the same engine (the window compares
    them to decide whether to reload).  Empty fields mean "from the environment or settings"."""

    model: str | None = None  # NAME or PATH (llama), or the server's model id (openai)
    backend: str | None = None  # "llama" or "openai"
    base_url: str | None = None  # the openai backend's server
    api_key: str | None = None
    n_ctx: int | None = None
    threads: int | None = None
    # Jinja text, a .jinja file or a .gguf to take it from: overrides the model's own template
    # (GGUFs without one, servers that do not expose it)
    chat_template: str | None = None
    in_process: bool | None = None  # llama.cpp in this process (None: the model_process setting)

    @classmethod
    def from_settings(cls, conf: settings.Settings) -> EngineConfig:
        """The engine the settings choose."""
        return cls(model=conf.model, backend=conf.backend or "llama", base_url=conf.base_url,
                   api_key=conf.api_key, n_ctx=conf.n_ctx_cap, threads=conf.threads)

    def but(self, **changes) -> EngineConfig:
        return replace(self, **changes)

    def kwargs(self) -> dict:
        """The fields as keyword arguments, for an engine factory ``(**kwargs) -> Engine``
        (``open_engine`` or a test's fake); empty ones as None."""
        return {f.name: getattr(self, f.name) or None for f in fields(self)}


def open_engine(config: EngineConfig | str | None = None, /, **changes) -> Engine:
    """An engine ready to generate.  ModelError (one line) when no usable model is found.

    ``config``: an EngineConfig, or a model NAME or PATH; ``changes``: EngineConfig fields.
    """
    if isinstance(config, str):
        config = EngineConfig(model=config)
    known = {f.name for f in fields(EngineConfig)}
    unknown = set(changes) - known
    if unknown:
        raise TypeError(f"open_engine() got unknown options: {', '.join(sorted(unknown))}")
    c = (config or EngineConfig()).but(**changes)
    conf = settings.current()
    backend = (c.backend or os.environ.get("READER_APP_BACKEND") or conf.backend or "llama").lower()
    if backend not in BACKENDS:
        raise BadInput(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if backend == "openai":
        url = c.base_url or os.environ.get("READER_APP_BASE_URL") or conf.base_url
        if not url:
            raise BadInput("the openai backend needs --base-url URL (e.g. http://127.0.0.1:8080)")
        key = c.api_key or os.environ.get("READER_APP_API_KEY") or os.environ.get("OPENAI_API_KEY")
        model_id = c.model or os.environ.get("READER_APP_MODEL") or None
        return OpenAIEngine(url, api_key=key, model=model_id, n_ctx=c.n_ctx, chat_template=c.chat_template)
    path = default_model_path(c.model)
    in_process = c.in_process
    if in_process is None:
        env = os.environ.get("READER_APP_MODEL_PROCESS", "").strip().lower()
        in_process = env in ("0", "false", "no", "off") if env else conf.model_process is False
    if not in_process:
        read_gguf_header(path)  # missing / non-GGUF files: a ModelError before any process starts
        return ProcessEngine(LLAMA_TARGET, model_path=str(path), n_ctx=c.n_ctx, threads=c.threads,
                             chat_template=c.chat_template)
    try:
        # deferred: importing llama_cpp loads its native library, which CLI paths without a
        # model never need (and which may be missing or broken: a one-line ModelError then)
        from reader_app.llm.llama_engine import LlamaEngine
    except ImportError as exc:
        raise ModelError(f"llama-cpp-python is not usable: {exc}") from None
    return LlamaEngine(path, n_ctx=c.n_ctx, threads=c.threads, chat_template=c.chat_template)
