"""``reader-app prepare (ID... | --tag T | --all) [--json]``: prepare papers for questions.

For each paper: its windows, the demonstrations for each window, and the KV state of
each prompt prefix saved to the disk cache (``assistant.prepare``), so that the first
question in a later process starts answering at once.  One result per paper::

    {"paper_id", "windows", "demonstrations", "prefix_tokens", "seconds", "cached"}

printed as it finishes (``--json``: one JSON object per line).  A paper that cannot be
prepared (no text, no usable model, a model that fails to load or crashes) gets one
``reader-app: error:`` line; the others are still prepared, and the exit code is 2.
A progress bar goes to stderr when it is a terminal.
"""

from __future__ import annotations

import json
import sys

from reader_app.assistant.prompts import MODES
from reader_app.commands.common import add_common, open_library, short
from reader_app.commands.models import add_engine_options, engine_from_args
from reader_app.core.errors import BadInput, ReaderError


def register(sub) -> None:
    p = add_common(sub.add_parser("prepare", help="prepare papers for questions ahead of time (KV cache)"))
    p.add_argument("papers", nargs="*", metavar="ID")
    p.add_argument("--tag", metavar="T", default=None, help="every paper with this tag")
    p.add_argument("--all", action="store_true", help="every paper in the library")
    p.add_argument("--mode", choices=MODES, default="doubledipper")
    p.add_argument("--k", type=int, default=3, help="demonstrations per window (default 3)")
    add_engine_options(p)
    p.set_defaults(func=cmd_prepare)


def _bar(label: str, fraction: float, width: int = 24) -> None:
    done = int(round(fraction * width))
    sys.stderr.write(f"\r{short(label, 40):40s} [{'#' * done}{'.' * (width - done)}] {fraction * 100:3.0f}%")
    sys.stderr.flush()


def _targets(lib, args) -> list[str]:
    if sum(bool(x) for x in (args.papers, args.tag, args.all)) != 1:
        raise BadInput("give paper IDs, --tag T or --all")
    if args.papers:
        return list(args.papers)
    papers = lib.list_papers(tag=args.tag) if args.tag else lib.list_papers()
    if not papers:
        raise BadInput(f"no papers tagged {args.tag!r}" if args.tag else "the library has no papers")
    return [p.id for p in papers]


def _emit(args, result: dict) -> None:
    if args.json:
        print(json.dumps(result), flush=True)
    else:
        state = "already prepared" if result["cached"] else "prepared"
        print(f"{result['paper_id'][:12]}  {state}: {result['windows']} window(s), {result['demonstrations']} "
              f"demonstration(s), {result['prefix_tokens']} prefix tokens, {result['seconds']:.1f} s", flush=True)


def _fail(spec: str, exc: BaseException) -> None:
    print(f"reader-app: error: {spec[:12]}: {exc}", file=sys.stderr, flush=True)


def cmd_prepare(args):
    # deferred: the assistant pulls in the library (sqlite_utils, numpy); --help stays fast
    from reader_app.assistant.service import Assistant

    if args.k < 0:
        raise BadInput("--k must be 0 or more")
    tty = sys.stderr.isatty()
    failed = False
    with open_library(args) as lib:
        targets = _targets(lib, args)
        engine = None
        load_error = None
        try:
            engine = engine_from_args(args)
        except ReaderError as exc:
            load_error = exc
        try:
            assistant = Assistant(engine, lib) if engine is not None else None
            for spec in targets:
                try:
                    paper = lib.get_paper(spec)
                    if not paper.paragraphs:
                        raise BadInput("this paper has no text to ask about")
                    if load_error is not None:
                        raise load_error
                    bar = (lambda f, label, t=paper.title or paper.id: _bar(f"{t}: {label}", f)) if tty else None
                    result = assistant.prepare(paper, mode=args.mode, k=args.k, progress=bar)
                except ReaderError as exc:
                    failed = True
                    if tty:
                        sys.stderr.write("\r\033[K")
                    _fail(spec, exc)
                    continue
                if tty:
                    sys.stderr.write("\r\033[K")
                _emit(args, result)
        finally:
            if engine is not None:
                engine.close()
    if failed:
        args.exit_code = 2
    return None
