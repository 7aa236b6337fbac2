"""Helpers shared by the command groups: opening the library, rendering tables."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from reader_app.cli import library_path


def report_failures(args, results: list[dict], name_key: str, width: int | None = None) -> list[dict]:
    """Per-item commands: exit 2 when any item failed, one error line each (not with --json)."""
    failures = [r for r in results if "error" in r]
    if failures:
        args.exit_code = 2
        if not args.json:
            import sys

            for r in failures:
                print(f"reader-app: error: {str(r[name_key])[:width]}: {r['error']}", file=sys.stderr)
    return results


def open_library(args):
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
    import sys

    if sys.stderr.isatty():
        print(f"\r{label}", end="\n" if done >= total else "", file=sys.stderr, flush=True)
