"""The assistant service: questions and summaries over one paper at a time, for the UI,
the CLI and ``reader-app eval``.

What the UI and the CLI call::

    from reader_app.assistant.service import Assistant
    assistant = Assistant(engine, library=None)        # library: a reader_app.library Library, optional
    #   options: k=3, use_grammar=True (GBNF-shaped replies), max_answer_tokens=None (the style's),
    #            evidence_candidates=None (the setting; 0 = Evidence may cite any paragraph),
    #            max_window_tokens=None (cap a window below the model's context), temperature=0, seed=0,
    #            answer_ttft_s=None (the setting: the first-token target of answers from passages),
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
    sections = assistant.summarize(paper, None | section_index | "all" | "tldr", on_token=..., cancel=...,
                                   on_update=callback)  # SummaryUpdate(section, title, text, phase)
    # -> [{"title", "summary", "citations": [paragraph numbers]}]   (see summaries.py)
    report = assistant.prepare(paper, cancel=..., progress=...)   # see prepare.py

All are blocking and meant for a worker thread (one engine, one thread); one lock keeps
them one at a time.  ``on_update`` receives structured updates (the reply format stays in
this package: ``reply.live_view``); ``on_token`` the raw stream, for debugging and the
CLI.  An empty question raises BadInput; a set ``cancel`` raises Cancelled.

Settings are read once per request (``Request``) and passed down.

How a question is answered:

1. The paper is cut into section-aligned windows that fit ``engine.n_ctx`` with room for
   demonstrations, question and answer (windows.py, budgets in ``style.BUDGET``); the
   question goes to the best window by BM25 (ranking.py; ranked once per question, and
   the same ranking gives the passages shown before the answer).
2. DoubleDipper: the model writes k question/evidence/answer demonstrations from
   paragraphs of the same window, each from a prompt holding that paragraph alone;
   unsupported or off-paragraph pairs are skipped (demos.py).  They are cached per
   paper + model + window (``PaperStore``: RAM and the library).
3. Prefix = system + fenced paper + demonstrations (identical across questions, so the
   engine reuses its KV state); suffix = the question.  The reply is primed with
   ``Evidence: [`` and parsed forgivingly (reply.py).  The grammar lets Evidence cite
   only the question's ``evidence_candidates`` best paragraphs by BM25 (setting; by
   default the answer style's: 5 small, 10 capable; 0 = any): small models otherwise cite a
   demonstration's paragraph or [1].
4. Evidence numbers become citations, verified by lexical support (citations.py); with
   no support anywhere the answer is marked unanswerable (answers.py).
5. The answer is kept in the paper's Q&A history when the paper is in the library.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from reader_app import settings
from reader_app.assistant import budget, confidence, passage_qa, prompts, reply, summaries
from reader_app.assistant.answers import NOT_ANSWERED_TEXT, shape_answer  # noqa: F401
from reader_app.assistant.demos import DemoWriter, demo_candidates
from reader_app.llm.engine import Engine, GenerateOptions, Generation
from reader_app.llm.speeds import SpeedStore
from reader_app.assistant.paper_store import LibraryPort, PaperStore
from reader_app.assistant.prepare import prepare_paper
from reader_app.assistant.prompts import Demo
from reader_app.assistant.ranking import Ranker
from reader_app.assistant.recycled import VARIANTS as DEMO_VARIANTS, DemoBank
from reader_app.assistant.reply import ANSWER_STOP, answer_done, live_view, parse_answer, through_answer_line
from reader_app.assistant.style import BUDGET, AnswerStyle, style_for
from reader_app.assistant.windows import Window, build_windows, route
from reader_app.core.errors import BadInput, Cancelled
from reader_app.core.model import (Answer, AnswerTrace, AnswerUpdate, Paper, Passage, Scope, Selection, SummaryUpdate,
                                   Timings)

SAMPLE_TEMPERATURE = 0.7  # answers sampled for the confidence's agreement (confidence_samples setting)


@dataclass(frozen=True)
class Request:
    """What one question is asked with: the settings, read once when it starts."""

    mode: str
    k: int
    style: AnswerStyle
    evidence_candidates: int  # 0 = Evidence may cite any paragraph
    probe: bool = False  # ask the model to check its answer, for the confidence (confidence.PROBE)
    samples: int = 0  # answers sampled to compare with the shown one, for the confidence
    passage_demos: str = "own"  # which demonstrations passage answers recycle (recycled.py)


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
        self._answer_style = answer_style  # None: the answer_style setting, read at each request
        self._max_answer_tokens = max_answer_tokens
        self._evidence_candidates = evidence_candidates
        self._probe = probe  # None: the confidence_probe setting, read at each request
        self._samples = samples  # None: the confidence_samples setting
        if passage_demos is not None and passage_demos not in DEMO_VARIANTS:
            raise BadInput(f"unknown demonstrations {passage_demos!r}; choose one of {', '.join(DEMO_VARIANTS)}")
        self._passage_demos = passage_demos  # None: the passage_demos setting
        self._answer_ttft_s = answer_ttft_s  # None: the answer_ttft_s setting
        self.speeds = speeds or SpeedStore()  # measured prompt speeds (llm/speeds.py), kept per model
        self._passage_tokens = passage_tokens  # a fixed passage budget instead of one from the speed (evals)
        self._windows: dict[tuple, list[Window]] = {}
        self._demos = DemoWriter(self.store)
        self._bank = DemoBank(self.store)  # demonstrations recycled into passage answers
        self._prompt_demos: list[Demo] = []  # the demonstrations of the prompt being answered
        self._lock = threading.Lock()

    # -- settings --------------------------------------------------------------------------
    def request(self, mode: str = "doubledipper", k: int | None = None) -> Request:
        """The settings one request runs with, read once (the settings file may change between
        questions, never within one)."""
        conf = settings.current()
        style = style_for(self.engine, self._answer_style or conf.answer_style)
        n = self._evidence_candidates
        if n is None:
            n = conf.evidence_candidates
        probe = self._probe if self._probe is not None else conf.confidence_probe
        samples = self._samples if self._samples is not None else conf.confidence_samples
        demos = self._passage_demos or conf.passage_demos
        return Request(mode=mode, k=self.k if k is None else k, style=style,
                       evidence_candidates=style.evidence_candidates if n is None else max(0, n), probe=probe,
                       samples=max(0, samples), passage_demos=demos if demos in DEMO_VARIANTS else "own")

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
        return self._max_answer_tokens or style.max_answer_tokens

    @property
    def answer_ttft_s(self) -> float:
        """Seconds to the first token that answers from passages aim at: as given, else the setting."""
        if self._answer_ttft_s is not None and self._answer_ttft_s > 0:
            return float(self._answer_ttft_s)
        return settings.current().answer_ttft_s

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
        room = budget.context_room(self.engine.n_ctx, fixed_tokens + other_tokens, self.max_answer_tokens)
        if self._passage_tokens:  # fixed (an eval comparing prompts on the same passages)
            return max(0, min(self._passage_tokens, room))
        return budget.passage_budget(self.prompt_speed, self.answer_ttft_s, fixed_tokens, room, floor)

    @property
    def model_key(self) -> str:
        """What names the model in caches (its file and settings)."""
        return self.engine.key

    @property
    def demo_log(self) -> Counter:
        """Demonstrations written so far: "tried", "kept", and each rejection reason."""
        return self._demos.log

    # -- windows ---------------------------------------------------------------------------
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

    # -- questions -------------------------------------------------------------------------
    def prompt(self, paper: Paper, question: str, mode: str = "doubledipper", k: int | None = None,
               cancel: threading.Event | None = None,
               progress: Callable[[str], None] | None = None, *,
               request: Request | None = None) -> tuple[str, str, Window]:
        """(prefix, suffix, window) for a question (as the model reads it: with its selection,
        ``prompts.with_selection``); generates demonstrations if needed."""
        if mode not in prompts.MODES:
            raise BadInput(f"unknown mode {mode!r}; choose one of {', '.join(prompts.MODES)}")
        req = request or self.request(mode, k)
        windows = self.windows(paper, mode, req.k, req.style)
        window = route(windows, self.ranking(paper, question)) if len(windows) > 1 else windows[0]
        user_prefix = window.text
        self._prompt_demos = []
        if mode == "doubledipper":
            self._prompt_demos = self.demonstrations(paper, window, req.k, cancel, progress, req.style)
            user_prefix += prompts.render_demos(self._prompt_demos)
        prefix, suffix = self.engine.chat_prefix_suffix(
            prompts.system_for(mode), user_prefix,
            prompts.question_tail(question, mode, req.style.name))
        return prefix, suffix + reply.primer(mode), window

    def ask(self, paper: Paper, question: str, mode: str = "doubledipper", k: int | None = None,
            on_token: Callable[[str], None] | None = None,
            cancel: threading.Event | None = None,
            progress: Callable[[str], None] | None = None, *,
            selection: Selection | None = None,
            on_update: Callable[[AnswerUpdate], None] | None = None) -> Answer:
        """Answer ``question`` (about ``selection``, a passage the reader selected, if given);
        ``progress`` gets one-line notes on what runs now, ``on_update`` the answer so far."""
        question, selection = _question(question, selection)
        if not paper.paragraphs:
            raise BadInput("this paper has no text to ask about")
        if mode not in prompts.MODES:
            raise BadInput(f"unknown mode {mode!r}; choose one of {', '.join(prompts.MODES)}")
        asked = prompts.with_selection(question, selection)  # the question as the model reads it
        with self._lock:
            req = self.request(mode, k)
            start = time.perf_counter()
            prefix, suffix, window = self.prompt(paper, asked, mode, req.k, cancel, progress, request=req)
            grammar = None
            if self.use_grammar:  # zero-shot cites nothing, so it needs no ranking
                cands = self.candidates(paper, asked, window, req.evidence_candidates) if mode != "zero-shot" else None
                grammar = reply.grammar(mode, asked, cands)
            base = self.engine.chat_prefix_suffix(prompts.system_for(mode), window.text, "")[0]
            raw, cut, timings, trace, sig = self._answer_stream(prefix, suffix, reply.primer(mode), req, grammar,
                                                           start, cancel, on_token, on_update, progress, base)
            answer = self.make_answer(paper, asked, raw, reply.primer(mode), window, mode, cut=cut,
                                      style=req.style)
            answer.question, answer.selection, answer.timings = question, selection, timings
            trace.demos = [d.to_dict() for d in self._prompt_demos]
            answer.trace = trace
            answer.confidence = confidence.confidence(sig, answer.answerable)
        answer.id = self.store.save_answer(paper, answer)
        return answer

    def ask_quick(self, paper: Paper, question: str, *, on_token: Callable[[str], None] | None = None,
                  cancel: threading.Event | None = None, progress: Callable[[str], None] | None = None,
                  selection: Selection | None = None,
                  on_update: Callable[[AnswerUpdate], None] | None = None) -> Answer:
        """A quick answer from ``paper``'s best passages (passage_qa.py), for a paper not prepared
        yet: seconds instead of minutes; ``mode`` of the answer is "quick"."""
        if not paper.paragraphs:
            raise BadInput("this paper has no text to ask about")
        answer = self._ask_passages(question, selection,
                                    lambda asked, cached: passage_qa.paper_prompt(self, paper, asked,
                                                                                  cached_tokens=cached),
                                    "quick", cancel, on_token, on_update, progress, paper_id=paper.id)
        answer.paper_id = paper.id
        answer.id = self.store.save_answer(paper, answer)
        return answer

    def ask_library(self, question: str, scope: Scope | None = None, *,
                    on_token: Callable[[str], None] | None = None, cancel: threading.Event | None = None,
                    progress: Callable[[str], None] | None = None, selection: Selection | None = None,
                    on_update: Callable[[AnswerUpdate], None] | None = None) -> Answer:
        """Answer ``question`` across the papers of ``scope`` (default: the whole library) from
        their best passages; each citation names its paper (``Citation.paper_id``).  The answer
        is kept in the history of the first paper it cites."""
        scope = scope or Scope()
        answer = self._ask_passages(question, selection,
                                    lambda asked, cached: passage_qa.library_prompt(self, asked, scope,
                                                                                    cached_tokens=cached),
                                    "library", cancel, on_token, on_update, progress)
        cited = next((c.paper_id for c in answer.citations if c.verified), "")
        answer.paper_id = cited
        if cited:
            answer.id = self.store.save_answer(Paper(id=cited), answer)
        return answer

    def passage_demos(self, paper_id: str | None, variant: str | None = None) -> list:
        """The recycled demonstrations (``recycled.PassageDemo``) a passage answer about
        ``paper_id`` (None: a library question) carries, in ``variant`` (default: the setting)."""
        variant = variant or self.request("zero-shot-evidence", 0).passage_demos
        return self._bank.pick(self.model_key, paper_id, variant, self.engine.count_tokens)

    def passage_prefix(self, paper_id: str | None, variant: str | None = None) -> str:
        """The prompt prefix of a passage answer about ``paper_id`` (None: a library question, or
        a quick answer on a paper without demonstrations of its own): the system message and the
        recycled demonstrations; the same for every question while the library's kept
        demonstrations stay the same."""
        demos = self.passage_demos(paper_id, variant)
        return self.engine.chat_prefix_suffix(prompts.SYSTEM_PASSAGES, prompts.render_passage_demos(demos), "")[0]

    def warm_passages(self, cancel: threading.Event | None = None) -> int:
        """Evaluate (or find cached) the prefix quick answers on unprepared papers and library
        questions start from, so that the first of them does not pay for the demonstrations;
        returns the tokens it holds (0: no demonstrations kept yet)."""
        if not self.passage_demos(None):
            return 0
        gen = self.engine.complete(self.passage_prefix(None), "", max_tokens=0, cancel=cancel)
        return gen.timings.prompt_tokens

    def _ask_passages(self, question: str, selection: Selection | None, build, mode: str,
                      cancel, on_token, on_update, progress, paper_id: str | None = None) -> Answer:
        question, selection = _question(question, selection)
        asked = prompts.with_selection(question, selection)
        with self._lock:
            req = self.request("zero-shot-evidence", 0)
            start = time.perf_counter()
            if progress:
                progress("Finding passages")
            # the recycled demonstrations make the prefix (the same for every question: its KV
            # state is cached); the passages and the question the suffix
            demos = self._bank.pick(self.model_key, paper_id, req.passage_demos, self.engine.count_tokens)
            examples = prompts.render_passage_demos(demos)
            passages = build(asked, self.engine.count_tokens(examples) if examples else 0)
            primer = reply.primer("zero-shot-evidence")
            prefix, suffix = self.engine.chat_prefix_suffix(
                prompts.SYSTEM_PASSAGES, examples,
                passages.text + prompts.question_tail(asked, "zero-shot-evidence", req.style.name))
            grammar = (reply.grammar("zero-shot-evidence", asked, sorted(passages.paragraphs))
                       if self.use_grammar else None)
            raw, cut, timings, trace, sig = self._answer_stream(prefix, suffix + primer, primer, req, grammar, start,
                                                           cancel, on_token, on_update, progress)
            text, answerable, citations = shape_answer(asked, raw, primer, passages.paragraphs, req.style,
                                                       [d.as_demo() for d in demos], cut)
        answer = Answer(paper_id="", question=question, answer=text, answerable=answerable,
                        citations=passage_qa.locate(citations, passages), mode=mode, model=self.engine.name,
                        timings=timings, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        raw=primer + raw, selection=selection)
        answer.draft = "" if answerable else live_view(answer.raw).text
        trace.demos = [{"question": d.question, "evidence": d.evidence, "answer": d.answer, "paper": d.paper_id}
                       for d in demos]
        answer.trace = trace
        trace.passage_budget, trace.passage_tokens = passages.budget, passages.tokens
        answer.confidence = confidence.confidence(sig, answerable)
        return answer

    def _answer_stream(self, prefix: str, suffix: str, primer: str, req: Request, grammar: str | None,
                       start: float, cancel, on_token, on_update, progress,
                       base: str | None = None) -> tuple[str, bool, Timings, AnswerTrace, confidence.Signals | None]:
        """Stream an answer: (raw reply, cut by the token cap, Timings, how it was made, the
        confidence's signals: from its token probabilities, and the optional checks')."""
        style = req.style
        if progress:
            progress("Answering")
        first: list[float] = []
        so_far: list[str] = []

        def emit(piece: str) -> None:
            if not first:
                first.append(time.perf_counter() - start)
                if on_token:
                    on_token(primer)
            so_far.append(piece)
            if on_update:  # before the raw piece: a listener of both sees the update first
                on_update(live_view(primer + "".join(so_far)))
            if on_token:
                on_token(piece)

        max_tokens = self.answer_tokens(style)
        gen = self.generate(prefix, suffix, max_tokens=max_tokens, stop=ANSWER_STOP, cancel=cancel, on_piece=emit,
                            grammar=grammar, base=base, until=lambda text: answer_done(primer + text, style.max_sentences))
        raw, engine_t = gen.text, gen.timings
        sig, check_s = self._check(prefix, suffix, primer, raw, req, grammar, base, cancel, max_tokens,
                                   confidence.signals(raw, gen.logprobs, primer))
        total = time.perf_counter() - start
        timings = Timings(prompt_tokens=engine_t.prompt_tokens, cached_tokens=engine_t.cached_tokens,
                          ttft_s=round(first[0] if first else total, 4), total_s=round(total, 4),
                          completion_tokens=engine_t.completion_tokens)
        trace = AnswerTrace(signals=sig.to_dict() if sig else None, check_s=check_s, logprobs=list(gen.logprobs))
        return raw, (engine_t.completion_tokens or 0) >= max_tokens, timings, trace, sig

    def _check(self, prefix: str, suffix: str, primer: str, raw: str, req: Request, grammar: str | None,
               base: str | None, cancel, max_tokens: int,
               sig: confidence.Signals | None) -> tuple[confidence.Signals | None, float]:
        """The confidence's optional signals, on the answer's own context: the model's check of
        its answer (``req.probe``) and ``req.samples`` sampled answers' agreement with it.  A
        Stop now keeps the answer, without them.  Returns the signals and the seconds it took."""
        if sig is None or not (req.probe or req.samples):
            return sig, 0.0
        t0 = time.perf_counter()
        try:
            if req.probe:
                sig = replace(sig, probe=self._self_check(prefix, suffix, raw, base, cancel))
            if req.samples:
                until = (lambda text: answer_done(primer + text, req.style.max_sentences))
                # a sample much longer than the answer disagrees with it already: no need to finish it
                cap = min(max_tokens, 16 + 2 * sig.tokens)  # (16: the evidence line and label)
                samples = [self.generate(prefix, suffix, max_tokens=cap, stop=ANSWER_STOP, cancel=cancel,
                                         grammar=grammar, base=base, temperature=SAMPLE_TEMPERATURE,
                                         seed=self.seed + 1 + i, until=until).text
                           for i in range(req.samples)]
                sig = replace(sig, agreement=confidence.agreement(
                    parse_answer(raw, primer=primer).answer, [parse_answer(x, primer=primer).answer for x in samples]))
        except Cancelled:
            pass
        return sig, time.perf_counter() - t0

    def _self_check(self, prefix: str, suffix: str, raw: str, base: str | None, cancel) -> float | None:
        """The model's P(Yes) that its reply is right (``confidence.PROBE``), one token on the
        same context; None where the engine gives no probabilities."""
        line = through_answer_line(raw, suffix)
        gen = self.generate(prefix, suffix + line + confidence.PROBE, max_tokens=1, stop=[], cancel=cancel,
                            grammar=confidence.PROBE_GRAMMAR if self.use_grammar else None, base=base)
        return confidence.probe_yes(gen.first_top)

    def make_answer(self, paper: Paper, question: str, raw: str, primer: str, window: Window,
                    mode: str, cut: bool = False, style: AnswerStyle | None = None) -> Answer:
        """The shown answer from the model's reply; ``cut``: the reply hit the token cap."""
        text, answerable, citations = shape_answer(question, raw, primer, window.paragraphs, style or self.style,
                                                   self._prompt_demos, cut)
        answer = Answer(paper_id=paper.id, question=question, answer=text, answerable=answerable,
                        citations=citations, mode=mode, model=self.engine.name, timings=Timings(),
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        answer.raw = primer + raw  # the model's own words, for display and debugging
        answer.draft = "" if answerable else live_view(answer.raw).text
        return answer

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

    # -- generation --------------------------------------------------------------------------
    def generate(self, prefix: str, suffix: str, *, max_tokens: int, stop: list[str],
                 cancel: threading.Event | None, on_piece: Callable[[str], None] | None = None,
                 grammar: str | None = None, until: Callable[[str], bool] | None = None,
                 base: str | None = None, temperature: float | None = None, seed: int | None = None) -> Generation:
        """One completion, streamed to ``on_piece``; stops early once ``until(text so far)``
        holds.  ``base``: the part of ``prefix`` other prompts share (the paper), for engines
        that cache it apart; ``temperature``/``seed``: other than the assistant's (sampled
        answers).  Returns the finished Generation (its text, timings and probabilities)."""
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        options = GenerateOptions(max_tokens=max_tokens, stop=tuple(stop), grammar=grammar, base=base,
                                  temperature=self.temperature if temperature is None else temperature,
                                  seed=self.seed if seed is None else seed)
        gen = self.engine.generate(prefix, suffix, options, cancel=cancel)
        pieces = iter(gen)
        try:
            for piece in pieces:
                if on_piece:
                    on_piece(piece)
                if until is not None and until(gen.text):
                    break
        finally:
            pieces.close()  # the engine records its results when it is closed
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        self.record_speed(gen.timings)
        return gen


def _question(question: str, selection: Selection | None) -> tuple[str, Selection | None]:
    """The question with its whitespace tidied, and the selection unless it is empty; a
    selection asked about with no question gets ``prompts.SELECTION_QUESTION``."""
    question = " ".join((question or "").split())
    if selection is not None and not selection.text.strip():
        selection = None
    if not question and selection is not None:
        question = prompts.SELECTION_QUESTION
    if not question:
        raise BadInput("the question is empty")
    return question, selection
