"""The ``reader-app`` command.

Each command group lives in ``reader_app/commands/<group>.py`` and exposes
``register(subparsers)``.  A command handler has the signature
``handler(args) -> object`` and returns a JSON-serialisable result; the
subparser's ``render`` default (``render(result) -> str``) turns that result into
human text.  With ``--json`` only ``json.dumps(result)`` is printed.

Exit codes: 0 success, 2 bad input (``ReaderError``; one line on stderr),
1 internal bug.  No Qt is imported on CLI paths.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback

from reader_app import __version__
from reader_app.core.errors import ReaderError

COMMAND_MODULES = ("library", "models", "assistant", "prepare", "gui", "maintenance", "reextract", "highlights",
                   "imports")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as ReaderError (exit 2, one line)."""

    def error(self, message):  # noqa: D401
        raise ReaderError(message)


def add_common(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options every command takes, accepted anywhere after the command name."""
    parser.add_argument("--json", action="store_true", help="print only JSON")
    parser.add_argument(
        "--library",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="library folder (default: $READER_APP_LIBRARY or the user data dir)",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reader-app", description="Local-first reading assistant for research papers.")
    parser.add_argument("--version", action="version", version=f"reader-app {__version__}")
    parser.add_argument("--library", metavar="PATH", default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"reader_app.commands.{name}")
        except ModuleNotFoundError as exc:  # a group not written yet
            if exc.name != f"reader_app.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def library_path(args) -> str | None:
    """The --library option if given, else None (the library picks env var / default)."""
    return getattr(args, "library", None) or os.environ.get("READER_APP_LIBRARY") or None


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
    import tempfile

    path = os.path.join(tempfile.gettempdir(), "reader-app-crash.log")
    try:
        with open(path, "a", encoding="utf-8") as fh:
            traceback.print_exc(file=fh)
    except OSError:
        pass
    return path


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
