"""The summary of an import (Zotero or BibTeX) as lines of text, for the CLI and the window."""

from __future__ import annotations

import textwrap


def short(text: str | None, width: int = 60) -> str:
    return textwrap.shorten(text or "", width=width, placeholder="…")


def summary_text(r: dict, max_items: int = 20) -> str:
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
        lines.append("stopped before the end: import again to bring in the rest (nothing is imported twice)")
    if r["skipped"]:
        lines.append("skipped: " + ", ".join(f"{n} {reason}" for reason, n in sorted(r["skipped"].items())))
        for s in r["skipped_items"][:max_items]:
            lines.append(f"  {s['key']}  {s['reason']}: {short(s['title'] or '(untitled)', 50)}"
                         + (f"  ({short(s['detail'], 80)})" if s.get("detail") else ""))
        if len(r["skipped_items"]) > max_items:
            lines.append(f"  ... and {len(r['skipped_items']) - max_items} more (--json lists all)")
    for name in ("notes", "annotations"):
        if r.get(name):
            lines.append(f"{name}: " + ", ".join(f"{n} {k}" for k, n in r[name].items()))
    if r.get("annotations_skipped"):
        lines.append("annotations skipped: " + ", ".join(f"{n} {k}" for k, n in sorted(r["annotations_skipped"].items())))
    if r.get("notes_cleaned"):
        lines.append("removed from notes: " + ", ".join(f"{n} {k}" for k, n in sorted(r["notes_cleaned"].items())))
    return "\n".join(lines)
