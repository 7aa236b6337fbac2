"""Issue A §6: every broken, encrypted or odd PDF is imported or refused cleanly."""

from __future__ import annotations

import time

import pytest

from conftest import BAD_PDFS, run_cli

pytestmark = pytest.mark.skipif(not BAD_PDFS.exists(), reason="shared bad-pdfs not present")


def test_every_bad_pdf_is_imported_or_refused(tmp_path):
    lib = tmp_path / "library"
    files = sorted(BAD_PDFS.iterdir())
    assert len(files) >= 90
    imported, refused, slow = [], [], []
    for f in files:
        args = ["add", f, "--json"]
        if f.name.startswith("pdfminer__encryption_"):
            args += ["--password", "foo"]
        t0 = time.monotonic()
        r = run_cli(*args, library=lib, timeout=60)
        elapsed = time.monotonic() - t0
        if elapsed > 30:
            slow.append((f.name, elapsed))
        assert "Traceback" not in r.err, (f.name, r.err)
        assert r.code in (0, 2), (f.name, r)
        [obj] = r.json()
        if r.code == 0:
            assert obj["id"] and obj["pages"] >= 1, (f.name, obj)
            imported.append(f.name)
        else:
            assert obj["error"] and "\n" not in obj["error"], (f.name, obj)
            refused.append(f.name)
    assert not slow, slow
    print(f"\nbad-pdfs: {len(files)} tried, {len(imported)} imported, {len(refused)} refused cleanly")
    # the library survived all of it
    r = run_cli("check", "--json", library=lib)
    assert r.code == 0 and r.json()["integrity"] == "ok", r
    listed = run_cli("list", "--json", library=lib).json()
    assert 0 < len(listed) <= len(imported)  # identical files count once


def test_refusal_is_one_line_without_json(tmp_path):
    garbage = tmp_path / "not-a.pdf"
    garbage.write_bytes(b"this is not a pdf at all")
    r = run_cli("add", garbage, library=tmp_path / "l")
    assert r.code == 2
    assert r.err.startswith("reader-app: error:") and r.err.count("\n") == 1
    assert r.out == ""


def test_encrypted_pdf_needs_the_right_password(tmp_path):
    enc = sorted(BAD_PDFS.glob("pdfminer__encryption_*"))
    assert enc
    f = enc[0]
    lib = tmp_path / "l"
    r = run_cli("add", f, library=lib)
    assert r.code == 2 and "password" in r.err.lower()
    r = run_cli("add", f, "--password", "wrong", library=lib)
    assert r.code == 2 and "password" in r.err.lower()
    r = run_cli("add", f, "--password", "foo", "--json", library=lib)
    assert r.code == 0, r
