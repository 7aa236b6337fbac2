"""Opening, measuring and closing the PDF view's documents in the background.

``DocumentLoader(view, pool)`` is owned by ``PdfView`` (``view.loader``) and runs its work on
the view's render pool (one thread).  A document is opened by ``reader_app.pdf.render`` in
its helper process (``READER_APP_RENDER_INPROCESS=1``: in this process), and reported by
``opened(doc)`` or ``failed(exc)`` (``PasswordError`` for encrypted files).  ``measure(doc)``
fetches every page's exact size (a long document opens with most sizes estimated) and
reports them by ``measured(doc, sizes)``; a dead helper reports nothing (the estimate
stays).  ``close(doc)`` closes a document; the results of anything started before it are
ignored (a document opened by then is closed).
"""

from __future__ import annotations

import gc
import os

from PySide6.QtCore import QObject, Signal

from reader_app.ui.background.ops import run_op


class DocumentLoader(QObject):
    opened = Signal(object)
    failed = Signal(object)
    measured = Signal(object, object)

    def __init__(self, parent, pool):
        super().__init__(parent)
        self._pool = pool
        self._generation = 0

    def open(self, path: str, password: str | None = None) -> None:
        gen = self._generation

        def done(doc):
            if gen != self._generation:
                doc.close()
                return
            self.opened.emit(doc)

        def failed(exc):
            if gen == self._generation:
                self.failed.emit(exc)

        def work():
            from reader_app.pdf import render  # deferred: imports pymupdf, kept off the GUI thread

            if os.environ.get("READER_APP_RENDER_INPROCESS"):
                return render.open_document(path, password)
            return render.open_document_isolated(path, password)

        run_op(self, work, on_success=done, on_failure=failed, pool=self._pool)

    def warm_up(self) -> None:
        """Start the render helper process (it imports PyMuPDF, ~2 s) before it is needed."""

        def work():
            from reader_app.pdf import render  # deferred: imports pymupdf, kept off the GUI thread

            if not os.environ.get("READER_APP_RENDER_INPROCESS"):
                render.start_helper()

        def done(_result):
            gc.freeze()  # the big import is over: keep its objects out of later (GIL-holding) GC passes

        run_op(None, work, on_success=done, pool=self._pool)

    def measure(self, doc) -> None:
        """Fetch the exact size of every page of ``doc`` (None: nothing to measure)."""
        if doc is None:
            return
        gen = self._generation

        def done(sizes):
            if gen == self._generation:
                self.measured.emit(doc, sizes)

        run_op(self, lambda: doc.page_sizes(exact=True), on_success=done, on_failure=lambda _exc: None,
               pool=self._pool)  # a dead helper: the estimate stays; the next page render reports it

    def close(self, doc) -> None:
        """Close ``doc`` (None: none is open) and ignore what was started before."""
        self._generation += 1
        if doc is not None:
            run_op(None, doc.close, pool=self._pool)
