"""The document model: plain dataclasses, no behaviour beyond small helpers."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

BBox = tuple[float, float, float, float]  # x0, y0, x1, y1 in PDF points, origin top-left

# "figure": text inside a figure or a table (axis labels, diagram boxes, table cells);
# kept for search and the PDF view, left out of prompts and summaries like headings.
PARAGRAPH_KINDS = ("body", "caption", "heading", "reference", "footnote", "figure")


OCR_NOTE = "text read by OCR on page"  # the warning that marks a paper's OCR'd pages


def page_ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7, 9, 10] -> "1-3, 7, 9-10": short even for a 2,000-page document."""
    parts: list[str] = []
    nums = sorted(set(numbers))
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        parts.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ", ".join(parts)


def ocr_note(pages: list[int]) -> str:
    """The paper warning naming its OCR'd pages: "text read by OCR on pages 1-12"."""
    return f"{OCR_NOTE}{'s' if len(set(pages)) > 1 else ''} {page_ranges(pages)}"


def ocr_pages_of(warnings: list[str]) -> list[int]:
    """The pages named by ``ocr_note`` among a paper's warnings."""
    for w in warnings:
        if w.startswith(OCR_NOTE):
            pages: list[int] = []
            for a, b in re.findall(r"(\d+)(?:-(\d+))?", w[len(OCR_NOTE):]):
                pages.extend(range(int(a), int(b or a) + 1))
            return pages
    return []


@dataclass
class Section:
    index: int  # 0-based order within the paper
    title: str
    level: int  # 1 = top level
    page: int  # 1-based; 0 when unknown (e.g. QASPER papers have no pages)


@dataclass
class Paragraph:
    index: int  # 0-based order within the paper (reading order)
    text: str
    page: int  # 1-based; 0 when unknown
    bbox: BBox = (0.0, 0.0, 0.0, 0.0)
    section_index: int | None = None  # index into Paper.sections
    section: str = ""  # title of that section, denormalised for convenience
    kind: str = "body"  # one of PARAGRAPH_KINDS


@dataclass
class Paper:
    id: str = ""  # sha256 hex of the PDF bytes (or a synthetic id, e.g. "qasper:<arxiv>")
    title: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    doi: str | None = None
    arxiv_id: str | None = None
    abstract: str = ""
    pages: int = 0
    sections: list[Section] = field(default_factory=list)
    paragraphs: list[Paragraph] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)  # pages whose text came from OCR
    tags: list[str] = field(default_factory=list)
    file: str = ""  # the library's own copy of the PDF
    original_path: str = ""
    added: str = ""  # ISO 8601 UTC
    annotations: list["Highlight"] = field(default_factory=list)  # the PDF's own, read on import

    @property
    def sha256(self) -> str:
        return self.id

    def body_paragraphs(self) -> list[Paragraph]:
        return [p for p in self.paragraphs if p.kind in ("body", "caption")]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Note:
    id: int
    paper_id: str
    text: str  # Markdown
    page: int | None = None
    quote: str | None = None
    created: str = ""
    updated: str = ""


# Highlight colours (Zotero's palette): name -> "#rrggbb".  Any "#rrggbb" is accepted too.
HIGHLIGHT_COLORS = {
    "yellow": "#ffd400", "red": "#ff6666", "green": "#5fb236", "blue": "#2ea8e5",
    "purple": "#a28ae5", "orange": "#f19837", "gray": "#aaaaaa",
}
# markup kinds (drawn over text at their quads) and note kinds (a comment at a point)
MARKUP_KINDS = ("highlight", "underline", "strikeout", "squiggly")
NOTE_KINDS = ("text", "freetext")


def color_name(hex_color: str) -> str:
    """"yellow" for "#ffd400"; the nearest palette name for any other "#rrggbb"."""
    c = (hex_color or "").lower()
    for name, value in HIGHLIGHT_COLORS.items():
        if value == c:
            return name
    try:
        r, g, b = (int(c[i:i + 2], 16) for i in (1, 3, 5))
    except ValueError:
        return "yellow"

    def dist(v: str) -> int:
        return sum((a - int(v[i:i + 2], 16)) ** 2 for a, i in zip((r, g, b), (1, 3, 5)))
    return min(HIGHLIGHT_COLORS, key=lambda n: dist(HIGHLIGHT_COLORS[n]))


@dataclass
class Highlight:
    """A mark on a page: a highlight (or underline, ...) over text, or a note at a point."""

    id: int = 0
    paper_id: str = ""
    page: int = 1  # 1-based
    quads: list[BBox] = field(default_factory=list)  # one box per line, PDF points, as displayed
    color: str = HIGHLIGHT_COLORS["yellow"]  # "#rrggbb"
    text: str = ""  # the text under the quads
    note: str = ""  # the reader's comment (Markdown)
    kind: str = "highlight"  # one of MARKUP_KINDS + NOTE_KINDS
    author: str = ""
    source: str = "user"  # "user": made here; "pdf": read from the PDF's own annotations
    key: str = ""  # imported ones: identifies the PDF annotation (re-import adds no duplicate)
    pdf_color: str = ""  # imported ones: the colour in the PDF (the rendered page shows it already)
    created: str = ""
    updated: str = ""

    @property
    def color_name(self) -> str:
        return color_name(self.color)

    def bbox(self) -> BBox:
        if not self.quads:
            return (0.0, 0.0, 0.0, 0.0)
        return (min(q[0] for q in self.quads), min(q[1] for q in self.quads),
                max(q[2] for q in self.quads), max(q[3] for q in self.quads))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["quads"] = [list(q) for q in self.quads]
        d["color_name"] = self.color_name
        return d


