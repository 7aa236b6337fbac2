"""Section summaries and a whole-paper TL;DR, streamed, cited and cached per model.

``summarize(assistant, paper, which)`` with ``which``:

- ``None`` or ``"tldr"``: the TL;DR only;
- an ``int``: the section with that ``Section.index``;
- ``"all"``: every section that has text, then the TL;DR.

Returns ``[{"title", "summary", "citations": [Citation as dict]}]``.  ``on_update`` gets a
``core.model.SummaryUpdate`` per part as its summary streams (the text so far, phase
"writing") and once it is done (phase "done": cleaned and cited, or cached); ``on_token``
gets the raw stream: ``"## <title>\\n"`` before each part, then its pieces.  A section too long for
the context is summarized chunk by chunk (map), then the chunk summaries are combined
(reduce).  Results are cached in RAM and, when the paper is in the library, with
``library.put_summary(paper_id, model_key, section_key, data)``.

Small models break formats, echo their instructions and loop, so the reply is primed
("This section" / "This paper"; the reply's shape is ``reply.py``'s), generation stops after a few sentences or at the first
repeated sentence or phrase, echoed instructions, repeats and an unfinished last
sentence are dropped, markers of paragraphs outside the summarized text are removed,
sentences only about the summary itself ("This section summarizes the findings.") are
dropped, and a sentence without a marker gets the paragraph that supports it lexically.
When nothing usable and supported is left, the summary quotes the opening sentences
instead, and says so.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict

from reader_app.assistant import prompts
from reader_app.assistant.citations import (
    INFER_THRESHOLD,
    NUMBER_WORDS,
    VERIFY_THRESHOLD,
    best_supporting,
    content_words,
    make_citation,
    plain_numbers,
    support,
)
from reader_app.assistant.reply import (SUMMARY_STOP, cited_numbers, continues_primer, summary_ended, summary_primer,
                                        summary_text)
from reader_app.assistant.windows import included, number_of
from reader_app.core.errors import BadInput, NotFound
from reader_app.core.model import Paper, Paragraph, SummaryUpdate
from reader_app.core.text import split_sentences

SUMMARY_TOKENS = 160
UNSUPPORTED = 0.3  # a sentence with fewer of its words in the summarized text is dropped
MAX_SENTENCES = {"section": 4, "tldr": 3, "reduce": 3, "map": 3}
QUOTED = "From the text: "  # a fallback summary quotes the opening sentences
_CACHE_VERSION = "2"  # part of the source hash: summaries made by older code are redone
_MARK = re.compile(r"\s*\[\s*\d{1,4}(?:\s*(?:,|and|-|–|;)\s*\d{1,4})*\s*\]")
# words of sentences about the summary itself ("This section summarizes the findings.")
_META = frozenset(content_words(
    "this section paper part summarize summarizes summarized summary abstract text cite cited citation finding "
    "findings main brief briefly overview provide provides contain contains discuss discusses describe describes "
    "format formatted bullet points number numbered paragraph paragraphs end ends reference references title full "
    "present presents key idea ideas author authors study work article document content information given below "
    "above following also"))
_FUNCTION_WORDS = frozenset("the a an of we is are was were be been to in and or for from that this these with on by at as "
                            "our it its their has have not can which than".split())
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


_NOT_CONTENT = re.compile(r"^\W*(acknowledge?ments?|references|bibliography|funding|author contributions?)\W*$", re.I)


def _worth_summarizing(title: str, paras: list[Paragraph]) -> bool:
    """"all" skips what no reader wants summarized: acknowledgements and reference lists, and
    untitled front matter: a scrap under 40 words, or names, affiliations and e-mail addresses
    (few function words; running text such as an unlabelled abstract has 20-40%); and a section
    of a few words ("See Figure 6.")."""
    if _NOT_CONTENT.match(re.sub(r"^[\dIVX.]+\s+", "", title.strip())):
        return False
    if sum(len(p.text.split()) for p in paras) < 15:
        return False
    if title == "(untitled)":
        words = [w.strip(",.;:()").lower() for p in paras for w in p.text.split()]
        if len(words) < 40 or sum(w in _FUNCTION_WORDS for w in words) < 0.15 * len(words):
            return False
    return True


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


def _sentences(text: str) -> list[str]:
    return split_sentences(" ".join(text.split()))


def _key_of(sentence: str) -> frozenset:
    return frozenset(w for w in re.findall(r"[a-z0-9]+", _MARK.sub(" ", sentence).lower()) if len(w) > 2)


def _near_duplicate(a: frozenset, b: frozenset) -> bool:
    return bool(a) and bool(b) and len(a & b) / len(a | b) >= 0.75


def _looping(text: str) -> bool:
    """A phrase of four words said three times: the model is going round in circles."""
    ws = re.findall(r"\w+", text.lower())
    seen: dict[tuple, int] = {}
    for i in range(len(ws) - 3):
        g = tuple(ws[i:i + 4])
        seen[g] = seen.get(g, 0) + 1
        if seen[g] >= 3:
            return True
    return False


def _enough(text: str, what: str) -> bool:
    """Stop generating: enough whole sentences, a repeated sentence, or a loop."""
    parts = _sentences(summary_text(text))
    # "... increasing by 0." is not finished yet: after a digit, a point may be a decimal point
    finished = re.search(r"[.!?][\]\)\"”']?\s*$", text) and not re.search(r"\d\.$", text)
    done = parts if finished else parts[:-1]
    if len(done) >= MAX_SENTENCES.get(what, 4) or summary_ended(text):
        return True
    keys = [_key_of(x) for x in done]
    if any(_near_duplicate(k, e) for i, k in enumerate(keys) for e in keys[:i]):
        return True
    return _looping(text)


def _is_echo(sentence: str, paras: dict[int, Paragraph]) -> bool:
    """The model repeating its instructions rather than the paper."""
    said = _MARK.sub(" ", sentence)
    instr = support(said, prompts.SYSTEM_SUMMARY + " summary summarize sentence paragraph number cite")
    return instr >= 0.6 and instr > max((support(said, p.text) for p in paras.values()), default=0.0)


def _is_meta(sentence: str, title: str) -> bool:
    """A sentence only about the summary or the section, saying nothing of the paper."""
    return not set(content_words(_MARK.sub(" ", sentence))) - _META - set(content_words(title))


def _clean(text: str, paras: dict[int, Paragraph], title: str = "") -> str:
    """Whole, distinct sentences about the paper; paragraph markers only for ``paras``."""
    text = summary_text(text)
    text = " ".join(text.replace("**", "").split())
    text = re.sub(r"^(?:#+\s*)?(?:summary|tl;?dr)\s*[:\-]\s*", "", text, flags=re.I)
    parts = _sentences(text)
    if len(parts) > 1 and not re.search(r"[.!?][\]\)\"”']?$", parts[-1]):
        parts = parts[:-1]  # cut off mid-sentence by the token budget or a loop
    keep: list[str] = []
    keys: list[frozenset] = []
    source = " ".join(p.text for p in paras.values())
    words = set(content_words(source)) | _numbers(source)
    for sent in parts:
        sent = re.sub(r"\b(.{4,80}?)(?:[\s,;]+\1\b)+", r"\1", sent)  # "X, X, X" inside a sentence
        sent = _MARK.sub(lambda m: _valid_marks(m.group(0), paras), _marker_subjects(sent))
        sent = re.sub(r"\s+([.,;:!?])", r"\1", sent).strip()
        k = _key_of(sent)
        if (not k or any(_near_duplicate(k, e) for e in keys) or _is_echo(sent, paras)
                or _is_meta(sent, title) or _unsupported(sent, words)):
            continue
        keys.append(k)
        keep.append(sent)
    return " ".join(keep).strip()


def _unsupported(sentence: str, words: set[str]) -> bool:
    """Invented: a number the text does not hold, or under ``UNSUPPORTED`` of the sentence's
    own words (not those about the summary: "this section discusses") found in the summarized text."""
    said = _MARK.sub(" ", sentence)
    if not _numbers(said) <= words:
        return True
    said = set(content_words(said)) - _META
    return bool(said) and len(said & words) < UNSUPPORTED * len(said)


def _numbers(text: str) -> set[str]:
    """The numbers in ``text`` however written: "81.1M" and "81.1 million" both hold 81.1, "five" is 5."""
    found = set(re.findall(r"\d+(?:\.\d+)?", plain_numbers(text)))
    return found | {str(NUMBER_WORDS[w]) for w in re.findall(r"[a-z]+", text.lower()) if w in NUMBER_WORDS}


_SUBJECT_MARK = re.compile(r"(^|,\s)\[\s*(\d{1,4})\s*\]\s+(?=(?!and\b|or\b)[a-z])")


def _marker_subjects(sentence: str) -> str:
    """"[46] states that X." -> "The paper states that X [46].": a marker is not a subject."""
    moved: list[str] = []

    def sub(m: re.Match) -> str:
        moved.append(m.group(2))
        return m.group(1) + ("the paper " if m.group(1) else "The paper ")

    out = _SUBJECT_MARK.sub(sub, sentence)
    if not moved:
        return sentence
    still = set(cited_numbers(out))
    moved = [n for n in dict.fromkeys(moved) if int(n) not in still]
    if not moved:
        return out
    end = re.search(r"[.!?]?[\"”']?$", out)
    return f"{out[:end.start()]} [{', '.join(moved)}]{out[end.start():]}"


def _valid_marks(mark: str, paras: dict[int, Paragraph]) -> str:
    ns = [n for n in cited_numbers(mark) if n in paras]
    return f" [{', '.join(map(str, ns))}]" if ns else ""


def _cite(summary: str, paras: dict[int, Paragraph],
          threshold: float = INFER_THRESHOLD) -> tuple[str, list[dict]]:
    """(summary with a marker on each supported sentence, citations in order of mention)."""
    verified: dict[int, bool] = {}
    out = []
    for sent in _sentences(summary):
        said = _MARK.sub(" ", sent)
        numbers = cited_numbers(sent, set(paras))
        if not numbers:
            n = best_supporting(said, paras, threshold=threshold)
            if n is not None:
                numbers = [n]
                m = re.search(r"[.!?]?[\"”']?$", sent)
                sent = f"{sent[:m.start()]} [{n}]{sent[m.start():]}"
        for n in numbers:
            ok = support(said, paras[n].text) >= 0.5
            verified[n] = verified.get(n, False) or ok
        out.append(sent)
    result = []
    for n, ok in verified.items():
        d = asdict(make_citation(n, paras[n], ok))
        d["bbox"] = list(d["bbox"])
        result.append(d)
    return " ".join(out), result


def _prose(sentence: str) -> bool:
    """A sentence of running text, not a table row or a run of numbers."""
    ws = sentence.split()
    return (6 <= len(ws) <= 60 and sum(w.strip(",.;:()").isalpha() for w in ws) >= 0.7 * len(ws)
            and bool(_FUNCTION_WORDS & {w.lower() for w in ws}))


def _quoted(paras: list[Paragraph], limit: int = 2) -> str:
    """The fallback: the first sentence of the first paragraphs of running text, marked as a quotation."""
    picked = []
    firsts = [(p, _sentences(p.text)) for p in paras]
    chosen = [(p, ss[0]) for p, ss in firsts if ss and _prose(ss[0])]
    chosen = chosen or [(p, " ".join(ss[0].split()[:40])) for p, ss in firsts if ss]
    for p, first in chosen[:limit]:
        body, end = re.match(r"(.*?)([.!?]*)$", first.rstrip()).groups()
        picked.append(f"{body} [{number_of(p)}]{end or '.'}")
    return QUOTED + " ".join(picked) if picked else ""


def summarize(assistant, paper: Paper, which=None, on_token=None, cancel=None, *, force: bool = False,
              progress=None, on_update=None) -> list[dict]:
    """``force`` skips the caches (and overwrites them); ``progress`` gets one line per part;
    ``on_update`` a ``SummaryUpdate`` as each part streams and when it is done."""
    engine = assistant.engine
    sections = _sections(paper)
    if not sections:
        raise BadInput("this paper has no text to summarize")
    if which is None or which == "tldr":
        targets: list = ["tldr"]
    elif which == "all":
        targets = [s[0] for s in sections if _worth_summarizing(s[1], s[2])] + ["tldr"]
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
        update = _updater(on_update, "tldr" if t == "tldr" else str(t), title)
        key, source = _key(t), _source(paras)
        if progress:
            progress(f"Summarizing {title} ({i + 1} of {len(targets)})")
        cached = None if force else assistant.store.summary(paper, engine.key, key)
        if cached and cached.get("source") == source:  # stale when the text changed
            if on_token:
                on_token(cached["summary"] + "\n")
            if update:
                update(cached["summary"], "done")
            out.append({k: cached.get(k) for k in ("title", "summary", "citations")})
            continue
        data = _summarize_part(assistant, paper, title, paras, "tldr" if t == "tldr" else "section",
                               budget, on_token, cancel, update)
        data["source"] = source
        assistant.store.save_summary(paper, engine.key, key, data)
        if update:
            update(data["summary"], "done")
        out.append({k: data[k] for k in ("title", "summary", "citations")})
    return out


def _updater(on_update, section: str, title: str):
    """``update(text, phase)`` sending ``SummaryUpdate``s of one part to ``on_update``; None without one."""
    if on_update is None:
        return None
    return lambda text, phase: on_update(SummaryUpdate(section, title, text, phase))


def _key(target) -> str:
    return "tldr" if target == "tldr" else f"s{target}"


def _source(paras: list[Paragraph]) -> str:
    text = _CACHE_VERSION + "\n" + "\n".join(p.text for p in paras)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


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


def _summarize_part(assistant, paper, title, paras, what, budget, on_token, cancel, update=None) -> dict:
    engine = assistant.engine
    chunks = _chunks(paras, engine.count_tokens, budget)
    index = {number_of(p): p for p in paras}
    if len(chunks) == 1:
        text = _generate(assistant, paper.title, [(title, paras)], prompts.summary_tail(title, what), what,
                         on_token, cancel, update=update)
        summary = _clean(text, index, title)
    else:  # map then reduce
        notes = []
        for ch in chunks:
            note = _clean(_generate(assistant, paper.title, [(title, ch)], prompts.summary_tail(title), "map",
                                    None, cancel), index, title)
            notes.append(note or _quoted(ch, 1))
        fake = [Paragraph(index=i, text=n, page=0) for i, n in enumerate(notes)]
        text = _generate(assistant, paper.title, [(f"{title} (notes)", fake)],
                         prompts.summary_tail(title, "reduce"), "reduce", on_token, cancel, numbered=False,
                         update=update)
        summary = _clean(text, index, title)
    text, (summary, citations) = summary, _cite(summary, index)
    if not citations and text:  # a paraphrase: cite what supports it as far as a citation is verified
        summary, citations = _cite(text, index, threshold=VERIFY_THRESHOLD)
    if not citations:  # nothing usable, or nothing the text supports: quote it instead
        summary, citations = _cite(_quoted(paras), index)
        if on_token:
            on_token(summary + "\n")
    return {"title": title, "summary": summary, "citations": citations}


def _generate(assistant, paper_title, blocks, tail, what, on_token, cancel, numbered=True, update=None) -> str:
    """The model's reply, primed with ``reply.summary_primer(what)`` (kept when the reply
    continues it); ``update(text so far, "writing")`` as it streams."""
    if numbered:
        user = prompts.render_paper(paper_title, [(t, [(number_of(p), p.text) for p in ps]) for t, ps in blocks])
    else:
        user = "<paper>\n" + "\n".join(prompts.clean(p.text) for _, ps in blocks for p in ps) + "\n</paper>\n"
    prefix, suffix = assistant.engine.chat_prefix_suffix(prompts.SYSTEM_SUMMARY, user, tail)
    primer = summary_primer(what)
    state = {"lead": None, "shown": ""}  # the primer, once we know whether the reply continues it

    def piece(text: str) -> None:
        if not text:
            return
        if state["lead"] is None:
            state["lead"] = primer if continues_primer(text) else ""
            text = state["lead"] + text
        if on_token:
            on_token(text)
        if update:
            state["shown"] += text
            update(" ".join(summary_text(state["shown"]).split()), "writing")

    text = assistant.generate(prefix, suffix + primer, max_tokens=SUMMARY_TOKENS, stop=SUMMARY_STOP, cancel=cancel,
                          on_piece=piece, until=lambda t: _enough(primer + t, what)).text
    if on_token:
        on_token("\n")
    return (primer if continues_primer(text) else "") + text
