"""The llama.cpp build check: a build with AMX kernels on an AMX CPU is refused with one
line naming the fix, before the model loads (it would die with SIGILL on the first prompt)."""

from __future__ import annotations

import pytest

from reader_app.llm import build_check
from reader_app.core.errors import ModelError

NATIVE_AMX = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
              "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | "
              "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |")
NO_AMX = NATIVE_AMX.replace("AMX_INT8 = 1 | ", "")


def test_features_are_read_from_the_system_info_line():
    f = build_check.build_features(NATIVE_AMX)
    assert f["AVX2"] and f["AMX_INT8"] and f["AVX512_VNNI"]
    assert "AMX_INT8" not in build_check.build_features(NO_AMX)
    assert build_check.build_features("AMX_INT8 = 0 | AVX = 1")["AMX_INT8"] is False


@pytest.mark.parametrize("info,flags,refused", [
    (NATIVE_AMX, {"avx2", "amx_tile", "amx_int8"}, True),    # the crash: AMX kernels, AMX CPU
    (NATIVE_AMX, set(), True),                               # CPU flags unknown: assume the worst
    (NATIVE_AMX, {"avx2", "avx512f"}, False),                # kernels never taken on this CPU
    (NO_AMX, {"avx2", "amx_tile", "amx_int8"}, False),       # README's build on an AMX CPU
    (NO_AMX, set(), False),
])
def test_amx_problem(info, flags, refused):
    problem = build_check.amx_problem(info, flags)
    assert (problem is not None) is refused
    if refused:
        assert "\n" not in problem
        assert "--no-cache-dir --force-reinstall" in problem and "-mno-amx-int8" in problem


def test_check_build_refuses_before_loading(monkeypatch):
    llama_cpp = pytest.importorskip("llama_cpp")
    monkeypatch.setattr(llama_cpp, "llama_print_system_info", lambda: NATIVE_AMX.encode())
    monkeypatch.setattr(build_check, "cpu_flags", lambda: {"amx_tile", "amx_int8"})
    monkeypatch.delenv("READER_APP_ALLOW_AMX", raising=False)
    monkeypatch.setenv("READER_APP_MODEL_PROCESS", "0")  # the patched library is this process's
    build_check.check_build.cache_clear()
    try:
        with pytest.raises(ModelError, match="Intel AMX kernels"):
            build_check.check_build()
        from reader_app.llm.engines import open_engine

        with pytest.raises(ModelError, match="Intel AMX kernels"):
            open_engine()
        monkeypatch.setenv("READER_APP_ALLOW_AMX", "1")
        build_check.check_build()  # the override for a build with the upstream fix
    finally:
        build_check.check_build.cache_clear()


def test_the_installed_build_runs_here():
    """README's install flags leave AMX out: this fails on an AMX machine with a native build."""
    llama_cpp = pytest.importorskip("llama_cpp")
    build_check.check_build.cache_clear()
    build_check.check_build()
    info = llama_cpp.llama_print_system_info().decode()
    assert not build_check.build_features(info).get("AMX_INT8")