@dataclass
class SearchHit:
    paper_id: str
    title: str
    page: int
    section: str
    snippet: str
    paragraph: int = -1  # paragraph index within the paper
    score: float = 0.0


@dataclass
class Citation:
    paragraph: int  # paragraph number as shown to the model (1-based)
    page: int
    section: str
    text: str
    bbox: BBox
    verified: bool
    paper_id: str = ""  # set on answers across papers (library questions): which paper
    paper_title: str = ""


@dataclass(frozen=True)
class Scope:
    """Which papers a library question is asked across: ``paper_ids``, or the papers tagged
    ``tag``, or (neither) the whole library."""

    paper_ids: tuple[str, ...] | None = None
    tag: str | None = None

    def describe(self) -> str:
        if self.paper_ids is not None:
            n = len(self.paper_ids)
            return f"{n} selected paper{'s' if n != 1 else ''}"
        return f"papers tagged {self.tag!r}" if self.tag else "the whole library"


@dataclass
class Passage:
    """A paragraph that matches a question (shown before the model answers)."""

    paragraph: int  # paragraph number as shown to the model (1-based)
    page: int
    section: str
    text: str
    bbox: BBox

    def to_dict(self) -> dict:
        d = asdict(self)
        d["bbox"] = list(d["bbox"])
        return d


@dataclass(frozen=True)
class Selection:
    """A passage the reader selected in the PDF, that a question is about."""

    text: str
    page: int = 0  # 1-based; 0: unknown


@dataclass(frozen=True)
class AnswerUpdate:
    """An answer while the model writes it (what the Ask panel shows as it streams)."""

    text: str  # the answer so far ("" while the model names its evidence)
    evidence: tuple[int, ...] = ()  # paragraph numbers named so far
    phase: str = "evidence"  # "evidence" (naming paragraphs) or "answer"

    def to_fields(self) -> tuple[str, str, str]:
        """Plain strings, for a Qt signal between threads (PySide6 crashes under load when
        Python objects cross threads token by token)."""
        return self.text, ",".join(str(n) for n in self.evidence), self.phase

    @classmethod
    def from_fields(cls, text: str, evidence: str, phase: str) -> "AnswerUpdate":
        return cls(text, tuple(int(n) for n in evidence.split(",") if n), phase)


@dataclass(frozen=True)
class SummaryUpdate:
    """A summary while the model writes it (what the Summary tab shows as it streams), then
    once it is done (cleaned and cited, or read from the cache)."""

    section: str  # the part: "tldr", or the section's index ("3"; "-1": text before the first heading)
    title: str  # "TL;DR" or the section's title
    text: str  # the summary so far (the whole summary once ``phase`` is "done")
    phase: str = "writing"  # "writing" (streaming) or "done"

    @property
    def key(self) -> str | int:
        """The Summary tab's card key: "tldr" or the section index as an int."""
        return self.section if self.section == "tldr" else int(self.section)

    def to_fields(self) -> tuple[str, str, str, str]:
        """Plain strings, for a Qt signal between threads (as ``AnswerUpdate.to_fields``)."""
        return self.section, self.title, self.text, self.phase

    @classmethod
    def from_fields(cls, section: str, title: str, text: str, phase: str) -> "SummaryUpdate":
        return cls(section, title, text, phase)


@dataclass
class Timings:
    prompt_tokens: int = 0
    cached_tokens: int = 0
    ttft_s: float = 0.0
    total_s: float = 0.0
    completion_tokens: int = 0


@dataclass
class AnswerTrace:
    """How an answer was made, for evaluation reports and debugging (never stored)."""

    signals: dict | None = None  # the confidence's signals (assistant.confidence.Signals.to_dict())
    check_s: float = 0.0  # seconds its optional confidence checks took (part of its total_s)
    passage_budget: int = 0  # an answer from passages: the passage tokens it could read (assistant/budget.py)
    passage_tokens: int = 0  # ... and those its passages took
    logprobs: list[tuple[str, float]] = field(default_factory=list)  # each answer token's log-probability
    demos: list[dict] = field(default_factory=list)  # the demonstrations its prompt held
    papers: list[str] = field(default_factory=list)  # an answer from passages: the papers they came from


@dataclass
class Answer:
    paper_id: str
    question: str
    answer: str
    answerable: bool
    citations: list[Citation]
    mode: str
    model: str
    timings: Timings
    created: str = ""
    raw: str = ""  # the model's own text, before parsing and verification
    id: int | None = None  # the Q&A history row, once stored
    selection: Selection | None = None  # the passage the question was about
    draft: str = ""  # a refused answer: what the model replied (shown as tentative)
    confidence: float | None = None  # how likely right, in [0, 1]; None where the model gave no probabilities
    trace: AnswerTrace = field(default_factory=AnswerTrace, repr=False, compare=False)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("trace")
        d["timings"] = {k: d["timings"][k] for k in ("prompt_tokens", "cached_tokens", "ttft_s", "total_s")}
        for c in d["citations"]:
            c["bbox"] = list(c["bbox"])
        return d
