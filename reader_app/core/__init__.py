"""Plain dataclasses and errors shared by every layer. Standard library only."""

from reader_app.core.errors import (  # noqa: F401
    AmbiguousId,
    BadInput,
    Cancelled,
    ModelError,
    NotFound,
    PasswordError,
    PdfError,
    ReaderError,
)
from reader_app.core.model import (  # noqa: F401
    Answer,
    Citation,
    Note,
    Paper,
    Paragraph,
    SearchHit,
    Section,
    Timings,
)
