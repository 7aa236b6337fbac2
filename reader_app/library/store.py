"""The library's part for the assistant (schema v2): cached demonstrations, Q&A history,
cached summaries."""

from __future__ import annotations

import re
from dataclasses import asdict

from reader_app.core.errors import BadInput
from reader_app.core.model import Answer, Citation, Selection, Timings

from .db import LibraryDb, _text, dumps, loads, now


def _key(name: str, value: str) -> str:
    value = str(value or "").strip()
    if not value:
        raise BadInput(f"empty {name}")
    return value


def _section_order(key: str) -> tuple:
    """tldr first, then s1, s2, ..., s10 numerically, then anything else by name."""
    if key == "tldr":
        return (0, 0, "")
    m = re.fullmatch(r"s(\d+)", key)
    if m:
        return (1, int(m.group(1)), "")
    return (2, 0, key)


def _citation(d: dict) -> Citation:
    bbox = d.get("bbox") or (0.0, 0.0, 0.0, 0.0)
    return Citation(paragraph=int(d.get("paragraph", 0)), page=int(d.get("page", 0)),
                    section=d.get("section", ""), text=d.get("text", ""),
                    bbox=tuple(float(x) for x in bbox), verified=bool(d.get("verified", False)),
                    paper_id=d.get("paper_id", "") or "", paper_title=d.get("paper_title", "") or "")


class AssistantStore:
    """The ``demonstrations``, ``qa_history`` and ``summaries`` tables (issue B).

    Contract: keyed by paper (any unique id prefix) and, for the caches, by model key and
    window/section key; ``put_*`` replaces what was kept under the same key; ``get_*``
    returns None when nothing is kept.  Q&A history is append-only (``add_qa`` returns the
    row id) and read oldest first.  All of it goes with its paper (cascade) and survives
    re-extraction.
    """

    def __init__(self, db: LibraryDb) -> None:
        self._db = db

    # --- demonstrations: one list per (paper, model, window)
    def get_demonstrations(self, paper_id: str, model_key: str, window_key: str) -> list[dict] | None:
        with self._db.lock:
            pid = self._db.resolve_id(paper_id)
            row = self._db.one("""SELECT demos FROM demonstrations WHERE paper_id = ? AND model_key = ?
                               AND window_key = ?""", [pid, str(model_key), str(window_key)])
            return None if row is None else loads(row["demos"], None)

    def put_demonstrations(self, paper_id: str, model_key: str, window_key: str, demos: list[dict]) -> None:
        with self._db.lock:
            pid = self._db.resolve_id(paper_id)
            with self._db.write():
                self._db.table("demonstrations").upsert(
                    {"paper_id": pid, "model_key": _key("model key", model_key),
                     "window_key": str(window_key), "demos": dumps(list(demos)), "created": now()},
                    pk=("paper_id", "model_key", "window_key"))

    def list_demonstrations(self, model_key: str) -> list[tuple[str, str, list[dict]]]:
        """[(paper id, window key, demonstrations)] kept for ``model_key``, by paper id and window
        key (a stable order: what passage answers recycle, ``assistant/recycled.py``)."""
        with self._db.lock:
            rows = self._db.rows("""SELECT paper_id, window_key, demos FROM demonstrations WHERE model_key = ?
                                 ORDER BY paper_id, window_key""", [str(model_key)])
            return [(r["paper_id"], r["window_key"], loads(r["demos"], None) or []) for r in rows]

    # --- Q&A history
    def add_qa(self, answer: Answer) -> int:
        with self._db.lock:
            pid = self._db.resolve_id(answer.paper_id)
            created = answer.created or now()
            with self._db.write():
                sel = answer.selection
                cur = self._db.execute(
                    """INSERT INTO qa_history (paper_id, question, answer, answerable, citations, mode,
                       model, timings, created, raw, selection, selection_page, draft, confidence)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    [pid, _text(answer.question), _text(answer.answer), int(bool(answer.answerable)),
                     dumps([asdict(c) for c in answer.citations]), _text(answer.mode), _text(answer.model),
                     dumps(asdict(answer.timings)), created, _text(answer.raw),
                     _text(sel.text) if sel is not None else "", int(sel.page) if sel is not None else 0,
                     _text(answer.draft), _confidence(answer.confidence)])
                return cur.lastrowid

    def qa_history(self, paper_id: str) -> list[Answer]:
        """A paper's questions and answers, oldest first."""
        with self._db.lock:
            pid = self._db.resolve_id(paper_id)
            out = []
            for r in self._db.rows("SELECT * FROM qa_history WHERE paper_id = ? ORDER BY created, id", [pid]):
                t = loads(r["timings"], {})
                timings = Timings(**{k: t[k] for k in Timings.__dataclass_fields__ if k in t})
                out.append(Answer(paper_id=pid, question=r["question"], answer=r["answer"],
                                  answerable=bool(r["answerable"]),
                                  citations=[_citation(c) for c in loads(r["citations"], [])],
                                  mode=r["mode"], model=r["model"], timings=timings, created=r["created"],
                                  raw=r["raw"] or "", id=r["id"], draft=r["draft"] or "",
                                  confidence=r["confidence"],
                                  selection=Selection(r["selection"], r["selection_page"] or 0)
                                  if r["selection"] else None))
            return out

    # --- summaries: data = {"title", "summary", "citations", ...}
    def get_summary(self, paper_id: str, model_key: str, section_key: str) -> dict | None:
        with self._db.lock:
            pid = self._db.resolve_id(paper_id)
            row = self._db.one("""SELECT data FROM summaries WHERE paper_id = ? AND model_key = ?
                               AND section_key = ?""", [pid, str(model_key), str(section_key)])
            return None if row is None else loads(row["data"], None)

    def put_summary(self, paper_id: str, model_key: str, section_key: str, data: dict) -> None:
        if not isinstance(data, dict):
            raise BadInput("summary data must be a dict")
        with self._db.lock:
            pid = self._db.resolve_id(paper_id)
            ts = now()
            with self._db.write():
                self._db.execute(
                    """INSERT INTO summaries (paper_id, model_key, section_key, data, created, updated)
                       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (paper_id, model_key, section_key)
                       DO UPDATE SET data = excluded.data, updated = excluded.updated""",
                    [pid, _key("model key", model_key), _key("section key", section_key), dumps(data), ts, ts])

    def summaries(self, paper_id: str) -> list[dict]:
        """All cached summaries of a paper: each is its data plus ``model``, ``section_key``,
        ``created`` and ``updated``; TL;DR first, then sections in order (per model)."""
        with self._db.lock:
            pid = self._db.resolve_id(paper_id)
            out = []
            for r in self._db.rows("SELECT * FROM summaries WHERE paper_id = ?", [pid]):
                d = loads(r["data"], {})
                if not isinstance(d, dict):
                    d = {"summary": str(d)}
                d.update(model=r["model_key"], section_key=r["section_key"], created=r["created"],
                         updated=r["updated"])
                out.append(d)
            out.sort(key=lambda d: (d["model"], _section_order(d["section_key"])))
            return out


def _confidence(value) -> float | None:
    """A confidence to keep: a number in [0, 1], else NULL."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return min(1.0, max(0.0, float(value)))
