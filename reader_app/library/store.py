"""Library parts for the assistant (schema v2) and for maintenance (check, backup)."""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import asdict
from pathlib import Path

from reader_app.core.errors import BadInput, NotFound
from reader_app.core.files import atomic_writer
from reader_app.core.model import Answer, Citation, Selection, Timings

from .db import _text, dumps, loads, now, write


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


class AssistantStoreMixin:
    """Cached demonstrations, Q&A history and cached summaries (issue B)."""

    # --- demonstrations: one list per (paper, model, window)
    def get_demonstrations(self, paper_id: str, model_key: str, window_key: str) -> list[dict] | None:
        with self._lock:
            pid = self.resolve_id(paper_id)
            row = self._one("""SELECT demos FROM demonstrations WHERE paper_id = ? AND model_key = ?
                               AND window_key = ?""", [pid, str(model_key), str(window_key)])
            return None if row is None else loads(row["demos"], None)

    def put_demonstrations(self, paper_id: str, model_key: str, window_key: str, demos: list[dict]) -> None:
        with self._lock:
            pid = self.resolve_id(paper_id)
            with write(self.db):
                self.db["demonstrations"].upsert(
                    {"paper_id": pid, "model_key": _key("model key", model_key),
                     "window_key": str(window_key), "demos": dumps(list(demos)), "created": now()},
                    pk=("paper_id", "model_key", "window_key"))

    # --- Q&A history
    def add_qa(self, answer: Answer) -> int:
        with self._lock:
            pid = self.resolve_id(answer.paper_id)
            created = answer.created or now()
            with write(self.db):
                sel = answer.selection
                cur = self.db.execute(
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
        with self._lock:
            pid = self.resolve_id(paper_id)
            out = []
            for r in self._rows("SELECT * FROM qa_history WHERE paper_id = ? ORDER BY created, id", [pid]):
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
        with self._lock:
            pid = self.resolve_id(paper_id)
            row = self._one("""SELECT data FROM summaries WHERE paper_id = ? AND model_key = ?
                               AND section_key = ?""", [pid, str(model_key), str(section_key)])
            return None if row is None else loads(row["data"], None)

    def put_summary(self, paper_id: str, model_key: str, section_key: str, data: dict) -> None:
        if not isinstance(data, dict):
            raise BadInput("summary data must be a dict")
        with self._lock:
            pid = self.resolve_id(paper_id)
            ts = now()
            with write(self.db):
                self.db.execute(
                    """INSERT INTO summaries (paper_id, model_key, section_key, data, created, updated)
                       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (paper_id, model_key, section_key)
                       DO UPDATE SET data = excluded.data, updated = excluded.updated""",
                    [pid, _key("model key", model_key), _key("section key", section_key), dumps(data), ts, ts])

    def summaries(self, paper_id: str) -> list[dict]:
        """All cached summaries of a paper: each is its data plus ``model``, ``section_key``,
        ``created`` and ``updated``; TL;DR first, then sections in order (per model)."""
        with self._lock:
            pid = self.resolve_id(paper_id)
            out = []
            for r in self._rows("SELECT * FROM summaries WHERE paper_id = ?", [pid]):
                d = loads(r["data"], {})
                if not isinstance(d, dict):
                    d = {"summary": str(d)}
                d.update(model=r["model_key"], section_key=r["section_key"], created=r["created"],
                         updated=r["updated"])
                out.append(d)
            out.sort(key=lambda d: (d["model"], _section_order(d["section_key"])))
            return out


class MaintenanceMixin:
    """Integrity check and online backup (issue D)."""

    def integrity_check(self) -> str:
        """``"ok"``, or one problem per line: SQLite pages, foreign keys, FTS index, stored files."""
        with self._lock:
            problems = [r[0] for r in self.db.conn.execute("PRAGMA integrity_check").fetchall()]
            if problems == ["ok"]:
                problems = []
            for r in self.db.conn.execute("PRAGMA foreign_key_check").fetchall():
                problems.append(f"foreign key: row {r[1]} of {r[0]} points at a missing {r[2]}")
            try:  # a write-shaped command: take the write lock (with busy retries) like any write
                with write(self.db):
                    self.db.conn.execute("INSERT INTO paragraphs_fts(paragraphs_fts, rank) VALUES ('integrity-check', 1)")
            except sqlite3.DatabaseError as e:
                problems.append(f"search index: {e} (rebuild with reindex)")
            for r in self._rows("SELECT id, file FROM papers WHERE file != ''"):
                if not (self.path / r["file"]).is_file():
                    problems.append(f"paper {r['id'][:12]}: stored file {r['file']} is missing")
            return "\n".join(problems) if problems else "ok"

    def reindex(self) -> None:
        """Rebuild the full-text index from the paragraphs table."""
        with self._lock, write(self.db):
            self.db.execute("INSERT INTO paragraphs_fts(paragraphs_fts) VALUES ('rebuild')")

    def backup(self, out_path: str | os.PathLike) -> Path:
        """Consistent copy of the database (SQLite online backup), safe while others write.

        Only the database: the PDFs in ``files/`` are not included.  Written to a temporary
        file and renamed into place, replacing ``out_path`` if it exists (the CLI asks for
        --force first).  Returns the absolute path written.
        """
        out = Path(out_path).expanduser().resolve()
        with self._lock:
            if out == self.db_path.resolve() or out.parent == self.path and out.name.startswith(self.db_path.name):
                raise BadInput("the backup cannot replace the library's own database")
            if out.is_dir():
                raise BadInput(f"{out} is a folder; give a file name for the backup")
            if not out.parent.is_dir():
                raise NotFound(f"folder {out.parent} does not exist")
            try:
                with atomic_writer(out) as fh:  # SQLite writes the temporary file by its name
                    dest = sqlite3.connect(fh.name)
                    try:
                        self.db.conn.backup(dest)
                        dest.execute("PRAGMA journal_mode = DELETE")
                    finally:
                        dest.close()
            except (OSError, sqlite3.Error) as e:
                raise BadInput(f"cannot write backup {out}: {e}") from None
            return out


def _confidence(value) -> float | None:
    """A confidence to keep: a number in [0, 1], else NULL."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return min(1.0, max(0.0, float(value)))
