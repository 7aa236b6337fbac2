"""``open_engine``: the one way the rest of the app gets an engine.

The model is chosen by the ``model`` argument (NAME or PATH), then
``$READER_APP_MODEL``, then the ``model`` setting, then the embedded default.  The
backend by argument, then ``$READER_APP_BACKEND``, then the ``backend`` setting.

A llama.cpp model runs in its own process (``engine_process.ProcessEngine``), so that
a crash in llama.cpp cannot take the caller down; ``in_process=True``, or
``READER_APP_MODEL_PROCESS=0``, or the ``model_process`` setting set to false, loads it
in the calling process instead.
"""

from __future__ import annotations

import os

from reader_app import settings
from reader_app.llm.engine import Engine
from reader_app.core.errors import BadInput, ModelError

BACKENDS = ("llama", "openai")


def open_engine(model: str | None = None, *, backend: str | None = None, base_url: str | None = None,
                api_key: str | None = None, n_ctx: int | None = None, threads: int | None = None,
                chat_template: str | None = None, in_process: bool | None = None) -> Engine:
    """An engine ready to stream.  ModelError (one line) when no usable model is found.

    ``chat_template`` (Jinja text, a .jinja file or a .gguf to take it from) overrides
    the model's own template - for GGUFs without one, or servers that do not expose it.
    """
    backend = (backend or os.environ.get("READER_APP_BACKEND") or settings.get("backend") or "llama").lower()
    if backend not in BACKENDS:
        raise BadInput(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if backend == "openai":
        from reader_app.llm.openai_engine import OpenAIEngine

        url = base_url or os.environ.get("READER_APP_BASE_URL") or settings.get("base_url")
        if not url:
            raise BadInput("the openai backend needs --base-url URL (e.g. http://127.0.0.1:8080)")
        key = api_key or os.environ.get("READER_APP_API_KEY") or os.environ.get("OPENAI_API_KEY")
        model_id = model or os.environ.get("READER_APP_MODEL") or None
        return OpenAIEngine(url, api_key=key, model=model_id, n_ctx=n_ctx, chat_template=chat_template)
    from reader_app.llm.model_files import default_model_path

    path = default_model_path(model)
    if in_process is None:
        env = os.environ.get("READER_APP_MODEL_PROCESS", "").strip().lower()
        in_process = env in ("0", "false", "no", "off") if env else settings.get("model_process") is False
    if not in_process:
        from reader_app.llm.process_engine import LLAMA_TARGET, ProcessEngine
        from reader_app.llm.model_files import read_gguf_header

        read_gguf_header(path)  # missing / non-GGUF files: a ModelError before any process starts
        return ProcessEngine(LLAMA_TARGET, model_path=str(path), n_ctx=n_ctx, threads=threads,
                             chat_template=chat_template)
    try:
        from reader_app.llm.llama_engine import LlamaEngine
    except ImportError as exc:  # llama-cpp-python missing or its library fails to load
        raise ModelError(f"llama-cpp-python is not usable: {exc}") from None
    return LlamaEngine(path, n_ctx=n_ctx, threads=threads, chat_template=chat_template)
