"""The ``reader-app`` command.

Each command group lives in ``reader_app/commands/<group>.py`` and exposes
``register(subparsers)``; this module imports them all and registers them in turn.  The
groups share ``commands/common.py`` and never import this module.  A command handler has
the signature ``handler(args) -> object`` and returns a JSON-serialisable result; the
subparser's ``render`` default (``render(result) -> str``) turns that result into human
text.  With ``--json`` only ``json.dumps(result)`` is printed.

Exit codes: 0 success, 2 bad input (``ReaderError``; one line on stderr),
1 internal bug.  No Qt is imported on CLI paths.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import traceback
from pathlib import Path

from reader_app import __version__
from reader_app.commands import (assistant, gui, highlights, imports, library, maintenance, models, prepare,
                                 reextract, vectors)
from reader_app.core.errors import ReaderError

# in the order ``--help`` lists them; each has ``register(subparsers)``
COMMAND_GROUPS = (library, models, assistant, prepare, gui, maintenance, reextract, highlights, imports, vectors)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as ReaderError (exit 2, one line)."""

    def error(self, message):  # noqa: D401
        raise ReaderError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reader-app", description="Local-first reading assistant for research papers.")
    parser.add_argument("--version", action="version", version=f"reader-app {__version__}")
    parser.add_argument("--library", metavar="PATH", default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def _print_result(args, result) -> None:
    if getattr(args, "json", False):
        print(json.dumps(result, ensure_ascii=False, indent=None if isinstance(result, list) and len(result) > 50 else 2))
        return
    render = getattr(args, "render", None)
    text = render(result) if render else (result if isinstance(result, str) else json.dumps(result, indent=2))
    if text:
        print(text)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            # no command: start the desktop app
            args = parser.parse_args(["open", *argv])
        result = args.func(args)
        if result is not None:
            _print_result(args, result)
        return int(getattr(args, "exit_code", 0) or 0)
    except ReaderError as exc:
        print(f"reader-app: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("reader-app: error: interrupted", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an internal bug: keep the traceback out of the user's face
        log = _write_crash_log()
        print(f"reader-app: internal error: {type(exc).__name__}: {exc} (details in {log})", file=sys.stderr)
        return 1


def _write_crash_log() -> str:
    path = str(Path(tempfile.gettempdir()) / "reader-app-crash.log")
    try:
        with open(path, "a", encoding="utf-8") as fh:
            traceback.print_exc(file=fh)
    except OSError:
        pass
    return path


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
