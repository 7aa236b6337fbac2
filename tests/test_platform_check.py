"""When Qt cannot load a platform plugin, `reader-app` prints one line naming the fix
(the missing Debian packages, or the missing display) and exits 2: no Qt abort text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from reader_app.ui.window import platform_check  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
QT_FATAL = ('qt.qpa.plugin: From 6.5.0, xcb-cursor0 or libxcb-cursor0 is needed to load the Qt xcb platform plugin.\n'
            'qt.qpa.plugin: Could not load the Qt platform plugin "xcb" in "" even though it was found.\n'
            'This application failed to start because no Qt platform plugin could be initialized.')


def test_hint_names_the_missing_packages():
    line = platform_check.platform_hint(QT_FATAL, env={"DISPLAY": ":0"}, missing=["libxcb-cursor0"])
    assert "sudo apt-get install libxcb-cursor0" in line and "\n" not in line


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="DISPLAY applies to Linux")
def test_hint_for_no_display():
    line = platform_check.platform_hint(QT_FATAL, env={}, missing=[])
    assert "DISPLAY" in line and "\n" not in line


def test_hint_for_an_unknown_platform():
    line = platform_check.platform_hint('Could not find the Qt platform plugin "nosuch" in ""',
                                        env={"QT_QPA_PLATFORM": "nosuch", "DISPLAY": ":0"}, missing=[])
    assert "'nosuch'" in line and "QT_QPA_PLATFORM" in line


def test_missing_packages_uses_the_library_lookup():
    found = {"xcb-cursor": None}
    missing = platform_check.missing_packages(find=lambda lib: found.get(lib, f"lib{lib}.so"))
    assert missing == (["libxcb-cursor0"] if sys.platform.startswith("linux") else [])
    assert "libxcb-cursor0" in platform_check.APT_LINE


def test_window_that_cannot_start_gives_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="nosuchplatform",
               READER_APP_CONFIG_DIR=str(tmp_path / "config"), READER_APP_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "reader_app", "--library", str(tmp_path / "lib")],
                          capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("reader-app: error: ") and "nosuchplatform" in lines[0]
    assert "Aborted" not in proc.stderr and "Traceback" not in proc.stderr
