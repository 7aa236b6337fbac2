"""Maintenance commands: backup (SQLite online backup) and check (integrity)."""

from __future__ import annotations

import os

from reader_app.commands.common import add_common, open_library
from reader_app.core.errors import BadInput


def register(sub) -> None:
    p = add_common(sub.add_parser("backup", help="copy the library database with SQLite's online backup"))
    p.add_argument("out", metavar="OUT.db")
    p.add_argument("--force", action="store_true", help="overwrite OUT.db if it exists")
    p.set_defaults(func=cmd_backup, render=lambda r: f"backed up {r['papers']} papers to {r['out']}")

    p = add_common(sub.add_parser("check", help="run the library's integrity check"))
    p.set_defaults(func=cmd_check, render=render_check)


def cmd_backup(args):
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not args.force:
        raise BadInput(f"{args.out} exists (use --force to overwrite)")
    if os.path.isdir(out):
        raise BadInput(f"{args.out} is a folder")
    with open_library(args) as lib:
        lib.backup(out)
        n = len(lib.list_papers())
    return {"out": out, "papers": n}


def cmd_check(args):
    with open_library(args) as lib:
        result = lib.integrity_check()
        missing = [p.id for p in lib.list_papers() if p.file and not os.path.exists(p.file)]
    ok = result == "ok" and not missing
    if not ok:
        args.exit_code = 2
    return {"ok": ok, "integrity": result, "missing_files": missing, "library": str(lib.path)}


def render_check(r) -> str:
    lines = [f"library: {r['library']}", f"integrity: {r['integrity']}"]
    lines += [f"missing stored PDF for paper {pid[:12]}" for pid in r["missing_files"]]
    lines.append("ok" if r["ok"] else "problems found")
    return "\n".join(lines)
