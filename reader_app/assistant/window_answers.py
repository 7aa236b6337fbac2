"""The full answer to a question about one paper (``Assistant.ask``): the paper's text in the
prompt, window by window, with DoubleDipper's demonstrations.

1. The paper is cut into section-aligned windows that fit ``engine.n_ctx`` with room for
   demonstrations, question and answer (windows.py, budgets in ``style.BUDGET``,
   ``Assistant.reserve``); the question goes to the best window by BM25 (ranking.py;
   ranked once per question, and the same ranking gives the passages shown before the
   answer).
2. DoubleDipper: the model writes k question/evidence/answer demonstrations from
   paragraphs of the same window, each from a prompt holding that paragraph alone;
   unsupported or off-paragraph pairs are skipped (demos.py).  They are cached per
   paper + model + window (``PaperStore``: RAM and the library).
3. Prefix = system + fenced paper + demonstrations (identical across questions, so the
   engine reuses its KV state; ``base``, the system and paper alone, is cached apart);
   suffix = the question.  The reply is primed with ``Evidence: [`` and parsed forgivingly
   (reply.py).  The grammar lets Evidence cite only the question's ``evidence_candidates``
   best paragraphs by BM25 (setting; by default the answer style's: 5 small, 10 capable;
   0 = any): small models otherwise cite a demonstration's paragraph or [1].  Zero-shot
   cites nothing, so it needs no ranking.
4. The reply streams (streaming.py); its evidence numbers become citations, verified by
   lexical support (citations.py); with no support anywhere the answer is marked
   unanswerable (answers.py), and a reply that parrots a demonstration is no answer.

``WindowAnswers`` owns the demonstrations of the prompt last built (``make_answer`` checks
the reply against them); the ``Assistant`` holds one and passes itself in, for its
windows, ranking, demonstrations and generation (public methods only).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from reader_app.assistant import confidence, prompts, reply
from reader_app.assistant.answers import shape_answer
from reader_app.assistant.prompts import Demo
from reader_app.assistant.request import Request
from reader_app.assistant.streaming import AnswerPrompt, Hooks, stream_answer
from reader_app.assistant.style import AnswerStyle
from reader_app.assistant.windows import Window, route
from reader_app.core.errors import BadInput
from reader_app.core.model import Answer, Paper, Selection, Timings


def check_mode(mode: str) -> None:
    """BadInput unless ``mode`` is one of ``prompts.MODES``."""
    if mode not in prompts.MODES:
        raise BadInput(f"unknown mode {mode!r}; choose one of {', '.join(prompts.MODES)}")


class WindowAnswers:
    """Prompts and answers from a paper's window, for one assistant."""

    def __init__(self) -> None:
        self._demos: list[Demo] = []  # the demonstrations of the prompt being answered

    def prompt(self, assistant, paper: Paper, question: str, mode: str, k: int | None,
               cancel: threading.Event | None, progress: Callable[[str], None] | None,
               request: Request | None = None) -> tuple[str, str, Window]:
        """(prefix, suffix ending with the reply's primer, window) for ``question`` as the
        model reads it; writes demonstrations if needed."""
        check_mode(mode)
        req = request or assistant.request(mode, k)
        windows = assistant.windows(paper, mode, req.k, req.style)
        window = route(windows, assistant.ranking(paper, question)) if len(windows) > 1 else windows[0]
        user_prefix = window.text
        self._demos = []
        if mode == "doubledipper":
            self._demos = assistant.demonstrations(paper, window, req.k, cancel, progress, req.style)
            user_prefix += prompts.render_demos(self._demos)
        prefix, suffix = assistant.engine.chat_prefix_suffix(
            prompts.system_for(mode), user_prefix,
            prompts.question_tail(question, mode, req.style.name))
        return prefix, suffix + reply.primer(mode), window

    def answer(self, assistant, paper: Paper, question: str, selection: Selection | None, mode: str,
               k: int | None, hooks: Hooks) -> Answer:
        """Answer ``question`` (tidied, about ``selection`` if given) in ``mode``; the caller
        holds the assistant's lock and keeps the answer."""
        asked = prompts.with_selection(question, selection)  # the question as the model reads it
        req = assistant.request(mode, k)
        start = time.perf_counter()
        prefix, suffix, window = self.prompt(assistant, paper, asked, mode, req.k, hooks.cancel, hooks.progress, req)
        grammar = None
        if assistant.use_grammar:  # zero-shot cites nothing, so it needs no ranking
            cands = assistant.candidates(paper, asked, window, req.evidence_candidates) if mode != "zero-shot" else None
            grammar = reply.grammar(mode, asked, cands)
        base = assistant.engine.chat_prefix_suffix(prompts.system_for(mode), window.text, "")[0]
        primer = reply.primer(mode)
        streamed = stream_answer(assistant, AnswerPrompt(prefix, suffix, primer, grammar, base), req, start, hooks)
        answer = self.make_answer(assistant.engine.name, paper, asked, streamed.raw, primer, window, mode,
                                  streamed.cut, req.style)
        answer.question, answer.selection, answer.timings = question, selection, streamed.timings
        trace = streamed.trace
        trace.demos = [d.to_dict() for d in self._demos]
        answer.trace = trace
        answer.confidence = confidence.confidence(streamed.signals, answer.answerable)
        return answer

    def make_answer(self, model: str, paper: Paper, question: str, raw: str, primer: str, window: Window,
                    mode: str, cut: bool, style: AnswerStyle) -> Answer:
        """The shown answer from the model's reply (``model``: the engine's name); ``cut``: the
        reply hit the token cap."""
        text, answerable, citations = shape_answer(question, raw, primer, window.paragraphs, style,
                                                   self._demos, cut)
        answer = Answer(paper_id=paper.id, question=question, answer=text, answerable=answerable,
                        citations=citations, mode=mode, model=model, timings=Timings(),
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        answer.raw = primer + raw  # the model's own words, for display and debugging
        answer.draft = "" if answerable else reply.live_view(answer.raw).text
        return answer
