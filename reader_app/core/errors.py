"""Errors a user may see. Each carries a one-line message fit for the CLI or a dialog.

Anything derived from ``ReaderError`` is *expected* (bad input, missing model, ...):
the CLI prints ``reader-app: error: <message>`` and exits 2.  Any other exception is
an internal bug (exit 1).
"""


class ReaderError(Exception):
    """Base class for errors caused by the user's input or environment."""

    def __str__(self) -> str:  # always one line
        msg = super().__str__()
        return " ".join(msg.split()) or self.__class__.__name__


class BadInput(ReaderError):
    """Generic invalid input (empty question, bad option value, ...)."""


class NotFound(ReaderError):
    """A paper, note, section or model that does not exist."""


class AmbiguousId(ReaderError):
    """An id prefix that matches more than one paper."""


class PdfError(ReaderError):
    """A file that cannot be read as a PDF (broken, empty, not a PDF, ...)."""


class PasswordError(PdfError):
    """An encrypted PDF opened without its password, or with a wrong one."""


class ModelError(ReaderError):
    """A missing, corrupt or unusable model, or a failing model server."""


class Cancelled(ReaderError):
    """An operation stopped at the user's request."""


class ModelCrashed(ModelError):
    """The model's process died (a signal, an abort, out of memory); the next request restarts it."""


class HelperProcessError(ReaderError):
    """A helper process (page renderer, PDF import) that could not start or stopped."""
