"""Background operations: run non-model work off the GUI thread, get results back on it.

Modelled on Anki's ``CollectionOp`` / ``QueryOp``: a widget never blocks on the
database or PyMuPDF.  It starts an operation and reacts when it ends (model work goes to
``ui.background.llm_worker.LlmWorker``; both return the same kind of :class:`~reader_app.ui.background.jobs.Job`)::

    from reader_app.ui.background.ops import run_op

    def work(op):                       # runs on a worker thread
        lib = services.library()        # per-thread Library (see app.Services)
        for i, path in enumerate(paths):
            op.check_cancelled()        # raises Cancelled if the user pressed Cancel
            op.report(i, len(paths), f"Importing {path}")
            ...
        return result

    run_op(self, work, on_success=self._show, label="Importing", cancellable=True)

Contract (stable; other UI modules rely on it):

``run_op(parent, fn, *, on_success=None, on_failure=None, progress=None,
label="", cancellable=False, pool=None) -> Op``

- ``fn`` runs on a ``QThreadPool`` thread.  It is called as ``fn(op)`` when it takes
  one positional parameter, else as ``fn()``.  ``op`` is the returned :class:`Op`, a
  :class:`~reader_app.ui.background.jobs.Job` (its signals ``progress``, ``finished``, ``failed``,
  ``cancelled``, ``ended`` work as for model jobs): ``op.report(done, total, text="")``,
  ``op.is_cancelled`` (bool),
  ``op.cancel_event`` (``threading.Event``, pass it to ``Engine.generate(cancel=...)``),
  ``op.check_cancelled()``, and ``op.emit(value)`` to stream partial values.
- ``on_success(result)``, ``on_failure(exc)``, ``progress(done, total, text)`` and
  ``on_partial(value)`` are called on the GUI thread, and only while ``parent``
  (a QObject or None) is still alive.
- Errors never escape: without ``on_failure`` a ``ReaderError`` is shown as its one-line
  message (in the parent window's ``show_error(msg)`` if it has one, else a message box);
  any other exception is logged with its traceback and shown as a generic one-liner.
  ``Cancelled`` is quiet (status message "Cancelled").
- Every op is announced on :data:`tracker` (``ui.background.jobs.tracker``: ``started(op)`` /
  ``finished(op)`` / ``progressed(op)``), so the main window's status bar shows a progress
  bar and a Cancel button for ops started with a ``label``, as for model jobs.
- :func:`error_message(exc)` gives the user-facing one-liner for any exception.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (QCoreApplication, QDeadlineTimer, QEventLoop, QObject, QRunnable, QThreadPool, Qt, Signal,
                            Slot)
from PySide6.QtWidgets import QApplication, QMessageBox
from shiboken6 import isValid

from reader_app.core.errors import Cancelled, ReaderError
from reader_app.ui.background.jobs import FINISHED, Job, tracker  # noqa: F401 - tracker: re-exported (status bar)

log = logging.getLogger("reader_app.ui")

_pool: QThreadPool | None = None


def default_pool() -> QThreadPool:
    """The app's worker pool: a few long-lived threads (per-thread SQLite connections)."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(3)
        _pool.setExpiryTimeout(-1)  # keep threads (and their Library connections) alive
    return _pool


def error_message(exc: BaseException) -> str:
    """The one line a user sees for ``exc``; never a traceback."""
    if isinstance(exc, ReaderError):
        return str(exc)
    text = " ".join(str(exc).split())
    return f"Internal error ({type(exc).__name__}{': ' + text if text else ''}); details are in the log."


def _accepts_arg(fn: Callable) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            return True
        if p.kind == p.VAR_POSITIONAL:
            return True
    return False


