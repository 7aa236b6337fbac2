"""Assistant commands: ask, summarize, history, eval.

- ``ask (ID|FILE.pdf) QUESTION [--mode M] [--k N]`` -> {paper_id, question, answer, answerable,
  citations, mode, model, timings{prompt_tokens, cached_tokens, ttft_s, total_s}, raw,
  passages:[{paragraph, page, section, text, bbox}]}
- ``summarize (ID|FILE.pdf) [--section N | --all | --tldr]`` -> {paper_id, model, sections:[{title, summary, citations}]}
- ``history ID`` -> {paper_id, title, questions:[answer objects, oldest first]}
- ``eval qasper FILE [--papers N] [--mode M] [--ttft S]`` -> {dataset, papers, questions, mode, model, answer_f1,
  evidence_f1, by_type, seconds, ttft_first_s, ttft_followup_s}; ``--mode quick`` adds answer_ttft_s,
  passage_budget, passage_tokens (means) and prompt_tokens_per_s

A PDF path given to ask/summarize is imported into the library first.  Every engine
command takes the shared engine options (``commands.models.add_engine_options``):
``--model NAME|PATH``, ``--backend llama|openai --base-url URL --api-key K``, ``--n-ctx N``
and ``--threads N``.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from reader_app import settings
from reader_app.assistant.confidence import level
from reader_app.assistant.eval_report import score_files
from reader_app.assistant.prompts import MODES
from reader_app.assistant.qasper import load_dataset, load_evaluator
from reader_app.assistant.reply import ANSWER_LABEL
from reader_app.assistant.style import STYLES
from reader_app.commands.common import add_common, open_library, short
from reader_app.commands.library import import_file
from reader_app.commands.models import add_engine_options, engine_from_args
from reader_app.core.errors import BadInput
from reader_app.core.model import Scope

MIN_N_CTX = 256  # below this not even a question and its answer fit


def _engine_options(p) -> None:
    add_engine_options(p)


def _style_option(p) -> None:
    p.add_argument("--answer-style", choices=STYLES, default=None,
                   help="small: the 135M model's crutches (one sentence, 64 tokens, word-for-word support); "
                        "capable: 1-3 sentences in the model's words; auto (the answer_style setting's default): by model size")


def register(sub) -> None:
    p = add_common(sub.add_parser("ask", help="ask a question about a paper, or across the library "
                                              "(answers cite paragraphs)",
                                  usage="%(prog)s (ID|FILE.pdf) QUESTION [options] | "
                                        "%(prog)s (--all | --tag T | --papers ID...) QUESTION [options]"))
    p.add_argument("paper", metavar="ID|FILE.pdf")
    p.add_argument("question", metavar="QUESTION", nargs="?")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--all", dest="across", action="store_true",
                   help="ask across the whole library (then the only argument is the question); "
                        "citations name their paper")
    g.add_argument("--tag", default=None, help="ask across the papers with this tag")
    g.add_argument("--papers", nargs="+", metavar="ID", default=None, help="ask across these papers")
    p.add_argument("--quick", action="store_true",
                   help="answer from the paper's best passages (seconds, before the paper is prepared)")
    p.add_argument("--mode", choices=MODES, default="doubledipper")
    p.add_argument("--k", type=int, default=3, help="demonstrations (doubledipper mode; default 3)")
    p.add_argument("--evidence-candidates", type=int, default=None, metavar="N", help="Evidence may cite only the question's N best paragraphs by BM25 (0: any paragraph; default: the evidence_candidates setting, else 5 for small answers and 10 for capable ones)")
    _style_option(p)
    _engine_options(p)
    p.set_defaults(func=cmd_ask, render=render_ask)

    p = add_common(sub.add_parser("summarize", help="summarize a paper's sections and write a TL;DR"))
    p.add_argument("paper", metavar="ID|FILE.pdf")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--section", type=int, metavar="N", default=None, help="only section N (as listed by show)")
    g.add_argument("--all", action="store_true", help="every section, then the TL;DR")
    _engine_options(p)
    p.set_defaults(func=cmd_summarize, render=render_summarize)

    p = add_common(sub.add_parser("history", help="a paper's questions and answers"))
    p.add_argument("paper", metavar="ID")
    p.set_defaults(func=cmd_history, render=render_history)

    p = add_common(sub.add_parser("eval", help="score the assistant on a benchmark (QASPER)"))
    p.add_argument("dataset", choices=("qasper",))
    p.add_argument("file", metavar="FILE")
    p.add_argument("--papers", type=int, default=None, metavar="N", help="first N papers in file order")
    p.add_argument("--skip", type=int, default=0, metavar="S",
                   help="pass over the first S papers (--skip 20 --papers 20: papers 21-40)")
    p.add_argument("--mode", choices=(*MODES, "quick", "all"), default="doubledipper",
                   help="a mode, 'quick' (answers from the best passages), or 'all' (the three prompt modes; "
                        "a list of results; the modes share each paper's KV state)")
    p.add_argument("--across", type=int, default=None, metavar="N",
                   help="put N papers in one library and ask the questions of the first --papers of them "
                        "without naming their paper (library questions)")
    p.add_argument("--retrieval-only", action="store_true",
                   help="no model: how often each ranking (BM25, dense, hybrid) finds the gold paragraph "
                        "(top 5, within its paper) and the gold paper (top 1 and 3, across --papers papers, default 40)")
    p.add_argument("--embedder", metavar="FILE.gguf", default=None,
                   help="embedding model for --retrieval-only (default: the embedded all-MiniLM-L6-v2)")
    p.add_argument("--baseline", default="zero-shot", metavar="MODE",
                   help="with --score: the mode each other mode is compared with (default zero-shot)")
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--evidence-candidates", type=int, default=None, metavar="N", help="Evidence may cite only the question's N best paragraphs by BM25 (0: any paragraph; default: the evidence_candidates setting, else 5 for small answers and 10 for capable ones)")
    p.add_argument("--predictions", metavar="OUT.jsonl", default=None, help="also write the predictions")
    p.add_argument("--progress", action="store_true", help="print each answer on stderr")
    p.add_argument("--score", nargs="+", metavar="PRED.jsonl", default=None,
                   help="no model: score --predictions files of earlier runs together (e.g. runs split "
                        "with --skip), each mode against zero-shot with the paired bootstrap")
    p.add_argument("--reshape", action="store_true",
                   help="with --score: shape the saved raw replies again with the current parsing and "
                        "support checks (--answer-style picks the style; default: each run's own)")
    p.add_argument("--probe", action=argparse.BooleanOptionalAction, default=None,
                   help="the model also checks each answer (one more token) for its confidence "
                        "(default: the confidence_probe setting)")
    p.add_argument("--samples", type=int, default=None, metavar="N",
                   help="also sample N more answers and measure how much they agree with the answer, for "
                        "its confidence (default: the confidence_samples setting)")
    p.add_argument("--passage-demos", choices=("own", "library", "none"), default=None,
                   help="quick answers recycle demonstrations: the paper's own (else other papers'), other "
                        "papers' only, or none (default: the passage_demos setting)")
    p.add_argument("--demos-from", nargs="+", metavar="PRED.jsonl", default=None,
                   help="doubledipper --predictions files whose demonstrations stand for those of prepared papers")
    p.add_argument("--ranking", choices=("bm25", "hybrid"), default="bm25",
                   help="passages and evidence candidates by BM25 (default) or BM25 fused with the embedded "
                        "embedding model's vectors")
    p.add_argument("--passage-tokens", type=int, default=None, metavar="N",
                   help="with --mode quick: a fixed passage budget instead of the one --ttft and the measured "
                        "prompt speed give (to compare prompts on the same passages)")
    p.add_argument("--ttft", type=float, default=None, metavar="S",
                   help="with --mode quick: the seconds to the first token its passage budget aims at "
                        "(default: the answer_ttft_s setting)")
    _style_option(p)
    _engine_options(p)
    p.set_defaults(func=cmd_eval, render=render_eval)


def _check_candidates(args) -> None:
    if args.evidence_candidates is not None and args.evidence_candidates < 0:
        raise BadInput("--evidence-candidates must be 0 or more")


def _check_engine_args(args) -> None:
    """One-line errors for engine options no model could run with (before anything loads)."""
    if args.n_ctx is not None and args.n_ctx < MIN_N_CTX:
        raise BadInput(f"--n-ctx must be at least {MIN_N_CTX} tokens (got {args.n_ctx})")
    if args.threads is not None and args.threads < 1:
        raise BadInput(f"--threads must be at least 1 (got {args.threads})")


def _open_engine(args):
    _check_engine_args(args)
    return engine_from_args(args)


def _paper(lib, spec: str):
    """The library paper for an id prefix, importing a PDF path first."""
    path = Path(spec)
    if spec.lower().endswith(".pdf") or (path.exists() and path.is_file()):
        spec = import_file(lib, spec, None, [])["id"]
    return lib.get_paper(spec)


def _hybrid(lib):
    """(ranker, embedder): passages by BM25 fused with the embedding model's vectors, or by
    BM25 alone (embedder None): with one line on stderr saying why when the model is
    unusable, silently when the ``semantic_search`` setting is off."""
    from reader_app.assistant.hybrid import hybrid_ranker, open_retrieval  # deferred: heavy (llama.cpp, numpy)

    embedder, note = open_retrieval(enabled=settings.current().semantic_search)
    if note:
        print(f"reader-app: {note}", file=sys.stderr, flush=True)
    return hybrid_ranker(lib, embedder), embedder


def cmd_ask(args):
    # deferred: the assistant pulls in the library (sqlite_utils, numpy); --help stays fast
    from reader_app.assistant.service import Assistant

    _check_engine_args(args)
    if args.across or args.tag is not None or args.papers is not None:
        return _ask_library(args)
    if args.question is None:
        raise BadInput("give a paper and a question (or --all QUESTION to ask the whole library)")
    if not args.question.strip():
        raise BadInput("the question is empty")
    if args.k < 0:
        raise BadInput("--k must be 0 or more")
    _check_candidates(args)
    with open_library(args) as lib:
        paper = _paper(lib, args.paper)
        engine = _open_engine(args)
        ranker, embedder = _hybrid(lib) if args.quick else (None, None)
        try:
            assistant = Assistant(engine, lib, evidence_candidates=args.evidence_candidates,
                                  answer_style=args.answer_style, ranker=ranker)
            if args.quick:
                answer = assistant.ask_quick(paper, args.question)
            else:
                answer = assistant.ask(paper, args.question, mode=args.mode, k=args.k)
            passages = assistant.passages(paper, args.question)
        finally:
            engine.close()
            if embedder is not None:
                embedder.close()
    out = answer.to_dict()
    out["raw"] = getattr(answer, "raw", "")
    out["passages"] = [p.to_dict() for p in passages]  # best BM25 matches, shown before the answer
    return out


def _ask_library(args):
    # deferred: the assistant pulls in the library (sqlite_utils, numpy); --help stays fast
    from reader_app.assistant.service import Assistant

    question = args.paper if args.question is None else f"{args.paper} {args.question}"
    if not " ".join(question.split()):
        raise BadInput("the question is empty")
    with open_library(args) as lib:
        if args.papers is not None:
            scope = Scope(paper_ids=tuple(lib.resolve_id(p) for p in args.papers))
        elif args.tag is not None:
            if not lib.list_papers(tag=args.tag):
                raise BadInput(f"no paper has the tag {args.tag!r}")
            scope = Scope(tag=args.tag)
        else:
            if not lib.list_papers():
                raise BadInput("the library is empty: add papers first (reader-app add FILE.pdf)")
            scope = Scope()
        engine = _open_engine(args)
        ranker, embedder = _hybrid(lib)
        try:
            answer = Assistant(engine, lib, answer_style=args.answer_style, ranker=ranker).ask_library(question, scope)
        finally:
            engine.close()
            if embedder is not None:
                embedder.close()
    out = answer.to_dict()
    out["raw"] = getattr(answer, "raw", "")
    out["scope"] = scope.describe()
    return out


def _confidence_line(value) -> str:
    """"confidence: high (0.86)"; a low one says to check the cited paragraph; "" for none."""
    lvl = level(value)
    if not lvl:
        return ""
    return f"confidence: {lvl} ({value:.2f})" + (": check the cited paragraph" if lvl == "low" else "")


def render_ask(r) -> str:
    lines = [textwrap.fill(r["answer"], 100)]
    if conf := _confidence_line(r.get("confidence")):
        lines.append(conf)
    for c in r["citations"]:
        mark = "✓" if c["verified"] else "?"
        where = f"p.{c['page']}" if c["page"] else ""
        paper = f"{short(c['paper_title'] or c['paper_id'][:12], 40)} " if c.get("paper_id") else ""
        lines.append(f"  [{c['paragraph']}] {mark} {paper}{where} {short(c['section'], 30)}: {short(c['text'], 70)}")
    t = r["timings"]
    lines.append(f"({r['mode']}, {r['model']}; {t['prompt_tokens']} prompt tokens, {t['cached_tokens']} cached, "
                 f"first token {t['ttft_s']:.2f} s, total {t['total_s']:.2f} s)")
    return "\n".join(lines)


def cmd_summarize(args):
    # deferred: the assistant pulls in the library (sqlite_utils, numpy); --help stays fast
    from reader_app.assistant.service import Assistant

    _check_engine_args(args)
    which = "all" if args.all else (args.section if args.section is not None else "tldr")
    with open_library(args) as lib:
        paper = _paper(lib, args.paper)
        engine = _open_engine(args)
        try:
            sections = Assistant(engine, lib).summarize(paper, which)
        finally:
            engine.close()
    return {"paper_id": paper.id, "model": engine.name, "sections": sections}


def render_summarize(r) -> str:
    out = []
    for s in r["sections"]:
        out.append(f"## {s['title']}\n{textwrap.fill(s['summary'] or '(no summary)', 100)}")
        if s["citations"]:
            out.append("   cites: " + ", ".join(f"[{c['paragraph']}]" for c in s["citations"]))
    return "\n\n".join(out)


def cmd_history(args):
    with open_library(args) as lib:
        paper = lib.get_paper(args.paper, with_paragraphs=False)
        items = [a.to_dict() for a in lib.qa_history(paper.id)]
    return {"paper_id": paper.id, "title": paper.title, "questions": items}


def render_history(r) -> str:
    if not r["questions"]:
        return f"no questions asked yet about {short(r['title'] or r['paper_id'], 60)}"
    out = []
    for a in r["questions"]:
        cites = " ".join(f"[{c['paragraph']}]" for c in a["citations"])
        conf = _confidence_line(a.get("confidence"))
        out.append(f"{a['created']}  ({a['mode']}, {a['model']})\nQ: {a['question']}\nA: {a['answer']} {cites}".rstrip()
                   + (f"\n   {conf}" if conf else ""))
    return "\n\n".join(out)


def cmd_eval(args):
    # deferred: the evaluation pulls in the library (sqlite_utils, numpy); --help stays fast
    from reader_app.assistant.eval import run_eval

    _check_engine_args(args)
    if args.papers is not None and args.papers < 1:
        raise BadInput("--papers must be at least 1")
    _check_candidates(args)
    if args.ttft is not None and not 0 < args.ttft < float("inf"):
        raise BadInput("--ttft must be a number of seconds above 0")
    if args.passage_tokens is not None and args.passage_tokens < 1:
        raise BadInput("--passage-tokens must be at least 1")
    evaluator = load_evaluator(args.file)  # clear errors before the model loads
    data = load_dataset(args.file)
    if args.retrieval_only:
        return _eval_retrieval(args)
    if args.score:
        return score_files(evaluator, data, args.score, baseline=args.baseline,
                           reshape_style=(args.answer_style if args.answer_style not in (None, "auto") else True)
                           if args.reshape else None)
    engine = _open_engine(args)
    progress = (lambda s: print(s, file=sys.stderr, flush=True)) if args.progress else None
    try:
        ranker, embedder = _hybrid(None) if args.ranking == "hybrid" else (None, None)
        try:
            if args.across is not None:
                # deferred: pulls in the library (sqlite_utils, numpy); --help stays fast
                from reader_app.assistant.eval_across import run_across

                return run_across(engine, args.file, across=args.across, papers=args.papers, skip=args.skip,
                                  predictions_out=args.predictions, on_progress=progress,
                                  answer_style=args.answer_style, passage_demos=args.passage_demos,
                                  demos_from=args.demos_from, passage_tokens=args.passage_tokens, ranker=ranker)
            mode = list(MODES) if args.mode == "all" else args.mode
            return run_eval(engine, args.file, papers=args.papers, skip=args.skip, mode=mode, k=args.k,
                            predictions_out=args.predictions, on_progress=progress,
                            evidence_candidates=args.evidence_candidates, answer_style=args.answer_style,
                            probe=args.probe, samples=args.samples, passage_demos=args.passage_demos,
                            demos_from=args.demos_from, ranker=ranker, ttft=args.ttft,
                            passage_tokens=args.passage_tokens)
        finally:
            if embedder is not None:
                embedder.close()
    finally:
        engine.close()


def _eval_retrieval(args) -> dict:
    # deferred: pulls in llama.cpp (the embedder), the library and numpy; --help stays fast
    from reader_app.assistant.eval_retrieval import run_retrieval  # deferred: heavy (llama.cpp, numpy)
    from reader_app.assistant.hybrid import open_retrieval  # deferred: heavy (llama.cpp, numpy)

    embedder, note = open_retrieval(args.embedder)
    if note:
        print(f"reader-app: {note}", file=sys.stderr, flush=True)
    progress = (lambda s: print(s, file=sys.stderr, flush=True)) if args.progress else None
    try:
        return run_retrieval(args.file, papers=args.papers or 40, skip=args.skip, embedder=embedder, note=note,
                             on_progress=progress)
    finally:
        if embedder is not None:
            embedder.close()


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def render_retrieval(r: dict) -> str:
    """``eval qasper --retrieval-only``: one line per ranking."""
    lines = [f"QASPER retrieval, {r['papers']} papers, {r['questions']} questions with gold evidence"
             + (f", embedder {r['embedder']}" if r["embedder"] else ", by words only")]
    for name in ("bm25", "dense", "rrf", "weighted"):
        if name in r["gold_paragraph_top5"]:
            lines.append(f"  {name:9s} gold paragraph in top 5 {_pct(r['gold_paragraph_top5'][name])}, "
                         f"paper top-1 {_pct(r['paper_top1'][name])}, top-3 {_pct(r['paper_top3'][name])}")
    return "\n".join(lines)


def render_eval(r) -> str:
    if isinstance(r, list):
        return "\n\n".join(render_eval(x) for x in r)
    if r.get("mode") == "retrieval":
        return render_retrieval(r)
    bt = r["by_type"]
    head = f"QASPER, {r['papers']} papers, {r['questions']} questions, mode {r['mode']}"
    if r.get("model"):
        head += f", model {r['model']} ({r.get('answer_style')} answers)"
    lines = [head, f"Answer F1 {r['answer_f1']:.3f}  Evidence F1 {r['evidence_f1']:.3f}"
             + (f"  (model's own {ANSWER_LABEL} line {r['model_answer_f1']:.3f})" if r.get("model_answer_f1") is not None else ""),
             f"by type: extractive {bt['extractive']:.3f}, abstractive {bt['abstractive']:.3f}, "
             f"boolean {bt['boolean']:.3f}, none {bt['none']:.3f}",
             f"not answered: {_pct(r['answerable_not_answered'])} of {r['answerable']} answerable; "
             f"answered: {_pct(r['unanswerable_answered'])} of {r['unanswerable']} unanswerable"]
    if r.get("seconds") is not None:
        lines.append(f"{r['seconds']:.0f} s ({r['seconds_per_paper']} s per paper); first-question TTFT "
                     f"{r['ttft_first_s']} s, follow-up TTFT {r['ttft_followup_s']} s")
    elif r.get("seconds_per_paper") is not None:
        lines.append(f"{r['seconds_per_paper']} s per paper")
    if r.get("passage_budget") is not None:
        speed = r.get("prompt_tokens_per_s")
        lines.append(f"passages: {r['passage_tokens']:.0f} tokens of a {r['passage_budget']:.0f}-token budget (mean) "
                     f"for a first token in {r['answer_ttft_s']:g} s at "
                     + (f"{speed:g} prompt tokens/s" if speed else "an unmeasured speed"))
    if r.get("library_papers") is not None:
        lines.append(f"across a library of {r['library_papers']} papers: gold paper first {_pct(r['retrieval_top1'])}, "
                     f"in the top 3 {_pct(r['retrieval_top3'])}, cited {_pct(r['gold_paper_cited'])} "
                     f"(answerable questions); {r['seconds_per_question']} s per question, median first token "
                     f"{r['ttft_s']} s")
    c = r.get("confidence") or {}
    if c.get("auroc") is not None:
        lines.append(f"confidence: AUROC {c['auroc']:.3f} (95% {c['auroc_low']:.3f} to {c['auroc_high']:.3f}; "
                     f"{c['right']} of {c['questions']} answers right, F1 >= 0.5); Answer F1 of the more confident "
                     f"half {c['top_half_f1']:.3f}, the less confident {c['bottom_half_f1']:.3f} "
                     f"({c['half_gap']:+.3f}, 95% {c['half_gap_low']:+.3f} to {c['half_gap_high']:+.3f})")
    for key, vs in r.items():
        if key.startswith("vs_") and isinstance(vs, dict) and vs.get("mean") is not None:
            lines.append(f"minus {key[3:]}: {vs['mean']:+.3f} (95% {vs['low']:+.3f} to {vs['high']:+.3f}; "
                         f"{vs['better']} questions better, {vs['worse']} worse of {vs['questions']})")
    return "\n".join(lines)