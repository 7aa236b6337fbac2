"""Section summaries and a whole-paper TL;DR, streamed, cited and cached per model.

``summarize(assistant, paper, which)`` with ``which``:

- ``None`` or ``"tldr"``: the TL;DR only;
- an ``int``: the section with that ``Section.index``;
- ``"all"``: every section that has text, then the TL;DR.

Returns ``[{"title", "summary", "citations": [Citation as dict]}]``.  ``on_token`` gets
``"## <title>\\n"`` before each part, then its streamed pieces.  A section too long for
the context is summarized chunk by chunk (map), then the chunk summaries are combined
(reduce).  Results are cached in RAM and, when the paper is in the library, with
``library.put_summary(paper_id, model_key, section_key, data)``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict

from reader_app.assistant import prompts
from reader_app.assistant.citations import INFER_THRESHOLD, best_supporting, make_citation, support
from reader_app.assistant.parsing import cited_numbers, tidy_answer
from reader_app.assistant.windows import included, number_of
from reader_app.core.errors import BadInput, NotFound
from reader_app.core.model import Paper, Paragraph

SUMMARY_TOKENS = 160
SUMMARY_STOP = ["\n\n\n", "</", "<|", "\nQuestion"]
_KEY_SECTIONS = re.compile(r"abstract|introduction|conclusion|summary|discussion|result", re.I)


def _sections(paper: Paper) -> list[tuple[int, str, list[Paragraph]]]:
    """[(section index, title, paragraphs)] in reading order, only sections with text."""
    groups: dict[int, tuple[str, list[Paragraph]]] = {}
    order: list[int] = []
    for p in included(paper):
        si = p.section_index if p.section_index is not None else -1
        title = p.section or (paper.sections[si].title if 0 <= si < len(paper.sections) else "")
        if si not in groups:
            groups[si] = (title or "(untitled)", [])
            order.append(si)
        groups[si][1].append(p)
    return [(si, groups[si][0], groups[si][1]) for si in order]


def _chunks(paras: list[Paragraph], count, budget: int) -> list[list[Paragraph]]:
    chunks: list[list[Paragraph]] = [[]]
    used = 0
    for p in paras:
        c = count(prompts.paragraph_line(number_of(p), p.text)) + 1
        if chunks[-1] and used + c > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(p)
        used += c
    return chunks


def _citations(summary: str, paras: dict[int, Paragraph]) -> list[dict]:
    numbers = cited_numbers(summary, set(paras))
    sentences = re.split(r"(?<=[.!?])\s+", summary)
    out = []
    for n in numbers:
        said = " ".join(s for s in sentences if f"{n}" in s) or summary
        out.append(make_citation(n, paras[n], support(re.sub(r"\[[\d,\s]+\]", "", said), paras[n].text) >= 0.5))
    if not out:  # the model cited nothing: attach the paragraphs its sentences come from
        for s in sentences:
            n = best_supporting(s, paras, threshold=INFER_THRESHOLD)
            if n is not None and n not in numbers:
                numbers.append(n)
                out.append(make_citation(n, paras[n], True))
    result = []
    for c in out:
        d = asdict(c)
        d["bbox"] = list(d["bbox"])
        result.append(d)
    return result


def _clean(text: str) -> str:
    text = text.strip()
    text = re.sub(r"^(?:summary|tl;?dr)\s*[:\-]\s*", "", text, flags=re.I)
    keep_refs = re.sub(r"\s+", " ", text)
    # tidy_answer would drop [n] markers; keep them in summaries, only dedupe repeats
    return tidy_answer(keep_refs.replace("[", "⟦").replace("]", "⟧")).replace("⟦", "[").replace("⟧", "]")


def summarize(assistant, paper: Paper, which=None, on_token=None, cancel=None, *, force: bool = False,
              progress=None) -> list[dict]:
    """``force`` skips the caches (and overwrites them); ``progress`` gets one line per part."""
    engine = assistant.engine
    sections = _sections(paper)
    if not sections:
        raise BadInput("this paper has no text to summarize")
    if which is None or which == "tldr":
        targets: list = ["tldr"]
    elif which == "all":
        targets = [s[0] for s in sections] + ["tldr"]
    else:
        try:
            idx = int(which)
        except (TypeError, ValueError):
            raise BadInput(f"bad section {which!r}: give a section number, 'all' or 'tldr'") from None
        if idx not in [s[0] for s in sections]:
            valid = ", ".join(str(s[0]) for s in sections if s[0] >= 0)
            raise NotFound(f"no section {idx} with text in this paper (sections: {valid})")
        targets = [idx]
    count = engine.count_tokens
    system_cost = count(prompts.SYSTEM_SUMMARY) + 120
    budget = max(200, engine.n_ctx - system_cost - SUMMARY_TOKENS - 64)
    by_index = {s[0]: s for s in sections}
    out = []
    for i, t in enumerate(targets):
        if t == "tldr":
            title, paras = "TL;DR", _tldr_paragraphs(paper, sections, count, budget)
        else:
            _, title, paras = by_index[t]
        if on_token:
            on_token(f"## {title}\n")
        key, source = _key(t), _source(paras)
        if progress:
            progress(f"Summarizing {title} ({i + 1} of {len(targets)})")
        cached = None if force else assistant._summaries.get((paper.id, engine.key, key))
        in_lib = assistant._in_library(paper)
        if cached is None and in_lib and not force:
            cached = assistant._library_call("get_summary", paper.id, engine.key, key)
        if cached and cached.get("source") == source:  # stale when the text changed
            if on_token:
                on_token(cached["summary"] + "\n")
            out.append({k: cached.get(k) for k in ("title", "summary", "citations")})
            continue
        data = _summarize_part(assistant, paper, title, paras, "tldr" if t == "tldr" else "section",
                               budget, on_token, cancel)
        data["source"] = source
        assistant._summaries[(paper.id, engine.key, key)] = data
        if in_lib:
            assistant._library_call("put_summary", paper.id, engine.key, key, data)
        out.append({k: data[k] for k in ("title", "summary", "citations")})
    return out


def _key(target) -> str:
    return "tldr" if target == "tldr" else f"s{target}"


def _source(paras: list[Paragraph]) -> str:
    return hashlib.sha256("\n".join(p.text for p in paras).encode("utf-8")).hexdigest()[:16]


def _tldr_paragraphs(paper: Paper, sections, count, budget) -> list[Paragraph]:
    """Abstract, introduction and conclusions first, then the rest, while they fit."""
    ranked = [s for s in sections if _KEY_SECTIONS.search(s[1])] + [s for s in sections if not _KEY_SECTIONS.search(s[1])]
    chosen: list[Paragraph] = []
    used = 0
    for _, _, paras in ranked:
        for p in paras[:3]:
            c = count(prompts.paragraph_line(number_of(p), p.text)) + 1
            if used + c > budget:
                continue
            chosen.append(p)
            used += c
    return sorted(chosen, key=lambda p: p.index)


def _summarize_part(assistant, paper, title, paras, what, budget, on_token, cancel) -> dict:
    engine = assistant.engine
    chunks = _chunks(paras, engine.count_tokens, budget)
    index = {number_of(p): p for p in paras}
    if len(chunks) == 1:
        text = _generate(assistant, paper.title, [(title, paras)], prompts.summary_tail(title, what), on_token, cancel)
    else:  # map then reduce
        notes = []
        for ch in chunks:
            notes.append(_generate(assistant, paper.title, [(title, ch)], prompts.summary_tail(title), None, cancel))
        fake = [Paragraph(index=i, text=n, page=0) for i, n in enumerate(notes)]
        text = _generate(assistant, paper.title, [(f"{title} (notes)", fake)],
                         prompts.summary_tail(title, "reduce"), on_token, cancel, numbered=False)
    summary = _clean(text)
    return {"title": title, "summary": summary, "citations": _citations(summary, index)}


def _generate(assistant, paper_title, blocks, tail, on_token, cancel, numbered=True) -> str:
    if numbered:
        user = prompts.render_paper(paper_title, [(t, [(number_of(p), p.text) for p in ps]) for t, ps in blocks])
    else:
        user = "<paper>\n" + "\n".join(prompts.clean(p.text) for _, ps in blocks for p in ps) + "\n</paper>\n"
    prefix, suffix = assistant.engine.chat_prefix_suffix(prompts.SYSTEM_SUMMARY, user, tail)
    text = assistant._run(prefix, suffix, max_tokens=SUMMARY_TOKENS, stop=SUMMARY_STOP, cancel=cancel,
                          on_piece=on_token)
    if on_token:
        on_token("\n")
    return text
