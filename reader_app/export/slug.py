"""Safe file names from paper titles (no separators, no traversal, no device names)."""

from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 80
MAX_BYTES = 150  # well under the 255-byte limit of common filesystems, leaves room for suffixes

_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", "clock$", "conin$", "conout$"} | {
    f"{d}{i}" for d in ("com", "lpt") for i in range(10)}
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def slugify(text: str, fallback: str = "paper") -> str:
    """Lower-case words joined by ``-``: letters and digits of any script, nothing else.

    Empty results use ``fallback`` (itself slugified); Windows device names get ``-paper``.
    """
    s = unicodedata.normalize("NFKC", text or "").lower()
    s = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in s)  # controls, NUL, surrogates
    s = _NOT_WORD.sub("-", s).strip("-")
    s = s[:MAX_CHARS]
    while len(s.encode("utf-8")) > MAX_BYTES:
        s = s[:-1]
    s = s.strip("-")
    if not s:
        return slugify(fallback, "paper") if fallback and fallback != text else "paper"
    if s in _WINDOWS_RESERVED:
        s += "-paper"
    return s


def unique_names(slugs: list[str], ids: list[str], reserved: set[str] = frozenset()) -> list[str]:
    """De-duplicate (case-insensitively) by adding the paper id's first characters, then a counter."""
    used = {r.casefold() for r in reserved}
    out = []
    for slug, pid in zip(slugs, ids):
        name = slug
        if name.casefold() in used:
            name = f"{slug}-{slugify(pid, 'x')[:8]}"
        n = 2
        base = name
        while name.casefold() in used:
            name = f"{base}-{n}"
            n += 1
        used.add(name.casefold())
        out.append(name)
    return out
