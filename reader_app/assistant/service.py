"""The assistant service: questions and summaries over one paper at a time, or across the
library, for the UI, the CLI and ``reader-app eval``.

What the UI and the CLI call::

    from reader_app.assistant.service import Assistant
    assistant = Assistant(engine, library=None)        # library: a reader_app.library Library, optional
    #   options: k=3, use_grammar=True (GBNF-shaped replies), max_answer_tokens=None (the style's),
    #            evidence_candidates=None (the setting; 0 = Evidence may cite any paragraph),
    #            max_window_tokens=None (cap a window below the model's context), temperature=0, seed=0,
    #            answer_style=None, probe=None, samples=None, passage_demos=None (the settings),
    #            answer_ttft_s=None (the setting: the first-token target of answers from passages),
    #            passage_tokens=None (a fixed passage budget, for evals),
    #            speeds=None (a llm.speeds.SpeedStore; default: prompt-speeds.json in the cache dir)
    answer = assistant.ask(paper, "What dataset do they use?",
                           mode="doubledipper",         # or "zero-shot", "zero-shot-evidence"
                           k=3,                          # number of demonstrations
                           selection=Selection(text, page),  # optional: a passage the question is about
                           on_update=callback,           # AnswerUpdate(text, evidence, phase) while it streams
                           cancel=threading.Event())     # set it to stop between tokens
    # -> reader_app.core.Answer(answer, answerable, citations=[Citation(...)], mode, model, timings,
    #                          confidence)   # in [0, 1] from the model's token probabilities (confidence.py)
    #    answer.raw holds the model's own text (before parsing / the "does not say" replacement)
    answer = assistant.ask_quick(paper, question, ...)    # from the paper's best passages: seconds, mode "quick"
    answer = assistant.ask_library(question, Scope(...), ...)  # across papers; each citation names its paper
    passages = assistant.passages(paper, question)        # the best paragraphs, before the answer
    sections = assistant.summarize(paper, None | section_index | "all" | "tldr", on_token=..., cancel=...,
                                   on_update=callback)  # SummaryUpdate(section, title, text, phase)
    # -> [{"title", "summary", "citations": [paragraph numbers]}]   (see summaries.py)
    report = assistant.prepare(paper, cancel=..., progress=...)   # see prepare.py

All are blocking and meant for a worker thread (one engine, one thread); one lock keeps
them one at a time.  ``on_update`` receives structured updates (the reply format stays in
this package: ``reply.live_view``); ``on_token`` the raw stream, for debugging and the
CLI; ``progress`` one-line notes on what runs now.  An empty question raises BadInput; a
set ``cancel`` raises Cancelled.  An answer is kept in the paper's Q&A history when the
paper is in the library (a library question's, in the first paper it cites).

Settings are read once per request (request.py).  The work is done by the parts the
``Assistant`` holds: the full answer from a paper's window (window_answers.py), answers
from passages (passage_answers.py), streaming one answer and its confidence
(streaming.py), demonstrations (demos.py), summaries (summaries.py) and preparation
(prepare.py).  Every generation goes through ``Assistant.generate``, which records the
model's prompt speed on this machine (llm/speeds.py) for ``passage_budget``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from reader_app.assistant import budget, prompts, streaming, summaries
from reader_app.assistant.answers import NOT_ANSWERED_TEXT, shape_answer  # noqa: F401  (callers import them here)
from reader_app.assistant.demos import DemoWriter, demo_candidates
from reader_app.assistant.paper_store import LibraryPort, PaperStore
from reader_app.assistant.passage_answers import PassageAnswers
from reader_app.assistant.prepare import prepare_paper
from reader_app.assistant.prompts import Demo
from reader_app.assistant.ranking import Ranker
from reader_app.assistant.request import Overrides, Request, tidy_question
from reader_app.assistant.streaming import SAMPLE_TEMPERATURE, Hooks  # noqa: F401  (callers import it here)
from reader_app.assistant.style import BUDGET, AnswerStyle
from reader_app.assistant.window_answers import WindowAnswers, check_mode
from reader_app.assistant.windows import Window, build_windows
from reader_app.core.errors import BadInput
from reader_app.core.model import Answer, AnswerUpdate, Paper, Passage, Scope, Selection, SummaryUpdate, Timings
from reader_app.llm.engine import Engine, GenerateOptions, Generation
from reader_app.llm.speeds import SpeedStore


class Assistant:
    """Questions, summaries and preparation over one paper at a time, for the UI and the CLI."""

    def __init__(self, engine: Engine, library: LibraryPort | None = None, *, k: int = 3,
                 max_answer_tokens: int | None = None, use_grammar: bool = True, temperature: float = 0.0,
                 seed: int = 0, max_window_tokens: int | None = None, evidence_candidates: int | None = None,
                 answer_style: str | None = None, ranker: Ranker | None = None, probe: bool | None = None,
                 samples: int | None = None, passage_demos: str | None = None,
                 answer_ttft_s: float | None = None, speeds: SpeedStore | None = None,
                 passage_tokens: int | None = None):
        self.engine = engine
        self.store = PaperStore(library)
        self.ranker = ranker or Ranker(library)
        self.k = k
        self.use_grammar = use_grammar
        self.temperature = temperature
        self.seed = seed
        self.max_window_tokens = max_window_tokens
        # None: the setting, read at each request
        self._given = Overrides(answer_style=answer_style, max_answer_tokens=max_answer_tokens,
                                evidence_candidates=evidence_candidates, probe=probe, samples=samples,
                                passage_demos=passage_demos, answer_ttft_s=answer_ttft_s)
        self.speeds = speeds or SpeedStore()  # measured prompt speeds (llm/speeds.py), kept per model
        self._windows: dict[tuple, list[Window]] = {}
        self._demos = DemoWriter(self.store)
        self._window_answers = WindowAnswers()
        self._passage_answers = PassageAnswers(self.store, passage_tokens)
        self._lock = threading.Lock()

    # -- settings (request.py) ---------------------------------------------------------------
    def request(self, mode: str = "doubledipper", k: int | None = None) -> Request:
        """The settings one request runs with, read once (the settings file may change between
        questions, never within one)."""
        return self._given.request(self.engine, mode, self.k if k is None else k)

    @property
    def style(self) -> AnswerStyle:
        """How answers are shaped for this model (style.py): the given style, else the setting."""
        return self.request().style

    @property
    def evidence_candidates(self) -> int:
        """How many best-ranked paragraphs Evidence may cite (0 = any): as given, else the
        setting, else the answer style's (5 for a small model, 10 for a capable one)."""
        return self.request().evidence_candidates

    @property
    def max_answer_tokens(self) -> int:
        return self.answer_tokens(self.style)

    def answer_tokens(self, style: AnswerStyle) -> int:
        return self._given.answer_tokens(style)

    @property
    def answer_ttft_s(self) -> float:
        """Seconds to the first token that answers from passages aim at: as given, else the setting."""
        return self._given.first_token_target()

    @property
    def prompt_speed(self) -> float | None:
        """This model's measured prompt speed on this machine (tokens/s), None before the first."""
        return self.speeds.speed(self.model_key)

    def record_speed(self, timings: Timings) -> float | None:
        """Keep the prompt speed a generation's ``timings`` show (llm/speeds.py); returns it."""
        return self.speeds.record(self.model_key, timings)

    def passage_budget(self, fixed_tokens: int, *, other_tokens: int = 0, floor: int = budget.QUICK_FLOOR) -> int:
        """Passage tokens an answer from passages can read now (budget.py): as many as this
        machine evaluates in ``answer_ttft_s`` besides ``fixed_tokens`` (the rest of the prompt
        it evaluates anew: the question), at least ``floor``, at most what the context holds
        besides those, ``other_tokens`` (the rest of the prompt, from a cached state) and the answer."""
        return self._passage_answers.budget(self, fixed_tokens, other_tokens, floor)

    @property
    def model_key(self) -> str:
        """What names the model in caches (its file and settings)."""
        return self.engine.key

    @property
    def demo_log(self) -> Counter:
        """Demonstrations written so far: "tried", "kept", and each rejection reason."""
        return self._demos.log

    # -- windows (windows.py) -----------------------------------------------------------------
    def reserve(self, mode: str, k: int, style: AnswerStyle | None = None) -> int:
        """Tokens kept free for system prompt, demonstrations, question and answer."""
        count = self.engine.count_tokens
        b = BUDGET
        system = count(prompts.system_for(mode)) + b.chat_template
        question = b.question + self.answer_tokens(style or self.style)
        demos = mode == "doubledipper"
        demo_cost = (count(prompts.DEMO_INTRO) + b.demo_intro + k * b.per_demo) if demos else 0
        demo_gen = b.demo_paragraph + b.demo_reply if demos else 0
        return system + max(question + demo_cost, demo_gen) + b.margin

    def windows(self, paper: Paper, mode: str = "doubledipper", k: int | None = None,
                style: AnswerStyle | None = None) -> list[Window]:
        """The paper's section-aligned windows for this model, cut once per budget."""
        k = self.k if k is None else k
        budget = max(BUDGET.min_window, self.engine.n_ctx - self.reserve(mode, k, style))
        if self.max_window_tokens:
            budget = min(budget, max(BUDGET.min_window, self.max_window_tokens))
        key = (paper.id, len(paper.paragraphs), self.model_key, budget)
        if key not in self._windows:
            ws = build_windows(paper, self.engine.count_tokens, budget)
            if not ws:
                raise BadInput("this paper has no text to ask about")
            self._windows[key] = ws
        return self._windows[key]

    # -- ranking (ranking.py; one ranking per question) -------------------------------------
    def ranking(self, paper: Paper, question: str) -> list[tuple[int, float]]:
        """[(paragraph index, score)] best first."""
        return self.ranker.rank(paper, question, self.store.library)

    def passages(self, paper: Paper, question: str, n: int = 5) -> list[Passage]:
        """The ``n`` best-matching paragraphs, from the question's ranking."""
        return self.ranker.passages(paper, question, n, self.store.library)

    def candidates(self, paper: Paper, question: str, window: Window, n: int | None = None) -> list[int]:
        """The paragraph numbers an evidence reply may cite: the window's ``n`` (default: the
        ``evidence_candidates`` setting) best by BM25, in reading order ([] = any paragraph,
        also when nothing matches)."""
        n = self.evidence_candidates if n is None else n
        if n <= 0:
            return []
        ranked = [i + 1 for i, _ in self.ranking(paper, question) if i + 1 in window.paragraphs]
        return sorted(ranked[:n])

    # -- demonstrations (demos.py) ---------------------------------------------------------
    def demonstrations(self, paper: Paper, window: Window, k: int | None = None,
                       cancel: threading.Event | None = None,
                       progress: Callable[[str], None] | None = None,
                       style: AnswerStyle | None = None) -> list[Demo]:
        return self._demos.demonstrations(self, paper, window, self.k if k is None else k, style or self.style,
                                          cancel, progress)

    def demo_candidates(self, paper: Paper, window: Window) -> list[int]:
        return demo_candidates(self.engine.count_tokens, paper, window, self.seed)

    # -- the full answer (window_answers.py) ----------------------------------------------
    def prompt(self, paper: Paper, question: str, mode: str = "doubledipper", k: int | None = None,
               cancel: threading.Event | None = None,
               progress: Callable[[str], None] | None = None, *,
               request: Request | None = None) -> tuple[str, str, Window]:
        """(prefix, suffix, window) for a question (as the model reads it: with its selection,
        ``prompts.with_selection``); generates demonstrations if needed."""
        return self._window_answers.prompt(self, paper, question, mode, k, cancel, progress, request)

    def ask(self, paper: Paper, question: str, mode: str = "doubledipper", k: int | None = None,
            on_token: Callable[[str], None] | None = None,
            cancel: threading.Event | None = None,
            progress: Callable[[str], None] | None = None, *,
            selection: Selection | None = None,
            on_update: Callable[[AnswerUpdate], None] | None = None) -> Answer:
        """Answer ``question`` (about ``selection``, a passage the reader selected, if given);
        ``progress`` gets one-line notes on what runs now, ``on_update`` the answer so far."""
        question, selection = tidy_question(question, selection)
        if not paper.paragraphs:
            raise BadInput("this paper has no text to ask about")
        check_mode(mode)
        with self._lock:
            answer = self._window_answers.answer(self, paper, question, selection, mode, k,
                                                 Hooks(cancel, on_token, on_update, progress))
        answer.id = self.store.save_answer(paper, answer)
        return answer

    def make_answer(self, paper: Paper, question: str, raw: str, primer: str, window: Window,
                    mode: str, cut: bool = False, style: AnswerStyle | None = None) -> Answer:
        """The shown answer from the model's reply; ``cut``: the reply hit the token cap."""
        return self._window_answers.make_answer(self.engine.name, paper, question, raw, primer, window, mode, cut,
                                                style or self.style)

    # -- answers from passages (passage_answers.py) -------------------------------------------
    def ask_quick(self, paper: Paper, question: str, *, on_token: Callable[[str], None] | None = None,
                  cancel: threading.Event | None = None, progress: Callable[[str], None] | None = None,
                  selection: Selection | None = None,
                  on_update: Callable[[AnswerUpdate], None] | None = None) -> Answer:
        """A quick answer from ``paper``'s best passages (passage_qa.py), for a paper not prepared
        yet: seconds instead of minutes; ``mode`` of the answer is "quick"."""
        if not paper.paragraphs:
            raise BadInput("this paper has no text to ask about")
        question, selection = tidy_question(question, selection)
        with self._lock:
            answer = self._passage_answers.quick(self, paper, question, selection,
                                                 Hooks(cancel, on_token, on_update, progress))
        answer.id = self.store.save_answer(paper, answer)
        return answer

    def ask_library(self, question: str, scope: Scope | None = None, *,
                    on_token: Callable[[str], None] | None = None, cancel: threading.Event | None = None,
                    progress: Callable[[str], None] | None = None, selection: Selection | None = None,
                    on_update: Callable[[AnswerUpdate], None] | None = None) -> Answer:
        """Answer ``question`` across the papers of ``scope`` (default: the whole library) from
        their best passages; each citation names its paper (``Citation.paper_id``).  The answer
        is kept in the history of the first paper it cites."""
        question, selection = tidy_question(question, selection)
        with self._lock:
            answer = self._passage_answers.library(self, question, scope or Scope(), selection,
                                                   Hooks(cancel, on_token, on_update, progress))
        if answer.paper_id:
            answer.id = self.store.save_answer(Paper(id=answer.paper_id), answer)
        return answer

    def passage_demos(self, paper_id: str | None, variant: str | None = None) -> list:
        """The recycled demonstrations (``recycled.PassageDemo``) a passage answer about
        ``paper_id`` (None: a library question) carries, in ``variant`` (default: the setting)."""
        return self._passage_answers.demos(self, paper_id, variant)

    def passage_prefix(self, paper_id: str | None, variant: str | None = None) -> str:
        """The prompt prefix of a passage answer about ``paper_id`` (None: a library question, or
        a quick answer on a paper without demonstrations of its own): the system message and the
        recycled demonstrations; the same for every question while the library's kept
        demonstrations stay the same."""
        return self._passage_answers.prefix(self, paper_id, variant)

    def warm_passages(self, cancel: threading.Event | None = None) -> int:
        """Evaluate (or find cached) the prefix quick answers on unprepared papers and library
        questions start from, so that the first of them does not pay for the demonstrations;
        returns the tokens it holds (0: no demonstrations kept yet, or none recycled across
        papers: the default ``passage_demos`` "own")."""
        return self._passage_answers.warm(self, cancel)

    # -- summaries and preparation -----------------------------------------------------------
    def summarize(self, paper: Paper, section_index=None, on_token=None, cancel=None, *,
                  force: bool = False, progress: Callable[[str], None] | None = None,
                  on_update: Callable[[SummaryUpdate], None] | None = None) -> list[dict]:
        """``force``: ignore cached summaries and write (and cache) fresh ones; ``on_update``:
        a ``SummaryUpdate`` as each part streams and when it is done (summaries.py)."""
        with self._lock:
            return summaries.summarize(self, paper, section_index, on_token=on_token, cancel=cancel,
                                       force=force, progress=progress, on_update=on_update)

    def prepare(self, paper: Paper, *, mode: str = "doubledipper", k: int | None = None,
                cancel: threading.Event | None = None, progress=None) -> dict:
        """Prepare ``paper`` for questions ahead of time (prepare.py)."""
        with self._lock:
            return prepare_paper(self, paper, mode=mode, k=k, cancel=cancel, progress=progress)

    # -- generation (streaming.py) -------------------------------------------------------------
    def generate(self, prefix: str, suffix: str, *, max_tokens: int, stop: list[str],
                 cancel: threading.Event | None, on_piece: Callable[[str], None] | None = None,
                 grammar: str | None = None, until: Callable[[str], bool] | None = None,
                 base: str | None = None, temperature: float | None = None, seed: int | None = None) -> Generation:
        """One completion, streamed to ``on_piece``; stops early once ``until(text so far)``
        holds.  ``base``: the part of ``prefix`` other prompts share (the paper), for engines
        that cache it apart; ``temperature``/``seed``: other than the assistant's (sampled
        answers).  Returns the finished Generation (its text, timings and probabilities), its
        prompt speed recorded."""
        options = GenerateOptions(max_tokens=max_tokens, stop=tuple(stop), grammar=grammar, base=base,
                                  temperature=self.temperature if temperature is None else temperature,
                                  seed=self.seed if seed is None else seed)
        gen = streaming.complete(self.engine, prefix, suffix, options, cancel, on_piece, until)
        self.record_speed(gen.timings)
        return gen
