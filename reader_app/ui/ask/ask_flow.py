"""What the Ask tab asks next: the quick -> full -> library decisions, without Qt.

The Ask panel tells an :class:`AskFlow` what happened (a question was asked, the paper got
prepared, the running answer finished, failed or was stopped, the paper was switched) and
gets back the :class:`AskRequest` to start next, or None.  The flow never starts anything
and imports nothing from Qt, so it is tested on its own (tests/test_ask_flow.py)::

    flow = AskFlow()
    flow.set_paper("p1")
    req = flow.ask("What corpus?", mode="doubledipper", preparing=True)
    # AskRequest(kind="quick", ...): a quick answer from the best passages now
    flow.finished(quick_answer)               # None: the full answer waits for the paper
    flow.prepared("p1", "doubledipper")       # AskRequest(kind="paper", ...): the full answer
    flow.finished(full_answer)                # None

Rules:

- A DoubleDipper question on a paper still being prepared (with quick answers on) gets a
  quick answer first; the full answer to the same question follows by itself once the
  paper is prepared and the quick answer is in, or at once with :meth:`full_now`.
- A quick answer that fails or is stopped drops the full answer that was to follow.
- A question across papers (:meth:`ask_library`) replaces any full answer still to come,
  and stays when the reader opens another paper (its chips open the papers it cites).
- One request at a time: asking while one runs does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

QUICK, PAPER, LIBRARY = "quick", "paper", "library"
DOUBLEDIPPER = "doubledipper"


@dataclass(frozen=True)
class AskRequest:
    """A question for the model: ``kind`` QUICK or PAPER (``LlmWorker.ask``), or LIBRARY
    (``LlmWorker.ask_library`` with ``scope``)."""

    kind: str
    question: str
    paper_id: str | None = None
    selection: object = None  # core.model.Selection | None
    mode: str = DOUBLEDIPPER
    scope: object = None  # core.model.Scope, for LIBRARY

    @property
    def quick(self) -> bool:
        return self.kind == QUICK


@dataclass
class PendingFull:
    """A question answered quickly, whose full answer is still to come."""

    paper_id: str
    question: str
    selection: object  # core.model.Selection | None
    mode: str
    answer: object = None  # the quick Answer, once it is in
    due: bool = False  # the paper is prepared: ask the full answer when nothing runs


class AskFlow:
    def __init__(self):
        self.paper_id: str | None = None
        self.running: AskRequest | None = None  # the request whose answer is awaited
        self.pending: PendingFull | None = None

    @property
    def busy(self) -> bool:
        return self.running is not None

    # ---- the reader --------------------------------------------------------------------
    def set_paper(self, paper_id: str | None, *, showing_library: bool = False) -> bool:
        """Another paper is open.  Returns whether the running or shown answer stays (one
        across papers: ``showing_library`` says the shown answer is one).  When it does not,
        the running request (if any) is dropped: the panel cancels it."""
        if self.running is not None:
            keep = self.running.kind == LIBRARY
        else:
            keep = showing_library
        if not keep:
            self.running = None
        self.pending = None
        self.paper_id = paper_id
        return keep

    def ask(self, question: str, *, selection=None, mode: str = DOUBLEDIPPER, preparing: bool = False,
            quick_on: bool = True) -> AskRequest | None:
        """A question about the open paper (or about ``selection``, a passage of it).
        ``preparing``: the paper's preparation for ``mode`` is under way; ``quick_on``: the
        ``quick_answer`` setting."""
        if self.busy or not self.paper_id or (not question and selection is None):
            return None
        quick = mode == DOUBLEDIPPER and preparing and quick_on
        self.pending = PendingFull(self.paper_id, question, selection, mode) if quick else None
        return self._start(AskRequest(QUICK if quick else PAPER, question, self.paper_id, selection, mode))

    def ask_library(self, question: str, scope) -> AskRequest | None:
        """A question across the papers of ``scope``."""
        if self.busy or not question:
            return None
        self.pending = None
        return self._start(AskRequest(LIBRARY, question, scope=scope))

    def full_now(self) -> AskRequest | None:
        """The full answer to the question answered quickly, without waiting ("Full answer now")."""
        pending = self.pending
        if pending is None or self.busy or pending.paper_id != self.paper_id:
            return None
        self.pending = None
        return self._start(AskRequest(PAPER, pending.question, pending.paper_id, pending.selection, pending.mode))

    # ---- the model ---------------------------------------------------------------------
    def prepared(self, paper_id: str, mode: str) -> AskRequest | None:
        """The paper's preparation for ``mode`` completed."""
        pending = self.pending
        if pending is not None and (pending.paper_id, pending.mode) == (paper_id, mode):
            pending.due = True
        return self._next()

    def finished(self, answer) -> AskRequest | None:
        """The running request answered."""
        request, self.running = self.running, None
        if request is not None and request.quick and self.pending is not None:
            self.pending.answer = answer
        return self._next()

    def failed(self) -> AskRequest | None:
        """The running request failed (no model, a removed paper, ...)."""
        return self._ended_without_answer()

    def cancelled(self) -> AskRequest | None:
        """The running request was stopped."""
        return self._ended_without_answer()

    # ---- what to show ------------------------------------------------------------------
    def awaiting_full(self, answer=None) -> bool:
        """Whether the quick note shows: a quick answer runs, or ``answer`` is the quick
        answer whose full one is still to come."""
        pending = self.pending
        if pending is None:
            return False
        if answer is None:
            return self.running is not None and self.running.quick
        return pending.answer is answer

    # ---- internals ---------------------------------------------------------------------
    def _start(self, request: AskRequest) -> AskRequest:
        self.running = request
        return request

    def _ended_without_answer(self) -> AskRequest | None:
        request, self.running = self.running, None
        if request is not None and request.quick and self.pending is not None and self.pending.answer is None:
            self.pending = None  # no full answer follows by itself
        return self._next()

    def _next(self) -> AskRequest | None:
        pending = self.pending
        if pending is not None and pending.due and pending.answer is not None and not self.busy:
            return self.full_now()
        return None
