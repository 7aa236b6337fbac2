"""Is the installed llama.cpp build one that can run on this machine?

A native llama.cpp build (``-march=native``) on an Intel CPU with AMX compiles ggml's
AMX kernels in, and those execute ``tileloadd`` without the tile permission Linux
requires: the process dies with SIGILL on the first prompt (llama.cpp PR #26954). README's
install turns AMX off (``-mno-amx-*``) while keeping every other native instruction;
a wheel built before that, or pulled from pip's cache, is caught here, before the model
loads, with one line that names the fix.

``READER_APP_ALLOW_AMX=1`` skips the check (for a llama.cpp with the upstream fix).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

from reader_app.core.errors import ModelError

NO_AMX = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
REBUILD = (f'CFLAGS="{NO_AMX}" CXXFLAGS="{NO_AMX}" '
           ".venv/bin/pip install --no-cache-dir --force-reinstall --no-deps llama-cpp-python")


def build_features(system_info: str) -> dict[str, bool]:
    """``{"AVX2": True, "AMX_INT8": False, ...}`` from llama.cpp's system-info line."""
    return {k: v == "1" for k, v in re.findall(r"([A-Z][A-Z0-9_]*) = ([01])\b", system_info)}


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def amx_problem(system_info: str, flags: set[str]) -> str | None:
    """The one-line error for a build with AMX kernels on a CPU that has AMX, else None."""
    built = build_features(system_info)
    if not (built.get("AMX_INT8") or built.get("AMX_TILE")):
        return None
    if flags and not flags & {"amx_tile", "amx_int8"}:
        return None  # never reached on this CPU: ggml only takes the AMX path where the CPU has it
    return ("this llama.cpp build has Intel AMX kernels, which crash on this CPU (illegal instruction, "
            f"llama.cpp PR #26954); rebuild it without them: {REBUILD}")


@lru_cache(maxsize=1)
def check_build() -> None:
    """Raise ModelError (one line) when the installed llama.cpp cannot run here."""
    if os.environ.get("READER_APP_ALLOW_AMX") == "1":
        return
    # deferred: loads llama.cpp's shared library, which the checks above do not need
    import llama_cpp

    raw = llama_cpp.llama_print_system_info()
    info = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    problem = amx_problem(info, cpu_flags())
    if problem:
        raise ModelError(problem)
