"""Import commands: import-zotero, import-bib."""

from __future__ import annotations

import sys
import time

from reader_app.commands.common import add_common, open_library, short
from reader_app.importers.summary import summary_text as render_import


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
        now = time.monotonic()
        if done < total and now - self.last < 0.1:
            return
        self.last = now
        width = 30
        filled = int(width * done / total)
        line = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {short(label, 40)}"
        print(f"{line:<90}", end="\n" if done >= total else "", file=sys.stderr, flush=True)


def cmd_import_zotero(args):
    # deferred: the importers load the library (sqlite_utils) and PyMuPDF, which --help never needs
    from reader_app.importers.zotero import import_zotero

    with open_library(args) as lib:
        return import_zotero(lib, args.profile, collection=args.collection, on_progress=_Bar())


def cmd_import_bib(args):
    # deferred: the importers load the library, PyMuPDF and bibtexparser, which --help never needs
    from reader_app.importers.bib import import_bib

    with open_library(args) as lib:
        return import_bib(lib, args.file, on_progress=_Bar())
