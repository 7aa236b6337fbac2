"""Bad input: broken, encrypted and odd PDFs; isolation (timeouts, crashes)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from reader_app.core.errors import PasswordError, PdfError
from reader_app.pdf import extract_paper, extract_paper_isolated, isolated

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BAD = SHARED / "bad-pdfs"
needs_bad = pytest.mark.skipif(not BAD.is_dir(), reason="shared bad-pdfs not available")
ENCRYPTED_FOO = sorted(
    p.name for p in BAD.glob("pdfminer__encryption_*.pdf") if "r6" not in p.name
) if BAD.is_dir() else []


def _children() -> list:
    """Child processes left by the import isolation (the UI tests' page-render helper,
    which lives for the whole session, is not one of them; nor is the import child kept
    for the next import)."""
    isolated.stop_idle()
    return [c for c in multiprocessing.active_children() if c.name != "reader-render"]


@needs_bad
def test_every_bad_pdf_is_imported_or_refused_cleanly(capfd):
    files = sorted(BAD.glob("*.pdf"))
    assert len(files) == 91
    imported = refused = 0
    for f in files:
        password = "foo" if f.name.startswith("pdfminer__encryption_") else None
        t = time.monotonic()
        try:
            paper = extract_paper_isolated(f, password, timeout=30)
        except PdfError as exc:  # PasswordError is a PdfError
            msg = str(exc)
            assert msg and "\n" not in msg and "Traceback" not in msg and len(msg) < 300, msg
            assert not msg.startswith(f.name), msg  # the CLI adds the file name
            refused += 1
        else:
            assert paper.pages >= 1 and paper.id and paper.title
            for p in paper.paragraphs:
                assert p.text.strip() and p.page >= 1
            imported += 1
        assert time.monotonic() - t < 30, f.name
    assert imported + refused == 91
    assert imported >= 60 and refused >= 10
    assert not _children()
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # MuPDF's own warnings stay quiet: the CLI prints one line


@needs_bad
@pytest.mark.parametrize("name", ENCRYPTED_FOO)
def test_encrypted_with_password(name):
    paper = extract_paper(BAD / name, password="foo")
    assert paper.pages >= 1


@needs_bad
@pytest.mark.parametrize("name", ["pdfminer__encryption_aes-128.pdf", "pdfminer__encryption_rc4-40.pdf"])
def test_encrypted_missing_or_wrong_password(name):
    with pytest.raises(PasswordError, match="password required"):
        extract_paper(BAD / name)
    with pytest.raises(PasswordError, match="wrong password"):
        extract_paper(BAD / name, password="bar")
    with pytest.raises(PasswordError, match="wrong password"):
        extract_paper_isolated(BAD / name, password="bar")


@needs_bad
def test_aes256_r6_uses_its_own_password():
    path = BAD / "pdfminer__encryption_aes-256-r6.pdf"
    assert extract_paper(path, password="usersecret").pages >= 1
    with pytest.raises(PasswordError):
        extract_paper(path, password="foo")


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty"), (b"hello, I am plain text\n" * 20, "not a PDF"), (b"%PDF-1.7\n%%EOF\n", "no pages|broken")],
)
def test_not_pdfs(tmp_path, content, message):
    f = tmp_path / "x.pdf"
    f.write_bytes(content)
    with pytest.raises(PdfError, match=message) as info:
        extract_paper(f)
    assert not isinstance(info.value, PasswordError)
    with pytest.raises(PdfError, match=message):
        extract_paper_isolated(f)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(PdfError, match="no such file"):
        extract_paper(tmp_path / "nope.pdf")
    with pytest.raises(PdfError, match="directory"):
        extract_paper(tmp_path)


def test_truncated_pdf_is_handled(tmp_path):
    src = SHARED / "papers" / "2304.02623v1.pdf"
    if not src.exists():
        pytest.skip("shared papers not available")
    data = src.read_bytes()
    for cut in (0.3, 0.7):
        f = tmp_path / f"cut{cut}.pdf"
        f.write_bytes(data[: int(len(data) * cut)])
        try:
            paper = extract_paper_isolated(f, timeout=30)
        except PdfError:
            continue
        assert paper.pages >= 1


def _slow_extract(path, password=None, progress=None):
    time.sleep(60)


def _crashing_extract(path, password=None, progress=None):
    os.kill(os.getpid(), signal.SIGSEGV)


def _buggy_extract(path, password=None, progress=None):
    raise ZeroDivisionError("boom")


def test_isolated_timeout_kills_child(small_pdf):
    extract_paper_isolated(small_pdf)  # a child kept for the next import: it is the one stopped
    t = time.monotonic()
    with pytest.raises(PdfError, match="took longer than 0.5 s"):
        extract_paper_isolated(small_pdf, timeout=0.5, extract=_slow_extract)
    assert time.monotonic() - t < 10
    assert not _children()  # the child was killed and reaped


@pytest.mark.skipif(not hasattr(signal, "SIGSEGV") or os.name == "nt", reason="POSIX signals")
def test_isolated_crash_is_reported(small_pdf):
    with pytest.raises(PdfError, match=r"^the PDF crashed the parser \(segmentation fault\)$"):
        extract_paper_isolated(small_pdf, timeout=10, extract=_crashing_extract)
    assert "A small but valid" in extract_paper_isolated(small_pdf).paragraphs[0].text  # a new child


def test_isolated_unexpected_exception_becomes_pdf_error(small_pdf):
    with pytest.raises(PdfError, match=r"^cannot read the PDF \(ZeroDivisionError\)$"):
        extract_paper_isolated(small_pdf, timeout=10, extract=_buggy_extract)


def test_isolated_returns_same_paper(small_pdf):
    a = extract_paper(small_pdf)
    b = extract_paper_isolated(small_pdf)
    assert a == b
    assert "A small but valid PDF document" in b.paragraphs[0].text


def _isolated_in_daemon(path, q):
    try:
        q.put(extract_paper_isolated(path).paragraphs[0].text)
    except BaseException as exc:  # noqa: BLE001
        q.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_isolated_inside_a_daemon_process_falls_back(small_pdf):
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_isolated_in_daemon, args=(str(small_pdf), q), daemon=True)
    p.start()
    result = q.get(timeout=30)
    p.join(10)
    assert result.startswith("A small but valid PDF document"), result
