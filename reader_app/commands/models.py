"""``reader-app models``: list, add, download and choose GGUF models, the catalog; KV cache upkeep.

Also home of the engine options other command groups share
(``add_engine_options(parser)`` and ``engine_from_args(args)``).
"""

from __future__ import annotations

import argparse
import sys

from reader_app import settings
from reader_app.commands.common import add_common
from reader_app.core.errors import BadInput
from reader_app.llm.catalog import catalog_rows, check_fit, find_entry, get_model
from reader_app.llm.download import ProgressBar, download_model, filename_from_url
from reader_app.llm import engines
from reader_app.llm.kvcache import DiskKVCache
from reader_app.llm.model_files import add_model, default_model_path, describe, find_model, list_models


def register(subparsers) -> None:
    p = subparsers.add_parser("models", help="list, add, download and choose models",
                              description="List the GGUF models reader-app can use (default command), "
                                          "add or download one, or choose the default.")
    add_common(p)
    p.set_defaults(func=cmd_list, render=render_list)
    sub = p.add_subparsers(dest="models_command", metavar="SUBCOMMAND", parser_class=type(p))

    q = add_common(sub.add_parser("list", help="list models (the default)"))
    q.set_defaults(func=cmd_list, render=render_list)

    q = add_common(sub.add_parser("add", help="copy a GGUF file into the user models dir"))
    q.add_argument("file", metavar="FILE", help="a .gguf model file")
    q.add_argument("--name", help="file name to give it (default: the file's own)")
    q.add_argument("--force", action="store_true", help="replace a model of the same name")
    q.set_defaults(func=cmd_add, render=render_one)

    q = add_common(sub.add_parser("download", help="download a GGUF model (resumable, checksummed)"))
    q.add_argument("url", metavar="URL")
    q.add_argument("--sha256", metavar="HEX", help="expected sha256 of the file")
    q.add_argument("--name", help="file name to save it as (default: from the URL)")
    q.set_defaults(func=cmd_download, render=render_one)

    q = add_common(sub.add_parser("catalog", help="recommended models, and whether each fits this machine"))
    q.set_defaults(func=cmd_catalog, render=render_catalog)

    q = add_common(sub.add_parser("get", help="download a model from the catalog (resumable, verified)"))
    q.add_argument("name", metavar="NAME", help="a catalog name (see `reader-app models catalog`)")
    q.add_argument("--yes", "-y", action="store_true",
                   help="download even when the model does not fit in the RAM available now")
    q.add_argument("--use", action="store_true", help="make it the default model afterwards")
    q.set_defaults(func=cmd_get, render=render_get)

    q = add_common(sub.add_parser("use", help="make a model the default (saved in the settings)"))
    q.add_argument("model", metavar="NAME|PATH", nargs="?")
    q.add_argument("--clear", action="store_true", help="go back to the embedded default")
    q.set_defaults(func=cmd_use, render=render_one)

    q = add_common(sub.add_parser("cache", help="show (or --clear) the on-disk KV state cache"))
    q.add_argument("--clear", action="store_true", help="delete every cached state")
    q.set_defaults(func=cmd_cache, render=render_cache)


# ---------------------------------------------------------------- handlers


def cmd_list(args) -> list[dict]:
    return [m.to_dict() for m in list_models()]


def cmd_add(args) -> dict:
    return add_model(args.file, args.name, overwrite=args.force).to_dict()


def cmd_download(args) -> dict:
    bar = ProgressBar(args.name or filename_from_url(args.url))
    try:
        path = download_model(args.url, sha256=args.sha256, name=args.name, progress=bar)
    finally:
        bar.finish()
    return describe(path, "user").to_dict()


def cmd_catalog(args) -> list[dict]:
    return catalog_rows()


def cmd_get(args) -> dict:
    model = find_entry(args.name)
    fit = check_fit(model)
    if not fit.installed and not fit.disk_ok:
        raise BadInput(fit.problem(model))
    if not fit.installed and fit.ram_ok is False and not args.yes:
        question = f"{fit.problem(model)}; it may not load. Download anyway? [y/N] "
        if not (sys.stdin.isatty() and input(question).strip().lower() in ("y", "yes")):
            raise BadInput(f"{fit.problem(model)}; add --yes to download it anyway")
    bar = ProgressBar(model.filename)
    report: dict = {}
    try:
        path = get_model(model.name, progress=bar, report=report)
    finally:
        bar.finish()
    if args.use:
        settings.save({"model": str(path.resolve())})
    info = describe(path, "user").to_dict()
    info["default"] = bool(args.use) or info.get("default", False)
    info["verified"] = report.get("verified")
    info["sha256"] = report.get("sha256")
    return info


