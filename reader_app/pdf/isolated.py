"""Run extraction in a child process, so a runaway parse or a MuPDF crash is contained.

The time limit scales with the document: the child reports its progress (pages read),
and the parent stops it when it makes no progress for ``timeout`` seconds, or when the
whole import runs past ``timeout + per_page × pages``.  A 2,000-page book that needs a
minute is imported; a parse stuck on one page is still stopped after ``timeout``.

The child is a ``reader_app.core.child.Child`` serving ``ExtractService``; one that
finished its import cleanly is kept for the next (starting one costs ~1 s), one that
was stopped or crashed is gone.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from reader_app.core.child import Child
from reader_app.core.child_wire import exit_words, ref, resolve
from reader_app.core.errors import HelperProcessError, PdfError, ReaderError
from reader_app.core.model import Paper

EXTRACT = "reader_app.pdf.extract:extract_paper"
PER_PAGE = 0.5  # seconds of budget per page on top of ``timeout`` (normal pages take ~10 ms)
KEEP_IDLE = 1
STARTUP = 60.0  # seconds a new child may take to start, before the import's own limit  # children kept for the next import
_REPORT_EVERY = 0.2  # seconds between progress messages


class ExtractService:
    """The child's handler: ``("extract", function, path, password)`` -> a Paper, with
    progress events ``(done, total, budget, label)`` on the way."""

    def __init__(self):
        resolve(EXTRACT)  # import MuPDF now, before any import's clock starts

    def __call__(self, job) -> Paper:
        if job.op == "load":  # import the function (outside the import's time limit)
            resolve(job.args[0])
            return None
        function, path, password = job.args
        last = [0.0]

        def progress(done: int, total: int, budget: float = 0.0, label: str = "") -> None:
            now = time.monotonic()
            if now - last[0] >= _REPORT_EVERY or label:
                last[0] = now
                job.emit((done, total, budget, label))

        try:
            return resolve(function)(path, password, progress=progress)
        except ReaderError:
            raise
        except Exception as exc:  # noqa: BLE001 - report, never propagate
            raise PdfError(f"cannot read the PDF ({type(exc).__name__})") from None


def _crashed(code: int | None, _tail: list[str]) -> PdfError:
    return PdfError(f"the PDF crashed the parser ({exit_words(code)})")


def _internal(message: str) -> PdfError:
    return PdfError(f"cannot read the PDF ({message[:150]})")


_idle: list[Child] = []
_idle_lock = threading.Lock()


def _take() -> Child:
    with _idle_lock:
        while _idle:
            child = _idle.pop()
            if child.alive:
                return child
            child.stop(1)
    return Child(ExtractService, name="reader-extract", on_death=_crashed, internal=_internal)


def _keep(child: Child) -> None:
    with _idle_lock:
        if not child.dead and len(_idle) < KEEP_IDLE:
            _idle.append(child)
            return
    child.stop(2)


def stop_idle() -> None:
    """End the children kept for the next import."""
    with _idle_lock:
        idle, _idle[:] = list(_idle), []
    for child in idle:
        child.stop(2)


def _wait(child: Child, rid: int, timeout: float, per_page: float, on_progress=None) -> Paper:
    """The child's result; PdfError when it stalls or runs past its budget (it is killed)."""
    start = last = time.monotonic()
    total_limit = timeout
    where = ""
    while True:
        now = time.monotonic()
        stall_left = last + timeout - now
        total_left = start + total_limit - now
        msg = child.next(rid, min(stall_left, total_left)) if min(stall_left, total_left) > 0 else None
        if msg is None:
            child.kill()
            if total_left <= stall_left or not where:
                raise PdfError(f"import took longer than {total_limit:g} s and was stopped")
            raise PdfError(f"import made no progress for {timeout:g} s ({where}) and was stopped")
        kind, value = msg
        if kind == "ok":
            return value
        done, pages, budget, label = value
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
                           per_page: float = PER_PAGE, on_progress=None, extract=EXTRACT) -> Paper:
    """Like ``extract_paper`` but in a child process.

    ``on_progress(done, total, label)`` is called in this process for the slow stages
    (OCR of scanned pages: "OCR page 3 of 12"); each extends the time limit by the
    stage's own estimate.

    The child is killed when it reports no progress for ``timeout`` seconds, or when the
    import takes longer than ``timeout + per_page × page count``.  ``extract`` is the
    function the child runs, ``f(path, password, progress=...)``, as a module-level
    function or its ``"module:name"``.
    """
    try:
        child = _take()
    except HelperProcessError:  # no child possible (inside a daemonic process): run in-process
        return resolve(ref(extract))(str(path), password)
    try:
        if not child.ready(STARTUP):
            child.kill()
            raise PdfError(f"the import process did not start within {STARTUP:g} s")
        child.call("load", ref(extract))
        rid = child.request("extract", ref(extract), str(path), password)
        paper = _wait(child, rid, timeout, per_page, on_progress)
    except PdfError:
        if not child.dead:  # a refusal; one stopped or crashed is gone
            _keep(child)
        raise
    except BaseException:
        child.kill()
        raise
    _keep(child)
    return paper
