"""``reader-app open``: argument errors, and a real --screenshot run in a fresh process."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli


def test_open_argument_errors(tmp_path):
    r = run_cli("open", "--ask", "why?", library=tmp_path / "lib")
    assert r.code == 2 and r.err.count("\n") == 1 and "--ask needs --screenshot" in r.err
    r = run_cli("open", str(tmp_path / "missing.pdf"), "--screenshot", str(tmp_path / "x.png"),
                library=tmp_path / "lib")
    assert r.code == 2 and "no such file" in r.err


def test_cli_paths_do_not_import_qt():
    import subprocess
    import sys

    code = ("import sys, reader_app.cli as c; c.build_parser(); "
            "print(any(m.startswith('PySide6') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(__import__('pathlib').Path(__file__).resolve().parents[1]))
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.slow
def test_screenshot_of_a_real_paper(tmp_path, papers_dir):
    out = tmp_path / "shot.png"
    r = run_cli("open", str(papers_dir / "2304.02623v1.pdf"), "--screenshot", str(out),
                library=tmp_path / "lib", timeout=180,
                env={"QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config"),
                     "READER_APP_CONFIG_DIR": str(tmp_path / "config")})
    assert r.code == 0, r
    # a screenshot shows the default layout: it neither restores nor saves the window state
    assert not (tmp_path / "config" / "ui.ini").exists()
    from PySide6.QtGui import QImage

    img = QImage(str(out))
    assert img.width() >= 800 and img.height() >= 600
    # the page is drawn: the centre of the PDF area is mostly white paper, with dark text somewhere
    colors = {img.pixelColor(x, y).lightness() // 32 for x in range(500, 900, 7) for y in range(150, 700, 7)}
    assert 7 in colors and min(colors) <= 3


def test_screenshot_of_a_broken_file_fails_cleanly(tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 nothing else")
    r = run_cli("open", str(bad), "--screenshot", str(tmp_path / "x.png"), library=tmp_path / "lib",
                timeout=120, env={"QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")})
    assert r.code == 2 and "bad.pdf" in r.err and "Traceback" not in r.err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_screenshot_of_an_encrypted_pdf_needs_its_password(tmp_path, bad_pdfs_dir):
    src = bad_pdfs_dir / "pdfminer__encryption_rc4-128.pdf"
    env = {"QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    r = run_cli("open", str(src), "--screenshot", str(tmp_path / "x.png"), library=tmp_path / "lib",
                timeout=120, env=env)
    assert r.code == 2 and "--password" in r.err and "Traceback" not in r.err
    r = run_cli("open", str(src), "--password", "foo", "--screenshot", str(tmp_path / "y.png"),
                library=tmp_path / "lib", timeout=120, env=env)
    assert r.code == 0, r
    assert (tmp_path / "y.png").stat().st_size > 10_000
