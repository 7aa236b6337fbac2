"""``reader-app open [FILE.pdf]``: the desktop app (also what ``reader-app`` alone runs).

Qt is imported inside the handler only, so other commands never load it.

When a window is already open on the same library, the file (or just a request to come
forward) is handed to it and this command prints one line and exits 0; ``--screenshot``
runs never hand off and never receive hand-offs.
"""

from __future__ import annotations

import os

from reader_app.commands.common import add_common, library_path
from reader_app.core.errors import BadInput


def register(sub) -> None:
    p = add_common(sub.add_parser("open", help="open the desktop app (optionally importing and showing a PDF)"))
    p.add_argument("file", nargs="?", metavar="FILE.pdf", help="a PDF to import and show")
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="save a PNG of the window once the first page is visible, then exit")
    p.add_argument("--ask", metavar="QUESTION", help="with --screenshot: ask this first and wait for the answer")
    p.add_argument("--password", metavar="PW", help="password of an encrypted PDF")
    p.set_defaults(func=cmd_open, render=lambda r: (r or {}).get("message", ""))


def cmd_open(args):
    if args.ask and not args.screenshot:
        raise BadInput("--ask needs --screenshot (in the window, use the Ask tab)")
    if args.screenshot and not args.file:
        raise BadInput("--screenshot needs a FILE.pdf to show")
    if args.file and not os.path.exists(args.file):
        raise BadInput(f"no such file: {args.file}")
    if args.screenshot:
        out_dir = os.path.dirname(os.path.abspath(args.screenshot))
        if not os.path.isdir(out_dir):
            raise BadInput(f"no such folder for the screenshot: {out_dir}")
    try:  # deferred: the app loads Qt, which CLI paths never import (and may be missing)
        from reader_app.app import hand_off, run_gui
    except ImportError as exc:  # PySide6 missing or broken
        raise BadInput(f"the desktop app cannot start: {exc}") from None
    if not args.screenshot:
        message = hand_off([args.file] if args.file else [], library=library_path(args), password=args.password)
        if message:
            return {"handed_off": os.path.abspath(args.file) if args.file else None, "message": message}
    args.exit_code = run_gui([args.file] if args.file else [], screenshot=args.screenshot, ask=args.ask,
                             library=library_path(args), password=args.password)
    return {"screenshot": os.path.abspath(args.screenshot)} if args.screenshot and args.json else None
