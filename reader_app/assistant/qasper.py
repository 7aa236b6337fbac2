"""QASPER (Dasigi et al. 2021) papers straight into the document model, its answer format and
its official metric.

The official evaluator (``qasper_evaluator.py``, shipped beside the data set in
``../shared/qasper``) is imported by path at run time, never copied into this repo.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path

from reader_app.assistant.reply import is_boolean_question
from reader_app.core.errors import BadInput, NotFound
from reader_app.core.model import Paper, Paragraph, Section


def load_dataset(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no QASPER file at {path}")
    try:
        with path.open(encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path} is not a QASPER JSON file: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) and "qas" in v for v in list(data.values())[:5]):
        raise BadInput(f"{path} is not a QASPER JSON file (expected {{arxiv_id: {{title, full_text, qas}}}})")
    return data


def paper_from_qasper(arxiv_id: str, entry: dict) -> Paper:
    """Abstract as the first section, then each full_text section; page 0 (QASPER has no pages)."""
    sections: list[Section] = []
    paragraphs: list[Paragraph] = []

    def add_section(title: str, texts: list[str]) -> None:
        texts = [t for t in (texts or []) if isinstance(t, str) and t.strip()]
        if not texts:
            return
        si = len(sections)
        sections.append(Section(index=si, title=title, level=1, page=0))
        for t in texts:
            paragraphs.append(Paragraph(index=len(paragraphs), text=t, page=0, section_index=si,
                                        section=title, kind="body"))

    abstract = entry.get("abstract") or ""
    add_section("Abstract", [abstract])
    for sec in entry.get("full_text") or []:
        title = (sec.get("section_name") or "").split(":::")[-1].strip() or "(untitled)"
        add_section(title, sec.get("paragraphs") or [])
    return Paper(id=f"qasper:{arxiv_id}", title=entry.get("title") or arxiv_id, arxiv_id=arxiv_id,
                 abstract=abstract, sections=sections, paragraphs=paragraphs)


def questions(entry: dict) -> list[tuple[str, str]]:
    """[(question_id, question)] of one QASPER paper."""
    return [(q["question_id"], q["question"]) for q in entry.get("qas") or []]


def prediction(answer) -> dict:
    """QASPER's answer format: "Unanswerable", a bare "Yes"/"No" for a yes/no question, else the text."""
    if not answer.answerable:
        return {"answer": "Unanswerable", "evidence": []}
    text = answer.answer
    yes_no = re.match(r"\W*(yes|no)\b", text, re.I)
    if yes_no and is_boolean_question(answer.question):
        text = yes_no.group(1).capitalize()
    return {"answer": text, "evidence": [c.text for c in answer.citations if c.verified]}


def load_evaluator(dataset_path: str | Path):
    """The official ``qasper_evaluator`` module: beside the data set, or at $READER_APP_QASPER_EVALUATOR."""
    candidates = [Path(dataset_path).resolve().parent / "qasper_evaluator.py"]
    if os.environ.get("READER_APP_QASPER_EVALUATOR"):
        candidates.insert(0, Path(os.environ["READER_APP_QASPER_EVALUATOR"]))
    for c in candidates:
        if c.is_file():
            spec = importlib.util.spec_from_file_location("qasper_evaluator", c)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
    raise NotFound("the official QASPER evaluator (qasper_evaluator.py) was not found beside "
                   f"{dataset_path}; put it there or set READER_APP_QASPER_EVALUATOR")