def cmd_use(args) -> dict:
    if args.clear:
        settings.save({"model": None})
    elif args.model:
        path = find_model(args.model)
        settings.save({"model": str(path.resolve())})
    else:
        raise BadInput("give a model NAME or PATH, or --clear")
    info = describe(default_model_path())
    info.default = True
    return info.to_dict()


def cmd_cache(args) -> dict:
    cache = DiskKVCache()
    removed = cache.clear() if args.clear else 0
    return {"folder": str(cache.folder), "files": len(cache.files()), "bytes": cache.total_bytes(),
            "cap_bytes": cache.cap_bytes, "removed": removed}


# ---------------------------------------------------------------- rendering


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)  # pragma: no cover


def _params(n: int) -> str:
    if not n:
        return "?"
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"


def render_list(models: list[dict]) -> str:
    if not models:
        return "no models found (add one with `reader-app models add FILE.gguf`)"
    lines = []
    for m in models:
        mark = "*" if m["default"] else " "
        if m.get("error"):
            lines.append(f"{mark} {m['name']}  [unusable: {m['error']}]  {m['path']}")
            continue
        tmpl = "chat template" if m["chat_template"] else "no chat template (ChatML fallback)"
        lines.append(f"{mark} {m['name']}  {_params(m['parameters'])} params, {_size(m['size'])}, "
                     f"context {m['context_length']}, {tmpl}, {m['source']}\n    {m['path']}")
    lines.append("(* = default; choose with --model NAME|PATH, $READER_APP_MODEL or `reader-app models use`)")
    return "\n".join(lines)


def render_one(m: dict) -> str:
    return render_list([m]).rsplit("\n(*", 1)[0]


def render_get(m: dict) -> str:
    check = {"given": "checksum verified (catalog)", "server": "checksum verified (published by the server)",
             "already downloaded": "already downloaded"}.get(m.get("verified") or "",
                                                             "not verified: no checksum was published")
    return f"{render_one(m)}\n    {check}" + ("; now the default model" if m.get("default") else "")


def render_catalog(rows: list[dict]) -> str:
    lines = []
    for m in rows:
        state = ("downloaded" if m["installed"] else "fits this machine" if m["fits"]
                 else f"does not fit: {m['fit_problem']}")
        f1 = f", QASPER Answer F1 {m['qasper']['answer_f1']:.2f}" if m.get("qasper") else ""
        lines.append(f"{m['name']}  {m['parameters']}, {_size(m['size'])}, needs {_size(m['ram'])} RAM, "
                     f"context {m['context']}, {m['license']}{f1}  [{state}]\n    {m['good_for']}")
    lines.append("(download one with `reader-app models get NAME`; add --use to make it the default)")
    return "\n".join(lines)


def render_cache(c: dict) -> str:
    text = f"KV cache: {c['files']} states, {_size(c['bytes'])} of {_size(c['cap_bytes'])} in {c['folder']}"
    if c["removed"]:
        text += f" (removed {c['removed']})"
    return text


# ---------------------------------------------------------------- shared engine options


def add_engine_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--model/--backend/--base-url/--api-key/--n-ctx/--threads for commands that run a model."""
    g = parser.add_argument_group("model")
    g.add_argument("--model", metavar="NAME|PATH", default=None,
                   help="model to use (default: $READER_APP_MODEL, the setting, or the embedded model)")
    g.add_argument("--backend", choices=("llama", "openai"), default=None,
                   help="llama = in-process llama.cpp (default); openai = an OpenAI-compatible server")
    g.add_argument("--base-url", metavar="URL", default=None, help="server URL for --backend openai")
    g.add_argument("--api-key", metavar="KEY", default=None,
                   help="API key for --backend openai (default: $READER_APP_API_KEY / $OPENAI_API_KEY)")
    g.add_argument("--n-ctx", type=int, default=None, metavar="N", help="context length (default: model's, capped)")
    g.add_argument("--threads", type=int, default=None, metavar="N", help="CPU threads (default: physical cores)")
    return parser


def engine_from_args(args):
    """open_engine() with the options of ``add_engine_options`` (missing ones = defaults)."""
    return engines.open_engine(getattr(args, "model", None), backend=getattr(args, "backend", None),
                       base_url=getattr(args, "base_url", None), api_key=getattr(args, "api_key", None),
                       n_ctx=getattr(args, "n_ctx", None), threads=getattr(args, "threads", None))


__all__ = ["register", "add_engine_options", "engine_from_args"]
