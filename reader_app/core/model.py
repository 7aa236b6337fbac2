"""The document model: plain dataclasses, no behaviour beyond small helpers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

BBox = tuple[float, float, float, float]  # x0, y0, x1, y1 in PDF points, origin top-left

# "figure": text inside a figure or a table (axis labels, diagram boxes, table cells);
# kept for search and the PDF view, left out of prompts and summaries like headings.
PARAGRAPH_KINDS = ("body", "caption", "heading", "reference", "footnote", "figure")


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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["timings"] = {k: d["timings"][k] for k in ("prompt_tokens", "cached_tokens", "ttft_s", "total_s")}
        for c in d["citations"]:
            c["bbox"] = list(c["bbox"])
        return d