class Op(Job):
    """Handle of one background operation (created on the GUI thread): a :class:`Job`
    whose ``fn`` runs on the pool, plus ``run_op``'s callbacks."""

    partial = Signal(object)  # a value sent with ``op.emit(value)``
    _x_partial = Signal(object)

    def __init__(self, parent, fn, on_success, on_failure, progress, on_partial, label, cancellable):
        super().__init__(label, cancellable=cancellable)  # no Qt parent: we check the parent's liveness
        self._parent = parent
        self._fn = fn
        self._on_success = on_success
        self._on_failure = on_failure
        self._on_progress = progress
        self._on_partial = on_partial
        self.exception: BaseException | None = None  # what ``fn`` raised, for ``on_failure``
        self._last_emit = 0.0
        self._x_partial.connect(self._deliver_partial, Qt.ConnectionType.QueuedConnection)
        self.progress.connect(self._progress_callback)

    # -- worker side -----------------------------------------------------------------
    def check_cancelled(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled("cancelled")

    def report(self, done: int, total: int, text: str = "") -> None:
        """Report progress (thread-safe, throttled to ~30 updates a second)."""
        now = time.monotonic()
        if done < total and now - self._last_emit < 0.033:
            return
        self._last_emit = now
        self.post_progress(done, total, text)

    def emit(self, value) -> None:
        """Send a partial result (e.g. a streamed token) to ``on_partial``."""
        self._send(self._x_partial, value)

    def run(self) -> None:
        try:
            result = self._fn(self) if _accepts_arg(self._fn) else self._fn()
        except BaseException as exc:  # noqa: BLE001 - everything goes to the GUI thread
            if not isinstance(exc, ReaderError):
                log.error("background operation %r failed", self.label or self._fn, exc_info=True)
            self.exception = exc  # read on the GUI thread after the queued end below
            if isinstance(exc, Cancelled):
                self.post_cancelled()
            else:
                self.post_failed(error_message(exc))
        else:
            self.post_finished(result)

    # -- GUI side --------------------------------------------------------------------
    def _alive(self) -> bool:
        return self._parent is None or isValid(self._parent)

    def _before_end(self, outcome: str, value) -> None:
        try:
            if not self._alive():
                return
            if outcome == FINISHED:
                if self._on_success is not None:
                    _guard(self._parent, self._on_success, value)
            elif self._on_failure is not None:
                _guard(self._parent, self._on_failure, self.exception or Cancelled("cancelled"))
            else:
                show_error(self._parent, self.exception or value)
        finally:
            _live.discard(self)

    @Slot(int, int, str)
    def _progress_callback(self, done: int, total: int, text: str) -> None:
        if self._on_progress is not None and self._alive():
            _guard(self._parent, self._on_progress, done, total, text)

    @Slot(object)
    def _deliver_partial(self, value) -> None:
        if self.done:
            return
        self.partial.emit(value)
        if self._on_partial is not None and self._alive():
            _guard(self._parent, self._on_partial, value)


class _Runnable(QRunnable):
    def __init__(self, op: Op):
        super().__init__()
        self.op = op
        self.setAutoDelete(True)

    def run(self):  # worker thread
        self.op.run()


_live: set[Op] = set()  # keeps ops alive until they deliver


def _guard(parent, fn, *args) -> None:
    """Call a GUI-side callback; an exception there becomes a message, not a crash."""
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001
        log.error("callback %r failed", fn, exc_info=True)
        show_error(parent, exc)


def show_error(parent, exc: BaseException | str) -> None:
    """Show an error to the user: the window's ``show_error`` or a message box."""
    if isinstance(exc, Cancelled):
        msg, quiet = "Cancelled", True
    else:
        msg, quiet = (exc if isinstance(exc, str) else error_message(exc)), False
    win = None
    if parent is not None and isValid(parent) and hasattr(parent, "window"):
        try:
            win = parent.window()
        except Exception:  # noqa: BLE001
            win = None
    for target in (parent, win):
        if target is not None and isValid(target) and hasattr(target, "show_error"):
            target.show_error(msg, quiet=quiet) if _takes_quiet(target.show_error) else target.show_error(msg)
            return
    if quiet:
        return
    app = QApplication.instance()
    if app is None or app.platformName() in ("offscreen", "minimal"):
        # no screen: a modal box could never be dismissed (headless runs, tests, --screenshot)
        log.error("%s", msg)
        return
    QMessageBox.warning(win if win is not None and isValid(win) else None, "Reader", msg)


def _takes_quiet(fn) -> bool:
    try:
        return "quiet" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def run_op(
    parent: QObject | None,
    fn: Callable,
    *,
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    on_partial: Callable[[Any], None] | None = None,
    label: str = "",
    cancellable: bool = False,
    pool: QThreadPool | None = None,
) -> Op:
    """Run ``fn`` on a worker thread; see the module docstring for the contract."""
    op = Op(parent, fn, on_success, on_failure, progress, on_partial, label, cancellable)
    _live.add(op)
    (pool or default_pool()).start(_Runnable(op))
    return op


def wait_for_ops(timeout_ms: int = 10000) -> bool:
    """Block (processing events) until every op delivered; for tests and shutdown."""
    deadline = QDeadlineTimer(timeout_ms)
    while _live and not deadline.hasExpired():
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.002)
    return not _live
