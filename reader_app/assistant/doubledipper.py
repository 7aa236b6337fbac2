"""Question answering, DoubleDipper style (arXiv 2406.13632), and the Assistant service.

What the UI and the CLI call::

    from reader_app.assistant.doubledipper import Assistant
    assistant = Assistant(engine, library=None)        # library: a reader_app.library Library, optional
    #   options: k=3, use_grammar=True (GBNF-shaped replies), max_answer_tokens=64,
    #            evidence_candidates=None (the setting; 0 = Evidence may cite any paragraph),
    #            max_window_tokens=None (cap a window below the model's context), temperature=0, seed=0
    answer = assistant.ask(paper, "What dataset do they use?",
                           mode="doubledipper",         # or "zero-shot", "zero-shot-evidence"
                           k=3,                          # number of demonstrations
                           on_token=callback,            # called with each streamed text piece
                           cancel=threading.Event())     # set it to stop between tokens
    # -> reader_app.core.Answer(answer, answerable, citations=[Citation(...)], mode, model, timings)
    #    answer.raw holds the model's own text (before parsing / the "does not say" replacement)
    sections = assistant.summarize(paper, None | section_index | "all" | "tldr", on_token=..., cancel=...)
    # -> [{"title", "summary", "citations": [paragraph numbers]}]   (see summaries.py)

Both are blocking and meant for a worker thread (one engine, one thread).  ``on_token``
receives the raw stream, starting with the primer the reply is forced to begin with
(``"Evidence: ["``); the returned Answer holds the parsed, verified result.  An empty
question raises BadInput; a set ``cancel`` raises Cancelled.

How a question is answered:

1. The paper is cut into section-aligned windows that fit ``engine.n_ctx`` with room for
   demonstrations, question and answer (windows.py); the question goes to the best
   window by BM25 (``library.rank_paragraphs`` when the paper is in the library).
2. DoubleDipper: the model writes k question/evidence/answer demonstrations from
   paragraphs of the same window, each from a prompt holding that paragraph alone;
   unsupported or off-paragraph pairs are skipped (demos.py).  They are cached per
   paper + model + window (library, and in RAM).
3. Prefix = system + fenced paper + demonstrations (identical across questions, so the
   engine reuses its KV state); suffix = the question.  The reply is primed with
   ``Evidence: [`` and parsed forgivingly (parsing.py).  The grammar lets Evidence cite
   only the question's ``evidence_candidates`` best paragraphs by BM25 (setting; by
   default the answer style's: 5 small, 10 capable; 0 = any): small models otherwise cite a
   demonstration's paragraph or [1].
4. Evidence numbers become citations, verified by lexical support (citations.py); with
   no support anywhere the answer is marked unanswerable.
5. The answer is stored with ``library.add_qa`` when the paper is in the library.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone

from reader_app.assistant import demos, prompts, settings
from reader_app.assistant.answers import NOT_ANSWERED_TEXT, _answer_done, shape_answer  # noqa: F401 - re-exported
from reader_app.assistant.engine_base import Engine
from reader_app.assistant.prompts import Demo
from reader_app.assistant.style import style_for
from reader_app.assistant.windows import Window, build_windows, rank_in_memory, route
from reader_app.core.errors import BadInput, Cancelled, NotFound, ReaderError
from reader_app.core.model import Answer, Paper, Timings

ANSWER_STOP = ["\nQuestion", "\nEvidence", "\n\n\n", "</", "<|"]

class Assistant:
    """Questions and summaries over one paper at a time, for the UI and the CLI."""

    def __init__(self, engine: Engine, library=None, *, k: int = 3, max_answer_tokens: int | None = None,
                 use_grammar: bool = True, temperature: float = 0.0, seed: int = 0,
                 max_window_tokens: int | None = None, evidence_candidates: int | None = None,
                 answer_style: str | None = None):
        self.engine = engine
        self.library = library
        self.k = k
        self._answer_style = answer_style  # None: the answer_style setting, read at each question
        self._max_answer_tokens = max_answer_tokens
        self.use_grammar = use_grammar
        self.temperature = temperature
        self.seed = seed
        self.max_window_tokens = max_window_tokens
        self._evidence_candidates = evidence_candidates
        self._windows: dict[tuple, list[Window]] = {}
        self._demos: dict[tuple, list[Demo]] = {}
        self._partial_demos: dict[tuple, dict] = {}  # demonstrations of an interrupted generation
        self._lock = threading.Lock()
        self._last_demos: list[Demo] = []
        self._summaries: dict[tuple, dict] = {}
        self._ranked: tuple = (None, [])
        self.demo_log: Counter = Counter()  # demonstrations written: "tried", "kept", and each rejection reason

    @property
    def style(self):
        """How answers are shaped for this model (style.py): the given style, else the setting."""
        return style_for(self.engine, self._answer_style)

    @property
    def max_answer_tokens(self) -> int:
        return self._max_answer_tokens or self.style.max_answer_tokens

    # -- windows -------------------------------------------------------------------
    def reserve(self, mode: str, k: int) -> int:
        """Tokens kept free for system prompt, demonstrations, question and answer."""
        count = self.engine.count_tokens
        system = count(prompts.system_for(mode)) + 48
        question = 160 + self.max_answer_tokens
        demo_cost = (count(prompts.DEMO_INTRO) + 24 + k * 90) if mode == "doubledipper" else 0
        demo_gen = 360 + 64 if mode == "doubledipper" else 0  # demo tail repeats one paragraph
        return system + max(question + demo_cost, demo_gen) + 32

    def windows(self, paper: Paper, mode: str = "doubledipper", k: int | None = None) -> list[Window]:
        k = self.k if k is None else k
        budget = max(256, self.engine.n_ctx - self.reserve(mode, k))
        if self.max_window_tokens:
            budget = min(budget, max(256, self.max_window_tokens))
        key = (paper.id, len(paper.paragraphs), getattr(self.engine, "key", ""), budget)
        if key not in self._windows:
            ws = build_windows(paper, self.engine.count_tokens, budget)
            if not ws:
                raise BadInput("this paper has no text to ask about")
            self._windows[key] = ws
        return self._windows[key]

    def ranking(self, paper: Paper, question: str) -> list[tuple[int, float]]:
        """[(paragraph index, score)] best first; the last one is kept (routing and the
        evidence candidates of one question both need it)."""
        key = (paper.id, len(paper.paragraphs), question)
        if self._ranked[0] != key:
            ranked = None
            if self.library is not None and paper.id:
                try:
                    ranked = list(self.library.rank_paragraphs(paper.id, question))
                except (ReaderError, AttributeError):
                    pass
            self._ranked = (key, ranked if ranked is not None else rank_in_memory(paper, question))
        return self._ranked[1]

    def passages(self, paper: Paper, question: str, n: int = 5) -> list:
        """The ``n`` best-matching paragraphs (``Passage``), from the question's ranking."""
        from reader_app.assistant.passages import top_passages

        question = " ".join((question or "").split())
        return top_passages(paper.paragraphs, self.ranking(paper, question), n, paper.sections) if question else []

    @property
    def evidence_candidates(self) -> int:
        """How many best-ranked paragraphs Evidence may cite (0 = any): as given, else the
        setting, else the answer style's (5 for a small model, 10 for a capable one)."""
        if self._evidence_candidates is not None:
            return max(0, self._evidence_candidates)
        n = settings.int_setting("evidence_candidates")
        return self.style.evidence_candidates if n is None else n

    def candidates(self, paper: Paper, question: str, window: Window) -> list[int]:
        """The paragraph numbers an evidence reply may cite: the window's ``evidence_candidates``
        best by BM25, in reading order ([] = any paragraph, also when nothing matches)."""
        n = self.evidence_candidates
        if n <= 0:
            return []
        ranked = [i + 1 for i, _ in self.ranking(paper, question) if i + 1 in window.paragraphs]
        return sorted(ranked[:n])

    # -- demonstrations (demos.py) -----------------------------------------------------
    def demonstrations(self, paper: Paper, window: Window, k: int | None = None,
                       cancel: threading.Event | None = None,
                       progress: Callable[[str], None] | None = None) -> list[Demo]:
        return demos.demonstrations(self, paper, window, self.k if k is None else k, cancel, progress)

    def demo_candidates(self, paper: Paper, window: Window) -> list[int]:
        return demos.demo_candidates(self.engine.count_tokens, paper, window, self.seed)

    # -- questions ---------------------------------------------------------------------
    def prompt(self, paper: Paper, question: str, mode: str = "doubledipper", k: int | None = None,
               cancel: threading.Event | None = None,
               progress: Callable[[str], None] | None = None) -> tuple[str, str, Window]:
        """(prefix, suffix, window) for a question; generates demonstrations if needed."""
        if mode not in prompts.MODES:
            raise BadInput(f"unknown mode {mode!r}; choose one of {', '.join(prompts.MODES)}")
        k = self.k if k is None else k
        windows = self.windows(paper, mode, k)
        window = route(windows, self.ranking(paper, question)) if len(windows) > 1 else windows[0]
        user_prefix = window.text
        self._last_demos = []
        if mode == "doubledipper":
            self._last_demos = self.demonstrations(paper, window, k, cancel, progress)
            user_prefix += prompts.render_demos(self._last_demos)
        prefix, suffix = self.engine.chat_prefix_suffix(
            prompts.system_for(mode), user_prefix, prompts.question_tail(question, mode, self.style.name))
        return prefix, suffix + prompts.ANSWER_PRIMER[mode], window

    def ask(self, paper: Paper, question: str, mode: str = "doubledipper", k: int | None = None,
            on_token: Callable[[str], None] | None = None,
            cancel: threading.Event | None = None,
            progress: Callable[[str], None] | None = None) -> Answer:
        """Answer ``question``; ``progress`` gets one-line notes on what runs now."""
        question = " ".join((question or "").split())
        if not question:
            raise BadInput("the question is empty")
        if not paper.paragraphs:
            raise BadInput("this paper has no text to ask about")
        with self._lock:
            start = time.perf_counter()
            prefix, suffix, window = self.prompt(paper, question, mode, k, cancel, progress)
            if progress:
                progress("Answering")
            primer = prompts.ANSWER_PRIMER[mode]
            first: list[float] = []

            def emit(piece: str) -> None:
                if not first:
                    first.append(time.perf_counter() - start)
                    if on_token:
                        on_token(primer)
                if on_token:
                    on_token(piece)

            grammar = None
            if self.use_grammar:  # zero-shot cites nothing, so it needs no ranking
                cands = self.candidates(paper, question, window) if mode != "zero-shot" else None
                grammar = prompts.answer_grammar(mode, question, cands)
            style = self.style  # read once: the setting may change between questions, not within one
            base = self.engine.chat_prefix_suffix(prompts.system_for(mode), window.text, "")[0]
            raw = self._run(prefix, suffix, max_tokens=self.max_answer_tokens, stop=ANSWER_STOP,
                            cancel=cancel, on_piece=emit, grammar=grammar, base=base,
                            until=lambda text: _answer_done(primer + text, style.max_sentences))
            engine_t = getattr(self.engine, "last_timings", None) or Timings()
            total = time.perf_counter() - start
            cut = (engine_t.completion_tokens or 0) >= self.max_answer_tokens  # stopped by the cap
            answer = self.make_answer(paper, question, raw, primer, window, mode, cut=cut)
            answer.timings = Timings(prompt_tokens=engine_t.prompt_tokens, cached_tokens=engine_t.cached_tokens,
                                     ttft_s=round(first[0] if first else total, 4), total_s=round(total, 4),
                                     completion_tokens=engine_t.completion_tokens)
        self._store(paper, answer)
        return answer

    def make_answer(self, paper: Paper, question: str, raw: str, primer: str, window: Window,
                    mode: str, cut: bool = False) -> Answer:
        """The shown answer from the model's reply; ``cut``: the reply hit the token cap."""
        text, answerable, citations = shape_answer(question, raw, primer, window.paragraphs, self.style,
                                                   getattr(self, "_last_demos", []), cut)
        answer = Answer(paper_id=paper.id, question=question, answer=text, answerable=answerable,
                        citations=citations, mode=mode, model=self.engine.name, timings=Timings(),
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        answer.raw = primer + raw  # the model's own words, for display and debugging
        return answer

    # -- summaries ---------------------------------------------------------------------
    def summarize(self, paper: Paper, section_index=None, on_token=None, cancel=None, *,
                  force: bool = False, progress: Callable[[str], None] | None = None) -> list[dict]:
        """``force``: ignore cached summaries and write (and cache) fresh ones."""
        from reader_app.assistant.summaries import summarize

        with self._lock:
            return summarize(self, paper, section_index, on_token=on_token, cancel=cancel,
                             force=force, progress=progress)

    # -- plumbing ----------------------------------------------------------------------
    def _run(self, prefix: str, suffix: str, *, max_tokens: int, stop: list[str],
             cancel: threading.Event | None, on_piece: Callable[[str], None] | None = None,
             grammar: str | None = None, until: Callable[[str], bool] | None = None,
             base: str | None = None) -> str:
        """Stream one completion; stop early once ``until(text so far)`` holds.  ``base``: the
        part of ``prefix`` other prompts share (the paper), for engines that cache it apart."""
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        pieces = []
        kw = {"base": base} if base and getattr(self.engine, "shares_base", False) else {}
        it = self.engine.stream(prefix, suffix, max_tokens=max_tokens, temperature=self.temperature,
                                seed=self.seed, stop=stop, grammar=grammar, cancel=cancel, **kw)
        try:
            for piece in it:
                pieces.append(piece)
                if on_piece:
                    on_piece(piece)
                if until is not None and until("".join(pieces)):
                    break
        finally:
            close = getattr(it, "close", None)
            if close:
                close()  # the engine records its timings when its generator closes
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        return "".join(pieces)

    def _library_call(self, method: str, *args):
        fn = getattr(self.library, method, None) if self.library is not None else None
        if fn is None:
            return None
        try:
            return fn(*args)
        except (NotFound, KeyError):
            return None

    def _in_library(self, paper: Paper) -> bool:
        if self.library is None or not paper.id:
            return False
        try:
            return self.library.get_paper(paper.id) is not None
        except ReaderError:
            return False

    def _store(self, paper: Paper, answer: Answer) -> None:
        if self._in_library(paper):
            answer.id = self.library.add_qa(answer)
