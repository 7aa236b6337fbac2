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


@dataclass
class Timings:
    prompt_tokens: int = 0
    cached_tokens: int = 0
    ttft_s: float = 0.0
    total_s: float = 0.0
    completion_tokens: int = 0


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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["timings"] = {k: d["timings"][k] for k in ("prompt_tokens", "cached_tokens", "ttft_s", "total_s")}
        for c in d["citations"]:
            c["bbox"] = list(c["bbox"])
        return d
