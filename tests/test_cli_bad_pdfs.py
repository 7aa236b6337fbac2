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
    encrypted = [f for f in files if f.name.startswith("pdfminer__encryption_")]
    plain = [f for f in files if f not in encrypted]
    results = {}
    # one process per batch keeps the suite fast; the importer itself bounds each file (30 s)
    for batch, extra in ((plain, []), (encrypted, ["--password", "foo"])):
        t0 = time.monotonic()
        r = run_cli("add", *batch, *extra, "--json", library=lib, timeout=40 * len(batch))
        elapsed = time.monotonic() - t0
        assert "Traceback" not in r.err, r.err
        objs = r.json()
        assert [o["file"] for o in objs] == [str(f) for f in batch]
        assert r.code == (2 if any("error" in o for o in objs) else 0)
        assert elapsed < 30 * len(batch)
        results.update({o["file"]: o for o in objs})
    imported = [f for f, o in results.items() if "error" not in o]
    refused = [f for f, o in results.items() if "error" in o]
    for f in imported:
        assert results[f]["id"] and results[f]["pages"] >= 1, results[f]
    # each refusal, on its own, is exit code 2 with a one-line reason, within 30 s
    for f in refused:
        t0 = time.monotonic()
        r = run_cli("add", f, *(["--password", "foo"] if "encryption_" in f else []), library=lib, timeout=60)
        assert time.monotonic() - t0 < 30, f
        assert r.code == 2, (f, r)
        assert r.err.startswith("reader-app: error:") and r.err.count("\n") == 1, (f, r.err)
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
