"""What travels between a parent (``core/child.py``) and its child (``core/child_server.py``).

Messages are tuples ``(kind, rid, body)``::

    parent -> child   ("call", rid, (op, args, kwargs))   ("cancel", rid, None)
    child -> parent   ("event", rid, value)  ("ok", rid, value)  ("err", rid, (error, message))

``rid`` 0 is the child's setup: ``("ok", 0, None)`` once the handler is built.

A service travels as its ``"module:name"``: ``ref`` writes it, ``resolve`` reads it.

Errors travel as the name of a class of ``reader_app.core.errors`` and a one-line
message - never a pickled exception or a traceback.  A ``ReaderError`` goes as its
nearest class defined there; any other exception as ``""`` and "Type: message", which
the parent words with its ``internal`` callable; a name it does not know becomes a
``ReaderError``.

``exit_words`` says a dead child's exit code or signal in words.
"""

from __future__ import annotations

import importlib
import signal
import sys
from collections.abc import Callable

from reader_app.core import errors
from reader_app.core.errors import ReaderError

# ---- exit codes in words --------------------------------------------------------------------

_SIGNAL_WORDS = {getattr(signal, name): words for name, words in (
    ("SIGKILL", "killed — out of memory?"),
    ("SIGABRT", "aborted"),
    ("SIGSEGV", "segmentation fault"),
    ("SIGBUS", "bus error"),
    ("SIGFPE", "arithmetic error"),
    ("SIGILL", "illegal instruction"),
    ("SIGTERM", "terminated"),
) if hasattr(signal, name)}
# Windows reports a crash as an NTSTATUS exit code, not a signal
_NTSTATUS_SIGNALS = {0xC0000005: signal.SIGSEGV, 0xC00000FD: signal.SIGSEGV, 0xC000001D: signal.SIGILL,
                     0xC0000096: signal.SIGILL, 0xC0000094: signal.SIGFPE, 0xC0000409: signal.SIGABRT}


def exit_signal(code: int | None) -> int | None:
    """The signal that ended a process with exit code ``code`` (None when none did)."""
    if code is None:
        return None
    if code < 0:
        return -code
    if sys.platform == "win32":
        return _NTSTATUS_SIGNALS.get(code & 0xFFFFFFFF)
    return None


def exit_words(code: int | None) -> str:
    """``code`` (a ``Process.exitcode``; None: it ended without one) in a few words."""
    sig = exit_signal(code)
    if sig is not None:
        words = _SIGNAL_WORDS.get(sig)
        if words is None:
            try:
                words = (signal.strsignal(sig) or f"signal {sig}").lower()
            except (ValueError, AttributeError):
                words = f"signal {sig}"
        return words
    if code is None:
        return "lost contact"
    return f"exit code {code}"


# ---- errors on the wire ---------------------------------------------------------------------

def one_line(text: str, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def error_to_wire(exc: BaseException) -> tuple[str, str]:
    """(name of its class in ``reader_app.core.errors``, one-line message); ``""`` for a bug."""
    if isinstance(exc, ReaderError):
        for cls in type(exc).__mro__:
            if getattr(errors, cls.__name__, None) is cls:
                return cls.__name__, one_line(str(exc))
    detail = one_line(str(exc))
    return "", f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


def error_from_wire(body: tuple[str, str], internal: Callable[[str], Exception] = ReaderError) -> Exception:
    """The exception to raise here for an error that came from a child."""
    name, message = body
    if not name:
        return internal(message)
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, ReaderError)):
        cls = ReaderError
    return cls(message)


# ---- services by name -----------------------------------------------------------------------

def resolve(ref: str) -> Callable:
    """``"module:name"`` -> the object."""
    module, _, name = ref.partition(":")
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def ref(service: str | Callable) -> str:
    """A module-level class or function as ``"module:name"`` (what ``resolve`` reads); the
    child imports that module by name, so it cannot be the main script's."""
    if isinstance(service, str):
        return service
    return f"{service.__module__}:{service.__qualname__}"
