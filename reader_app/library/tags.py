"""Library tags: names on papers, case-insensitive and unique."""

from __future__ import annotations

from typing import Iterable

from reader_app.core.errors import BadInput

from .db import LibraryDb, locked


def clean_tags(tags: Iterable[str] | str) -> list[str]:
    """Tag names as stored: spaces squeezed, a leading ``#`` dropped, case-insensitive
    duplicates removed; BadInput for an empty or over-long one."""
    if isinstance(tags, str):
        tags = [tags]
    out: list[str] = []
    for t in tags:
        t = " ".join(str(t).split()).lstrip("#")
        if not t:
            raise BadInput("empty tag")
        if len(t) > 200:
            raise BadInput("tag longer than 200 characters")
        if t.casefold() not in (o.casefold() for o in out):
            out.append(t)
    return out


class Tags:
    """The ``tags`` and ``paper_tags`` tables.

    Contract: tagging is idempotent and case-insensitive; a tag no paper has any more is
    deleted with its last use (here, and when a paper is removed).  ``add_in_write`` is for
    other parts that tag inside their own write transaction (importing a paper).
    """

    def __init__(self, db: LibraryDb) -> None:
        self._db = db

    @locked
    def tags_of(self, pid: str) -> list[str]:
        """The tags of paper ``pid`` (a full id), by name."""
        return [r["name"] for r in self._db.rows("""SELECT t.name FROM tags t JOIN paper_tags pt
                  ON pt.tag_id = t.id WHERE pt.paper_id = ? ORDER BY t.name COLLATE NOCASE""", [pid])]

    @locked
    def tags_by_paper(self) -> dict[str, list[str]]:
        """Every tagged paper's id -> its tags, by name."""
        out: dict[str, list[str]] = {}
        for r in self._db.rows("""SELECT pt.paper_id, t.name FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id
                                  ORDER BY t.name COLLATE NOCASE"""):
            out.setdefault(r["paper_id"], []).append(r["name"])
        return out

    def add_in_write(self, pid: str, tags: Iterable[str]) -> None:
        """Tag paper ``pid`` inside the caller's write transaction."""
        for name in clean_tags(tags):
            self._db.execute("INSERT OR IGNORE INTO tags (name) VALUES (?)", [name])
            self._db.execute("""INSERT OR IGNORE INTO paper_tags (paper_id, tag_id)
                                SELECT ?, id FROM tags WHERE name = ?""", [pid, name])

    @locked
    def add_tags(self, paper_id: str, tags: Iterable[str]) -> list[str]:
        """Tag a paper (case-insensitive, idempotent). Returns the paper's tags."""
        pid = self._db.resolve_id(paper_id)
        with self._db.write():
            self.add_in_write(pid, tags)
        return self.tags_of(pid)

    @locked
    def remove_tags(self, paper_id: str, tags: Iterable[str]) -> list[str]:
        """Untag a paper (tags it does not have are ignored). Returns the paper's tags."""
        pid = self._db.resolve_id(paper_id)
        with self._db.write():
            for name in clean_tags(tags):
                self._db.execute("""DELETE FROM paper_tags WHERE paper_id = ?
                                    AND tag_id IN (SELECT id FROM tags WHERE name = ?)""", [pid, name])
            self.drop_unused_in_write()
        return self.tags_of(pid)

    def drop_unused_in_write(self) -> None:
        """Delete tags no paper has (inside the caller's write transaction)."""
        self._db.execute("DELETE FROM tags WHERE id NOT IN (SELECT tag_id FROM paper_tags)")

    @locked
    def all_tags(self) -> list[tuple[str, int]]:
        """(tag, how many papers have it), by name."""
        return [(r["name"], r["n"]) for r in self._db.rows(
            """SELECT t.name, COUNT(pt.paper_id) AS n FROM tags t JOIN paper_tags pt ON pt.tag_id = t.id
               GROUP BY t.id ORDER BY t.name COLLATE NOCASE""")]
