"""Run extraction in a child process, so a runaway parse or a MuPDF crash is contained."""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import signal
from pathlib import Path

from reader_app.core.errors import PasswordError, PdfError, ReaderError
from reader_app.core.model import Paper
from reader_app.pdf import extract as _extract_mod

_ERRORS = {"PasswordError": PasswordError, "PdfError": PdfError}


def _child(conn, path: str, password: str | None) -> None:
    faulthandler.disable()  # a MuPDF crash is reported by the parent in one line
    try:
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


def extract_paper_isolated(path: str | Path, password: str | None = None, timeout: float = 30.0) -> Paper:
    """Like ``extract_paper`` but in a forked child, killed after ``timeout`` seconds."""
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
        if not recv.poll(timeout):
            proc.kill()
            proc.join(5)
            raise PdfError(f"import took longer than {timeout:g} s and was stopped")
        try:
            msg = recv.recv()
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
