"""Opening PDFs safely: hashing, password handling, quiet MuPDF, error wrapping."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pymupdf

from reader_app.core.errors import PasswordError, PdfError

# MuPDF prints its own warnings and errors to stderr; the CLI must print one line only.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def short_text(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return (msg[:150] + "...") if len(msg) > 150 else msg


def open_pdf(path: str | Path, password: str | None = None) -> pymupdf.Document:
    """Open ``path`` as a PDF, authenticate it, and check it has pages.

    Raises PdfError / PasswordError with one-line messages; never anything else.
    """
    p = Path(path)
    if not p.exists():
        raise PdfError("no such file")
    if p.is_dir():
        raise PdfError("is a directory, not a PDF")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise PdfError(f"cannot read file ({short_text(exc)})") from None
    if size == 0:
        raise PdfError("the file is empty")
    try:
        with open(p, "rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise PdfError(f"cannot read file ({short_text(exc)})") from None
    looks_pdf = b"%PDF" in head
    try:
        doc = pymupdf.open(str(p), filetype="pd")
    except Exception:  # pymupdf raises FileDataError, RuntimeError, ...
        if not looks_pdf:
            raise PdfError(f"not a PDF file") from None
        raise PdfError("broken PDF that cannot be opened") from None
    try:
        if doc.needs_pass:
            if password is None:
                raise PasswordError("the PDF is encrypted; password required (use --password)")
            if not doc.authenticate(password):
                raise PasswordError("wrong password for the encrypted PDF")
        if doc.page_count < 1:
            raise PdfError(("the PDF has no pages" if looks_pdf else "not a PDF file"))
    except PdfError:
        doc.close()
        raise
    except Exception as exc:
        doc.close()
        raise PdfError(f"broken PDF ({short_text(exc)})") from None
    return doc
