"""Import a BibTeX file (JabRef, Mendeley, Zotero/Better BibTeX exports) with bibtexparser 2.

Each entry's ``file`` field is read in the formats those tools write:

- JabRef: ``Description:path/to/file.pdf:PDF`` (several joined by ``;``; ``\\:`` and ``\\\\``
  escaped), relative paths against the .bib file's folder;
- Mendeley: ``:home/user/file.pdf:pdf`` (the leading slash dropped) and
  ``:C$\\backslash$:/Users/...:pdf``;
- Better BibTeX: ``/abs/path/file.pdf`` or ``Full Text PDF:/abs/path.pdf:application/pdf``.

An entry with a PDF imports it (or finds it here) and gives it the entry's metadata; one
without matches a paper here by DOI, else by normalized title.  Keywords and groups
(JabRef ``groups``, ``mendeley-groups``) become tags.  Broken entries and duplicate keys are
reported and skipped; TeX accents are decoded.  Re-importing the same file changes only
entries that changed (``library.import_links``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import bibtexparser
from bibtexparser import middlewares as mw

from reader_app.core.errors import BadInput, Cancelled, NotFound, PasswordError, PdfError
from reader_app.importers.zotero import year_of
from reader_app.library.import_links import ImportLinks
from reader_app.pdf import extract_paper_isolated, sha256_file

SOURCE = "bib"
MAX_BYTES = 50 * 1024 * 1024
NO_MATCH, MISSING, ENCRYPTED, UNREADABLE, BROKEN, DUPLICATE = (
    "no PDF and no matching paper", "missing file", "encrypted", "unreadable", "broken entry", "duplicate key")
TAG_FIELDS = ("keywords", "groups", "mendeley-groups", "mendeley-tags")


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(path: str) -> str:
    path = path.replace("$\\backslash$", "\\").replace("{\\textbackslash}", "\\")
    return re.sub(r"\\(.)", r"\1", path) if "\\:" in path or "\\\\" in path else path


def file_paths(value: str, bib_dir: Path) -> list[Path]:
    """The PDF paths named by a ``file`` field, each with the places it may be (in order)."""
    out: list[Path] = []
    for part in _split_unescaped(value or "", ";"):
        part = part.strip()
        if not part:
            continue
        fields = _split_unescaped(part, ":")
        if len(fields) >= 3:  # description:path:type (a Windows drive adds a field)
            kind = fields[-1].strip().lower()
            path = ":".join(fields[1:-1])
        else:
            kind, path = "", part
        path = _unescape(path).strip()
        if not path or not (kind in ("pdf", "application/pdf", "") and (kind or path.lower().endswith(".pdf"))):
            continue
        p = Path(path).expanduser()
        tries = [p] if p.is_absolute() else [bib_dir / p, Path("/") / p]  # Mendeley drops the leading "/"
        if re.match(r"^[A-Za-z]:[\\/]", path):  # a Windows path on another system: try its name beside the .bib
            tries.append(bib_dir / re.split(r"[\\/]", path)[-1])
        out += tries
    return out


def _text(entry, name: str) -> str:
    f = entry.fields_dict.get(name)
    if f is None:
        return ""
    v = f.value
    if isinstance(v, list):
        return " and ".join(map(str, v))
    return " ".join(str(v).replace("{", "").replace("}", "").split())


def _authors(entry) -> list[str]:
    f = entry.fields_dict.get("author")
    if f is None:
        return []
    v = f.value if isinstance(f.value, list) else [f.value]
    return [" ".join(str(a).replace("{", "").replace("}", "").split()) for a in v if str(a).strip()]


def _tags(entry) -> list[str]:
    out = []
    for name in TAG_FIELDS:
        for t in re.split(r"[,;]", _text(entry, name)):
            t = " ".join(t.split())
            if t and t.casefold() not in (o.casefold() for o in out):
                out.append(t)
    return out


def _parse(text: str):
    logging.getLogger("bibtexparser").setLevel(logging.ERROR)  # broken entries are reported by us
    decoded = bibtexparser.parse_string(text, append_middleware=[
        mw.LatexDecodingMiddleware(), mw.SeparateCoAuthors(), mw.SplitNameParts(), mw.MergeNameParts(style="first")])
    raw = bibtexparser.parse_string(text)  # file paths with their backslashes as written
    return decoded, {e.key: e for e in raw.entries}


def import_bib(lib, path, *, on_progress: Callable | None = None, extract: Callable | None = None) -> dict:
    t0 = time.monotonic()
    bib = Path(path).expanduser()
    if not bib.is_file():
        raise BadInput(f"no such file: {path}")
    if bib.stat().st_size > MAX_BYTES:
        raise BadInput(f"{bib.name} is larger than {MAX_BYTES // (1024 * 1024)} MB; is it a .bib file?")
    try:
        text = bib.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        text = bib.read_bytes().decode("latin-1")
    except OSError as exc:
        raise BadInput(f"cannot read {bib}: {exc.strerror or exc}") from None
    try:
        parsed, raw = _parse(text)
    except Exception as exc:  # noqa: BLE001 - the parser's own failure: one line
        raise BadInput(f"{bib.name} cannot be read as BibTeX ({type(exc).__name__}: {exc})") from None
    links = ImportLinks(lib, SOURCE)
    extract = extract or extract_paper_isolated
    counts: Counter = Counter()
    skipped: list[dict] = []
    warnings: list[str] = []
    for block in parsed.failed_blocks:
        key = getattr(block, "key", None) or ""
        line = (block.start_line or 0) + 1
        if type(block).__name__ == "DuplicateBlockKeyBlock":
            skipped.append({"key": key, "title": "", "reason": DUPLICATE,
                            "detail": f"line {line}: an earlier entry has the key {key!r}; this one is skipped"})
        else:
            skipped.append({"key": key, "title": "", "reason": BROKEN, "detail": f"line {line}: not valid BibTeX"})
    if not parsed.entries and not parsed.failed_blocks:
        raise BadInput(f"{bib.name} has no BibTeX entries")
    entries = parsed.entries
    for i, entry in enumerate(entries):
        if on_progress is not None:
            try:
                on_progress(i, len(entries), entry.key)
            except Cancelled:
                counts["stopped"] = 1
                break
        title = _text(entry, "title")
        key = f"{bib.name}:{entry.key}"
        raw_entry = raw.get(entry.key)
        stamp = hashlib.sha1((raw_entry.raw if raw_entry is not None else str(entry.fields_dict)).encode()).hexdigest()
        link = links.get(key)
        if link is not None and link["stamp"] == stamp:
            counts["unchanged"] += 1
            continue
        meta = dict(title=title, authors=_authors(entry),
                    year=year_of(_text(entry, "year") or _text(entry, "date")), doi=_text(entry, "doi"),
                    abstract=_text(entry, "abstract"))

        def skip(reason: str, detail: str = "") -> None:
            skipped.append({"key": entry.key, "title": title[:200], "reason": reason, "detail": detail})

        file_value = raw_entry.fields_dict["file"].value if raw_entry is not None and "file" in raw_entry.fields_dict else ""
        candidates = file_paths(str(file_value), bib.parent)
        pdf = next((p for p in candidates if p.is_file()), None)
        paper_id, state = None, ""
        if link is not None:
            paper_id, state = link["paper_id"], "updated"
        elif pdf is not None:
            try:
                digest = sha256_file(pdf)
                try:
                    paper_id, state = lib.resolve_id(digest), "already in library"
                except NotFound:
                    paper = extract(str(pdf))
                    for name, value in meta.items():
                        if value:
                            setattr(paper, name, value)
                    paper_id, dup = lib.add_paper(paper, str(pdf))
                    state = "already in library" if dup else "imported"
                    links.remember(paper_id, doi=paper.doi or "", title=paper.title or "")
            except PasswordError as exc:
                skip(ENCRYPTED, str(exc))
                continue
            except (PdfError, BadInput, OSError) as exc:
                skip(UNREADABLE, str(exc))
                continue
        else:
            paper_id = links.find_paper(doi=meta["doi"], title=title)
            if paper_id is None:
                if candidates:
                    skip(MISSING, str(candidates[0]))
                else:
                    skip(NO_MATCH)
                continue
            state = "matched"
        with links.transaction():
            if state != "imported":
                links.set_metadata(paper_id, **meta)
            for t in _tags(entry):
                try:
                    lib.add_tags(paper_id, [t])
                except BadInput:
                    counts["tags skipped"] += 1
            data = {"citekey": entry.key, "type": entry.entry_type, "url": _text(entry, "url"),
                    "publication": _text(entry, "journal") or _text(entry, "booktitle")}
            links.link(key, "item", paper_id, stamp=stamp, data=data)
        counts[state] += 1
    if on_progress is not None and not counts["stopped"]:
        on_progress(len(entries), len(entries), "done")
    return {
        "file": str(bib),
        "items": len(entries) + len(parsed.failed_blocks),
        "imported": counts["imported"],
        "updated": counts["updated"],
        "already_in_library": counts["already in library"],
        "matched": counts["matched"],
        "unchanged": counts["unchanged"],
        "skipped": dict(Counter(s["reason"] for s in skipped)),
        "skipped_items": skipped,
        "warnings": warnings,
        "seconds": round(time.monotonic() - t0, 2),
        "stopped": bool(counts["stopped"]),
    }
