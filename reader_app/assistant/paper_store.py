"""What the assistant keeps about papers: demonstrations, summaries and answers.

``PaperStore`` holds them in RAM and, for a paper in the library, in the library too.
It talks to the library through ``LibraryPort``: the few methods of
``reader_app.library.Library`` the assistant needs, named and typed here so that a missing
method is an error at once rather than a silently skipped cache (the assistant used to
look methods up by name and swallow ``AttributeError``).  ``library=None`` (papers held in
memory only, e.g. ``reader-app eval``) keeps everything in RAM.
"""

from __future__ import annotations

import threading
from typing import Protocol

from reader_app.core.errors import NotFound
from reader_app.core.model import Answer, Paper, Paragraph


class LibraryPort(Protocol):
    """The part of ``reader_app.library.Library`` the assistant uses."""

    def get_paper(self, id_or_prefix: str, with_paragraphs: bool = True) -> Paper: ...
    def paragraphs(self, paper_id: str) -> list[Paragraph]: ...
    def rank_paragraphs(self, paper_id: str, query: str, limit: int | None = None) -> list[tuple[int, float]]: ...
    def get_demonstrations(self, paper_id: str, model_key: str, window_key: str) -> list[dict] | None: ...
    def put_demonstrations(self, paper_id: str, model_key: str, window_key: str, demos: list[dict]) -> None: ...
    def list_demonstrations(self, model_key: str) -> list[tuple[str, str, list[dict]]]: ...
    def get_summary(self, paper_id: str, model_key: str, section_key: str) -> dict | None: ...
    def put_summary(self, paper_id: str, model_key: str, section_key: str, data: dict) -> None: ...
    def add_qa(self, answer: Answer) -> int: ...


class PaperStore:
    """Demonstrations and summaries in RAM, backed by the library for papers it holds."""

    def __init__(self, library: LibraryPort | None = None):
        self.library = library
        self._demos: dict[tuple, list] = {}
        self._papers: dict[str, Paper] = {}  # the papers demonstrations were kept for in RAM
        self._summaries: dict[tuple, dict] = {}
        self._lock = threading.Lock()

    def holds(self, paper: Paper) -> bool:
        """Whether ``paper`` is in the library (so what is made for it is kept there)."""
        if self.library is None or not paper.id:
            return False
        try:
            return self.library.get_paper(paper.id, with_paragraphs=False) is not None
        except NotFound:
            return False

    # -- demonstrations: key = (paper id, model key, window key) ---------------------------
    def demonstrations(self, paper: Paper, model_key: str, window_key: str) -> list[dict] | None:
        """The stored demonstrations (dicts), or None when none were written yet."""
        with self._lock:
            found = self._demos.get((paper.id, model_key, window_key))
        if found is not None:
            return found
        if not self.holds(paper):
            return None
        try:
            return self.library.get_demonstrations(paper.id, model_key, window_key)
        except NotFound:
            return None

    def save_demonstrations(self, paper: Paper, model_key: str, window_key: str, demos: list[dict]) -> None:
        with self._lock:
            self._demos[(paper.id, model_key, window_key)] = list(demos)
            if paper.paragraphs:
                self._papers[paper.id] = paper
        if self.holds(paper):
            self.library.put_demonstrations(paper.id, model_key, window_key, list(demos))

    def all_demonstrations(self, model_key: str) -> list[tuple[str, list[dict]]]:
        """[(paper id, demonstrations)] of every window kept for ``model_key``, in RAM and in the
        library, in a stable order (by paper id, then window key): what passage answers
        recycle (``recycled.py``)."""
        with self._lock:
            found = {(pid, wkey): demos for (pid, mkey, wkey), demos in self._demos.items() if mkey == model_key}
        if self.library is not None:
            for pid, wkey, demos in self.library.list_demonstrations(model_key):
                found.setdefault((pid, wkey), demos)
        return [(pid, demos) for (pid, _wkey), demos in sorted(found.items()) if demos]

    def paper(self, paper_id: str) -> Paper | None:
        """A paper demonstrations were kept for, with its paragraphs (RAM, else the library)."""
        with self._lock:
            paper = self._papers.get(paper_id)
        if paper is not None or self.library is None:
            return paper
        try:
            return self.library.get_paper(paper_id)
        except NotFound:
            return None

    # -- summaries: key = (paper id, model key, section key) --------------------------------
    def summary(self, paper: Paper, model_key: str, section_key: str) -> dict | None:
        with self._lock:
            found = self._summaries.get((paper.id, model_key, section_key))
        if found is not None or not self.holds(paper):
            return found
        try:
            return self.library.get_summary(paper.id, model_key, section_key)
        except NotFound:
            return None

    def save_summary(self, paper: Paper, model_key: str, section_key: str, data: dict) -> None:
        with self._lock:
            self._summaries[(paper.id, model_key, section_key)] = dict(data)
        if self.holds(paper):
            self.library.put_summary(paper.id, model_key, section_key, dict(data))

    # -- answers ---------------------------------------------------------------------------
    def save_answer(self, paper: Paper, answer: Answer) -> int | None:
        """Keep ``answer`` in the paper's Q&A history; its row id, or None outside the library."""
        if not self.holds(paper):
            return None
        return self.library.add_qa(answer)
