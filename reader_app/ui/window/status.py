"""The status bar's permanent part: running operations with progress and Cancel, the model.

``OpStatus`` listens to ``reader_app.ui.background.jobs.tracker``: every job started with a ``label``
(``ui.background.ops`` operations and the LLM worker's requests alike) shows as "label… text" with a
progress bar (busy when the total is unknown) and a Cancel button when it is cancellable.
A background job (indexing by meaning) gives the place to any other job while that runs.
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from reader_app.ui.background.jobs import tracker


class OpStatus(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setMaximumHeight(14)
        self.bar.setTextVisible(False)
        self.cancel_button = QToolButton(text="Cancel", autoRaise=True)
        self.cancel_button.clicked.connect(self._cancel)
        self._cancel_fn = None
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_button)
        tracker.started.connect(self._changed)
        tracker.finished.connect(self._changed)
        tracker.progressed.connect(self._changed)
        self._refresh()

    def _ops(self):
        """Labelled jobs still running, the reader's own before background ones."""
        return sorted((op for op in tracker.running if op.label and not op.done), key=lambda op: op.background)

    def _current(self):
        ops = self._ops()
        if ops:
            op = ops[0]
            done, total, text = op.last_progress
            return (op.label, text, done, total, op.cancel if op.cancellable else None, len(ops))
        return None

    def _changed(self, _op=None) -> None:
        self._refresh()

    def _refresh(self) -> None:
        cur = self._current()
        if cur is None:
            self.hide()
            return
        label, text, done, total, cancel, n = cur
        more = f" (+{n - 1} more)" if n > 1 else ""
        self.label.setText(f"{label}…{(' ' + text) if text else ''}{more}")
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        else:
            self.bar.setRange(0, 0)  # busy
        self._cancel_fn = cancel
        self.cancel_button.setVisible(cancel is not None)
        self.show()

    def _cancel(self) -> None:
        fn = self._cancel_fn
        if fn is not None:
            fn()
            self.label.setText("Cancelling…")
