"""The app's settings: model choice, context cap, threads, backend, KV cache limits, answer
modes, preparation, retrieval by meaning, and the library's location.

This is the one settings store, for the window and the CLI alike (Qt's ``ui.ini`` keeps only
window state: geometry, splitter sizes and the last position in each paper).
Stored as JSON in ``platformdirs.user_config_dir("reader-app")/assistant.json``
(``READER_APP_CONFIG_DIR`` overrides the folder, for tests).  Unknown keys are kept;
a missing or unreadable file means "all defaults" - a broken settings file never
stops the app.

Folders used by the assistant, each overridable by an environment variable:

- ``config_dir()``  - ``READER_APP_CONFIG_DIR`` or the user config dir
- ``cache_dir()``   - ``READER_APP_CACHE_DIR`` or the user cache dir (KV states live in ``kv/``)
- ``models_dir()``  - ``READER_APP_MODELS_DIR`` or ``<user data dir>/models``
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path

import platformdirs

from reader_app.core.errors import BadInput
from reader_app.core.files import atomic_write

APP = "reader-app"
GIB = 1024**3

DEFAULTS: dict = {
    "model": None,  # NAME or PATH; None = the embedded default
    "n_ctx_cap": 8192,  # n_ctx = min(model's trained context, this)
    "threads": None,  # None = physical cores
    "backend": "llama",  # "llama" (llama.cpp on this machine) or "openai" (a server)
    "model_process": True,  # run llama.cpp in its own process (a crash there cannot take the app down)
    "base_url": None,  # for the openai backend
    "api_key": None,  # for the openai backend (optional)
    "kv_disk_cap_bytes": 2 * GIB,  # size cap of the on-disk KV state cache
    "kv_ram_states": 3,  # prefix states kept in RAM (LRU)
    "kv_ram_cap_bytes": 1 * GIB,  # ... and their total size cap
    "kv_min_prefix_tokens": 128,  # shorter prefixes are not worth caching
    # The KV cache's format.  K q8_0 / V q4_0 with flash attention makes states 2.46x smaller and
    # restores 3.2x faster, but on a CPU it reads a 5k-token prompt 3.5x slower and generates at
    # half the speed there (docs/figures.md, "KV states"): f16 stays the default on a CPU.
    "kv_type_k": "f16",  # the KV cache's K type: f16, q8_0 (K below 8 bits breaks Qwen2.5), ...
    "kv_type_v": "f16",  # ... and V type: f16, q8_0, q4_0, ... (quantized V needs flash_attn; else f16)
    "flash_attn": False,  # flash attention (needed for a quantized V)
    "evidence_candidates": None,  # Evidence may cite only the question's N best paragraphs by BM25 (0 = any;
    # None = by answer style: 5 for small models, 10 for capable ones)
    "prepare_after_import": False,  # also prepare papers right after importing them
    "prepare_on_open": None,  # prepare a paper for questions when opened (None: on, except custom engines)
    "ask_mode": "doubledipper",  # the Ask tab's mode: doubledipper, zero-shot or zero-shot-evidence
    "quick_answer": True,  # while a paper prepares, answer at once from its best passages (doubledipper)
    "passage_demos": "own",  # passage answers recycle prepared papers' demonstrations: "own" (a quick
    # answer, the paper's own once its preparation wrote them; else none), "library" (other papers') or "none"
    "confidence_samples": 0,  # also sample N answers after each and read the confidence from their agreement
    # with it (each costs about one more answer's generation; on QASPER it told no more than the free default)
    "confidence_probe": False,  # confidence also from the model's check of its own answer (one more token)
    "answer_style": "auto",  # "small" (the 135M model's crutches), "capable" (1B+), "auto" (by model size)
    "answer_ttft_s": 6.0,  # seconds to the first token that quick and library answers aim at: their passages
    # grow with the model's measured prompt speed (assistant/budget.py); 6 s, not 10: on 2 cores 380 passage
    # tokens scored as 800 did at half the wait (docs/evaluation.md)
    "library_path": None,  # the library's folder; None = the default (--library and $READER_APP_LIBRARY win)
    "semantic_search": True,  # retrieval by meaning: paragraph vectors (a small embedding model) fused with BM25
}


def config_dir() -> Path:
    return Path(os.environ.get("READER_APP_CONFIG_DIR") or platformdirs.user_config_dir(APP))


def cache_dir() -> Path:
    return Path(os.environ.get("READER_APP_CACHE_DIR") or platformdirs.user_cache_dir(APP))


def models_dir() -> Path:
    env = os.environ.get("READER_APP_MODELS_DIR")
    return Path(env) if env else Path(platformdirs.user_data_dir(APP)) / "models"


def settings_path() -> Path:
    return config_dir() / "assistant.json"


def load() -> dict:
    """All settings: the defaults overlaid with what the file holds."""
    data = dict(DEFAULTS)
    try:
        stored = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = {}
    if isinstance(stored, dict):
        data.update(stored)
    return data


@dataclass(frozen=True)
class Settings:
    """The settings, typed, as they stood when read (``current()``).  A request reads them once
    and passes this value down, so a settings file changed meanwhile never splits one request.
    A stored value of the wrong type falls back to the default."""

    model: str | None = DEFAULTS["model"]
    n_ctx_cap: int = DEFAULTS["n_ctx_cap"]
    threads: int | None = DEFAULTS["threads"]
    backend: str = DEFAULTS["backend"]
    model_process: bool = DEFAULTS["model_process"]
    base_url: str | None = DEFAULTS["base_url"]
    api_key: str | None = DEFAULTS["api_key"]
    kv_disk_cap_bytes: int = DEFAULTS["kv_disk_cap_bytes"]
    kv_ram_states: int = DEFAULTS["kv_ram_states"]
    kv_ram_cap_bytes: int = DEFAULTS["kv_ram_cap_bytes"]
    kv_min_prefix_tokens: int = DEFAULTS["kv_min_prefix_tokens"]
    kv_type_k: str = DEFAULTS["kv_type_k"]
    kv_type_v: str = DEFAULTS["kv_type_v"]
    flash_attn: bool = DEFAULTS["flash_attn"]
    evidence_candidates: int | None = DEFAULTS["evidence_candidates"]
    prepare_after_import: bool = DEFAULTS["prepare_after_import"]
    prepare_on_open: bool | None = DEFAULTS["prepare_on_open"]
    ask_mode: str = DEFAULTS["ask_mode"]
    quick_answer: bool = DEFAULTS["quick_answer"]
    passage_demos: str = DEFAULTS["passage_demos"]
    confidence_samples: int = DEFAULTS["confidence_samples"]
    confidence_probe: bool = DEFAULTS["confidence_probe"]
    answer_style: str = DEFAULTS["answer_style"]
    answer_ttft_s: float = DEFAULTS["answer_ttft_s"]
    library_path: str | None = DEFAULTS["library_path"]
    semantic_search: bool = DEFAULTS["semantic_search"]

    @classmethod
    def from_values(cls, values: dict) -> Settings:
        typed = {}
        for f in fields(cls):
            default = f.default
            value = values.get(f.name, default)
            kind = f.type.split(" |")[0]  # "int", "bool", "str" (annotations are strings here)
            if value is None:
                typed[f.name] = None if "None" in f.type else default
            elif kind == "int":
                typed[f.name] = int_value(values, f.name)
            elif kind == "bool":
                typed[f.name] = value if isinstance(value, bool) else default
            elif kind == "float":
                typed[f.name] = float_value(values, f.name)
            else:
                typed[f.name] = value if isinstance(value, str) else default
        return cls(**typed)


def current() -> Settings:
    """The settings now, typed: read once per request."""
    return Settings.from_values(load())


def get(key: str):
    return load().get(key, DEFAULTS.get(key))


def read_json_dict(path: Path) -> dict:
    """The JSON object stored at ``path``, or {} when it is missing, unreadable or not an object."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def save(values: dict) -> None:
    """Merge ``values`` into the stored settings (a value of None removes the key)."""
    path = settings_path()
    stored = read_json_dict(path)
    for k, v in values.items():
        if v is None:
            stored.pop(k, None)
        else:
            stored[k] = v
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(stored, indent=2, sort_keys=True), mode=0o600)


