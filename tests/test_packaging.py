"""Packaging: every package is listed in pyproject.toml, a built wheel carries the icons
(installed into a fresh venv, no source tree in sight), and the Qt modules the app
imports all ship in PySide6-Essentials."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys

import venv
import zipfile
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
ESSENTIALS = {"QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtSvg", "QtConcurrent", "QtDBus", "QtOpenGL",
              "QtPrintSupport", "QtSql", "QtTest", "QtXml"}


def test_every_package_is_listed():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "reader_app").rglob("__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert "reader_app.resources" in listed
    assert PYPROJECT["tool"]["setuptools"]["package-dir"]["reader_app.resources"] == "resources"


def test_only_essential_qt_modules_are_imported():
    deps = PYPROJECT["project"]["dependencies"]
    assert any(d.startswith("PySide6-Essentials") for d in deps)
    assert not any(d.split(">")[0].split("=")[0].strip() == "PySide6" for d in deps)
    used = set()
    for path in (REPO / "reader_app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("PySide6."):
                used.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                used |= {a.name.split(".")[1] for a in node.names if a.name.startswith("PySide6.")}
    assert used and used <= ESSENTIALS, f"not in PySide6-Essentials: {sorted(used - ESSENTIALS)}"


@pytest.mark.slow
def test_wheel_carries_the_icons(tmp_path):
    pytest.importorskip("setuptools", minversion="77")
    src = tmp_path / "src"  # a copy: the build writes build/ and *.egg-info beside the sources
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for name in ("reader_app", "resources"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    # no PYTHONPATH or PIP_* settings: pip must see only the fresh venv
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PIP_")}
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "--no-index", "-q", "-w", str(dist), str(src)],
                           capture_output=True, text=True, timeout=300, env=env)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(dist.glob("reader_app-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for icon in ("icon.svg", "icon-256.png", "icon-64.png"):
        assert f"reader_app/resources/{icon}" in names
    assert "reader_app/llm/catalog.json" in names
    assert not any("screenshots" in n for n in names)  # README pictures stay out of the wheel

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    inst = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert inst.returncode == 0, inst.stderr[-2000:]
    probe = ("import pathlib, reader_app; print(reader_app.RESOURCES);"
             "print(len(__import__('json').loads((pathlib.Path(reader_app.__file__).parent"
             " / 'llm' / 'catalog.json').read_text())['models']))")
    out = subprocess.run([str(py), "-I", "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                         env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    folder, count = out.stdout.split()
    folder = Path(folder)
    assert folder.is_relative_to(env_dir) and not folder.is_relative_to(REPO)
    assert (folder / "icon-256.png").stat().st_size > 1000
    assert int(count) >= 5
