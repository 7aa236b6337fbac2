"""Answers from passages: a quick answer about one paper (``Assistant.ask_quick``) and a
question across papers (``Assistant.ask_library``).

Their prompts hold a few passages instead of the whole paper (passage_qa.py), so the first
token comes in seconds.  The prefix is the system message and the recycled
demonstrations (recycled.py; the ``passage_demos`` setting: by default the paper's own once
its preparation wrote them, else none, also for a library question that reads that paper
alone; other papers' on request): the same for every question while the library's kept
demonstrations stay the same, so its KV state is cached (``warm`` reads other papers' ahead,
during a paper's preparation, when they are asked for).  The suffix holds the passages and
the question.  The passages get the tokens this machine reads in the ``answer_ttft_s``
setting's seconds (``budget``, budget.py; an eval may fix it), counting the recycled
demonstrations as taking room in the context but no time.  The reply streams as a full
answer's does (streaming.py); its citations name the passage's paper and paragraph
(``passage_qa.locate``).

``PassageAnswers`` owns the recycled demonstrations it made (``DemoBank``) and the fixed
budget; the ``Assistant`` holds one and passes itself in, for its settings, ranking and
generation (public methods only).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from reader_app.assistant import budget, confidence, passage_qa, prompts, reply
from reader_app.assistant.answers import shape_answer
from reader_app.assistant.paper_store import PaperStore
from reader_app.assistant.passage_qa import PassagePrompt
from reader_app.assistant.recycled import DemoBank, PassageDemo
from reader_app.assistant.streaming import AnswerPrompt, Hooks, stream_answer
from reader_app.core.model import Answer, Paper, Scope, Selection

MODE = passage_qa.PASSAGES_MODE  # the prompt mode of answers from passages


class PassageAnswers:
    """Answers from passages, for one assistant."""

    def __init__(self, store: PaperStore, passage_tokens: int | None = None):
        self._bank = DemoBank(store)  # demonstrations recycled into passage answers
        self._passage_tokens = passage_tokens  # a fixed passage budget instead of one from the speed (evals)

    def budget(self, assistant, fixed_tokens: int, other_tokens: int, floor: int) -> int:
        """Passage tokens an answer can read now (see ``Assistant.passage_budget``)."""
        room = budget.context_room(assistant.engine.n_ctx, fixed_tokens + other_tokens, assistant.max_answer_tokens)
        if self._passage_tokens:  # fixed (an eval comparing prompts on the same passages)
            return max(0, min(self._passage_tokens, room))
        return budget.passage_budget(assistant.prompt_speed, assistant.answer_ttft_s, fixed_tokens, room, floor)

    def demos(self, assistant, paper_id: str | None, variant: str | None = None) -> list[PassageDemo]:
        """The recycled demonstrations a passage answer about ``paper_id`` (None: a library
        question) carries, in ``variant`` (default: the setting)."""
        variant = variant or assistant.request(MODE, 0).passage_demos
        return self._bank.pick(assistant.model_key, paper_id, variant, assistant.engine.count_tokens)

    def prefix(self, assistant, paper_id: str | None, variant: str | None = None) -> str:
        """The prompt prefix: the system message and the recycled demonstrations."""
        demos = self.demos(assistant, paper_id, variant)
        return assistant.engine.chat_prefix_suffix(prompts.SYSTEM_PASSAGES, prompts.render_passage_demos(demos),
                                                   "")[0]

    def warm(self, assistant, cancel: threading.Event | None) -> int:
        """Evaluate (or find cached) the prefix of library questions and quick answers on
        unprepared papers; the tokens it holds (0: no demonstrations kept yet)."""
        if not self.demos(assistant, None):
            return 0
        gen = assistant.engine.complete(self.prefix(assistant, None), "", max_tokens=0, cancel=cancel)
        return gen.timings.prompt_tokens

    def quick(self, assistant, paper: Paper, question: str, selection: Selection | None, hooks: Hooks) -> Answer:
        """A quick answer from ``paper``'s best passages; the caller holds the assistant's
        lock and keeps the answer."""
        answer = self._answer(assistant, question, selection,
                              lambda asked, cached: passage_qa.paper_prompt(assistant, paper, asked,
                                                                            cached_tokens=cached),
                              "quick", hooks, paper_id=paper.id)
        answer.paper_id = paper.id
        return answer

    def library(self, assistant, question: str, scope: Scope, selection: Selection | None, hooks: Hooks) -> Answer:
        """An answer across the papers of ``scope``; its ``paper_id`` is the first paper it
        cites with support ("" when none).  One that reads a single paper carries that paper's
        recycled demonstrations, as its quick answer would."""
        papers = passage_qa.library_papers(assistant, prompts.with_selection(question, selection), scope)
        answer = self._answer(assistant, question, selection,
                              lambda asked, cached: passage_qa.library_prompt(assistant, asked, scope,
                                                                              cached_tokens=cached, papers=papers),
                              "library", hooks, paper_id=papers[0][0].id if len(papers) == 1 else None)
        answer.paper_id = next((c.paper_id for c in answer.citations if c.verified), "")
        return answer

    def _answer(self, assistant, question: str, selection: Selection | None,
                build: Callable[[str, int], PassagePrompt], mode: str, hooks: Hooks,
                paper_id: str | None = None) -> Answer:
        """``build(question as the model reads it, tokens of the cached prefix)`` gives the passages."""
        asked = prompts.with_selection(question, selection)
        req = assistant.request(MODE, 0)
        start = time.perf_counter()
        if hooks.progress:
            hooks.progress("Finding passages")
        # the recycled demonstrations make the prefix (the same for every question: its KV
        # state is cached); the passages and the question the suffix
        count = assistant.engine.count_tokens
        demos = self._bank.pick(assistant.model_key, paper_id, req.passage_demos, count, asked=question)
        examples = prompts.render_passage_demos(demos)
        passages = build(asked, count(examples) if examples else 0)
        primer = reply.primer(MODE)
        prefix, suffix = assistant.engine.chat_prefix_suffix(
            prompts.SYSTEM_PASSAGES, examples, passages.text + prompts.question_tail(asked, MODE, req.style.name))
        grammar = reply.grammar(MODE, asked, sorted(passages.paragraphs)) if assistant.use_grammar else None
        streamed = stream_answer(assistant, AnswerPrompt(prefix, suffix + primer, primer, grammar), req, start, hooks)
        text, answerable, citations = shape_answer(asked, streamed.raw, primer, passages.paragraphs, req.style,
                                                   [d.as_demo() for d in demos], streamed.cut)
        answer = Answer(paper_id="", question=question, answer=text, answerable=answerable,
                        citations=passage_qa.locate(citations, passages), mode=mode, model=assistant.engine.name,
                        timings=streamed.timings,
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"), raw=primer + streamed.raw,
                        selection=selection)
        answer.draft = "" if answerable else reply.live_view(answer.raw).text
        trace = streamed.trace
        trace.demos = [{"question": d.question, "evidence": d.evidence, "answer": d.answer, "paper": d.paper_id}
                       for d in demos]
        trace.passage_budget, trace.passage_tokens = passages.budget, passages.tokens
        trace.papers = [p.id for p in passages.papers]
        answer.trace = trace
        answer.confidence = confidence.confidence(streamed.signals, answerable)
        return answer
