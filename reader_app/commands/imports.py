"""Import commands: import-zotero, import-bib."""

from __future__ import annotations

import sys

from reader_app.cli import add_common
from reader_app.commands.common import open_library, short


def register(sub) -> None:
    p = add_common(sub.add_parser(
        "import-zotero", help="import a Zotero library: items, PDFs, collections, tags, notes, annotations"))
    p.add_argument("profile", nargs="?", default=None, metavar="PROFILE_DIR",
                   help="Zotero data directory (default: the one in Zotero's prefs, else ~/Zotero)")
    p.add_argument("--collection", default=None, metavar="NAME", help="only this collection (and its sub-collections)")
    p.set_defaults(func=cmd_import_zotero, render=render_import)

    p = add_common(sub.add_parser("import-bib", help="import a BibTeX file: PDFs in file fields, metadata, keywords"))
    p.add_argument("file", metavar="FILE.bib")
    p.set_defaults(func=cmd_import_bib, render=render_import)


class _Bar:
    """A progress bar on stderr (only on a terminal)."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self.tty or total <= 0:
            return
        import time

        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        width = 30
        filled = int(width * done / total)
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {short(label, 40)}"
        print(f"{line:<90}", end="\n" if done >= total else "", file=sys.stderr, flush=True)


def cmd_import_zotero(args):
    from reader_app.importers.zotero import import_zotero

    with open_library(args) as lib:
        return import_zotero(lib, args.profile, collection=args.collection, on_progress=_Bar())


def cmd_import_bib(args):
    from reader_app.importers.bib import import_bib

    with open_library(args) as lib:
        return import_bib(lib, args.file, on_progress=_Bar())


def render_import(r: dict) -> str:
    lines = []
    for w in r.get("warnings", []):
        lines.append(f"warning: {w}")
    head = (f"{r['items']} {'items' if 'profile' in r else 'entries'}: {r['imported']} imported, "
            f"{r['updated']} updated, {r['already_in_library']} already in the library, {r['unchanged']} unchanged, "
            f"{sum(r['skipped'].values())} skipped")
    if "matched" in r:
        head += f", {r['matched']} matched to papers here"
    lines.append(head + (f" ({r['seconds']} s)" if "seconds" in r else ""))
    if r.get("stopped"):
        lines.append("stopped before the end: run the same command again to import the rest")
    if r["skipped"]:
        lines.append("skipped: " + ", ".join(f"{n} {reason}" for reason, n in sorted(r["skipped"].items())))
        for s in r["skipped_items"][:20]:
            lines.append(f"  {s['key']}  {s['reason']}: {short(s['title'] or '(untitled)', 50)}"
                         + (f"  ({short(s['detail'], 80)})" if s.get("detail") else ""))
        if len(r["skipped_items"]) > 20:
            lines.append(f"  ... and {len(r['skipped_items']) - 20} more (--json lists all)")
    for name in ("notes", "annotations"):
        if r.get(name):
            lines.append(f"{name}: " + ", ".join(f"{n} {k}" for k, n in r[name].items()))
    if r.get("annotations_skipped"):
        lines.append("annotations skipped: " + ", ".join(f"{n} {k}" for k, n in sorted(r["annotations_skipped"].items())))
    if r.get("notes_cleaned"):
        lines.append("removed from notes: " + ", ".join(f"{n} {k}" for k, n in sorted(r["notes_cleaned"].items())))
    return "\n".join(lines)