def set_value(key: str, value) -> None:
    if key not in DEFAULTS:
        raise BadInput(f"unknown setting {key!r}; known: {', '.join(sorted(DEFAULTS))}")
    save({key: value})


def int_setting(key: str, minimum: int = 0) -> int | None:
    """An integer setting, or None when unset; a bad stored value falls back to the default."""
    return int_value(load(), key, minimum)


def int_value(values: dict, key: str, minimum: int = 0) -> int | None:
    """``int_setting`` of settings already read (``load()``): read once, use many times."""
    value = values.get(key, DEFAULTS.get(key))
    if value is None:
        return None
    try:
        value = int(value)
    except (TypeError, ValueError):
        value = DEFAULTS.get(key)
        return None if value is None else int(value)
    return max(minimum, value)


def float_value(values: dict, key: str) -> float:
    """A positive number setting of settings already read; anything else (a string, a
    boolean, zero, a negative or not finite number) falls back to the default."""
    value = values.get(key, DEFAULTS.get(key))
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0:
        return float(value)
    return float(DEFAULTS[key])


def physical_cores() -> int:
    """Physical CPU cores available to this process (hyper-threads not counted)."""
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    cores: set[tuple[str, str]] = set()
    try:
        phys = core = None
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("physical id"):
                    phys = line.split(":", 1)[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":", 1)[1].strip()
                elif not line.strip():
                    if core is not None:
                        cores.add((phys or "0", core))
                    phys = core = None
        if core is not None:
            cores.add((phys or "0", core))
    except OSError:
        pass
    n = len(cores) if cores else (os.cpu_count() or 1)
    return max(1, min(n, available))
