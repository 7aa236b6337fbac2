"""Helpers shared by the command groups: the common options, opening the library,
rendering tables.

Command modules import this module, never ``reader_app.cli``: ``cli`` imports the command
modules (each registers its subparsers), so nothing here may import ``cli``.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Iterable


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


def library_path(args) -> str | None:
    """The --library option if given, else None (the library picks env var / default)."""
    return getattr(args, "library", None) or os.environ.get("READER_APP_LIBRARY") or None


def report_failures(args, results: list[dict], name_key: str, width: int | None = None) -> list[dict]:
    """Per-item commands: exit 2 when any item failed, one error line each (not with --json)."""
    failures = [r for r in results if "error" in r]
    if failures:
        args.exit_code = 2
        if not args.json:
            for r in failures:
                print(f"reader-app: error: {str(r[name_key])[:width]}: {r['error']}", file=sys.stderr)
    return results


def open_library(args):
    # deferred: the library pulls in sqlite_utils and numpy (~0.15 s); --help must stay fast
    from reader_app.library import Library

    return Library.open(library_path(args))


def table(rows: Iterable[Iterable[object]], headers: Iterable[str]) -> str:
    rows = [[("" if c is None else str(c)) for c in r] for r in rows]
    headers = list(headers)
    widths = [len(h) for h in headers]
    for r in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, r)]
    fmt = "  ".join(f"{{:{w}}}" for w in widths)
    lines = [fmt.format(*headers), fmt.format(*["-" * w for w in widths])]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def short(text: str | None, width: int = 60) -> str:
    return textwrap.shorten(text or "", width=width, placeholder="…")


def authors_text(authors: list[str], limit: int = 3) -> str:
    if not authors:
        return ""
    head = ", ".join(authors[:limit])
    return head + (" et al." if len(authors) > limit else "")


def ocr_progress(done: int, total: int, label: str) -> None:
    """Progress of a slow import stage (OCR) on a terminal: one line, rewritten in place."""
    if sys.stderr.isatty():
        print(f"\r{label}", end="\n" if done >= total else "", file=sys.stderr, flush=True)
