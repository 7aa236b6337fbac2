"""Run extraction in a child process, so a runaway parse or a MuPDF crash is contained.

The time limit scales with the document: the child reports its progress (pages read),
and the parent stops it when it makes no progress for ``timeout`` seconds, or when the
whole import runs past ``timeout + per_page × pages``.  A 2,000-page book that needs a
minute is imported; a parse stuck on one page is still stopped after ``timeout``.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import signal
import time
from pathlib import Path

from reader_app.core.errors import PasswordError, PdfError, ReaderError
from reader_app.core.model import Paper
from reader_app.pdf import extract as _extract_mod

_ERRORS = {"PasswordError": PasswordError, "PdfError": PdfError}
PER_PAGE = 0.5  # seconds of budget per page on top of ``timeout`` (normal pages take ~10 ms)
_REPORT_EVERY = 0.2  # seconds between progress messages


def _child(conn, path: str, password: str | None) -> None:
    faulthandler.disable()  # a MuPDF crash is reported by the parent in one line
    try:
        last = [0.0]

        def progress(done: int, total: int, budget: float = 0.0, label: str = "") -> None:
            now = time.monotonic()
            if now - last[0] >= _REPORT_EVERY or label:
                last[0] = now
                conn.send(("progress", done, total, budget, label))

        _extract_mod.progress_hook = progress  # this forked child only
        try:
            paper = _extract_mod.extract_paper(path, password)
            conn.send(("ok", paper))
        except ReaderError as exc:
            conn.send(("err", type(exc).__name__, str(exc)))
        except BaseException as exc:  # noqa: BLE001 - report, never propagate
            conn.send(("err", "PdfError", f"cannot read the PDF ({type(exc).__name__})"))
        conn.close()
    finally:
        os._exit(0)  # skip the parent's atexit handlers (pytest, Qt, ...)


def _wait(recv, timeout: float, per_page: float, on_progress=None):
    """The child's final message; PdfError when it stalls or runs past its budget."""
    start = last = time.monotonic()
    total_limit = timeout
    where = ""
    while True:
        now = time.monotonic()
        stall_left = last + timeout - now
        total_left = start + total_limit - now
        wait = min(stall_left, total_left)
        if wait <= 0 or not recv.poll(wait):
            if total_left <= stall_left or not where:
                raise PdfError(f"import took longer than {total_limit:g} s and was stopped")
            raise PdfError(f"import made no progress for {timeout:g} s ({where}) and was stopped")
        msg = recv.recv()
        if msg[0] != "progress":
            return msg
        _tag, done, pages, budget, label = msg
        last = time.monotonic()
        if label:  # a later stage (OCR): ``budget`` seconds more from now
            total_limit = max(total_limit, last - start + timeout + budget)
            where = label
            if on_progress is not None:
                on_progress(done, pages, label)
            continue
        total_limit = max(total_limit, timeout + per_page * pages)
        where = f"at page {done} of {pages}" if done < pages else f"after reading {pages} pages"


def extract_paper_isolated(path: str | Path, password: str | None = None, timeout: float = 30.0,
                           per_page: float = PER_PAGE, on_progress=None) -> Paper:
    """Like ``extract_paper`` but in a forked child.

    ``on_progress(done, total, label)`` is called in this process for the slow stages
    (OCR of scanned pages: "OCR page 3 of 12"); each extends the time limit by the
    stage's own estimate.

    The child is killed when it reports no progress for ``timeout`` seconds, or when the
    import takes longer than ``timeout + per_page × page count``.
    """
    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:  # no fork (Windows, some macOS setups): run in-process
        return _extract_mod.extract_paper(path, password)
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, str(path), password), daemon=True)
    try:
        proc.start()
    except (AssertionError, OSError):  # inside a daemonic process, or no fork possible right now
        recv.close()
        send.close()
        return _extract_mod.extract_paper(path, password)
    send.close()
    try:
        try:
            msg = _wait(recv, timeout, per_page, on_progress)
        except PdfError:
            proc.kill()
            proc.join(5)
            raise
        except (EOFError, OSError):
            proc.join(5)
            code = proc.exitcode
            sig = ""
            if code is not None and code < 0:
                try:
                    sig = f" ({signal.Signals(-code).name})"
                except ValueError:
                    sig = f" (signal {-code})"
            raise PdfError(f"the PDF crashed the parser{sig}") from None
    finally:
        recv.close()
        if proc.is_alive():
            proc.join(2)
            if proc.is_alive():
                proc.kill()
                proc.join(2)
    if msg[0] == "ok":
        return msg[1]
    raise _ERRORS.get(msg[1], PdfError)(msg[2])
