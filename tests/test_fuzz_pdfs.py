"""Issue D §5: mutated copies of the shared papers never crash or hang the importer.

Bounded: a fixed number of mutants from a fixed seed, each under the importer's time limit.
"""

from __future__ import annotations

import random
import re
import time

import pytest

from conftest import PAPERS
from reader_app.core.errors import PdfError
from reader_app.core.model import Paper

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not PAPERS.exists(), reason="shared papers not present")]


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randint(16, len(data) - 1)]


def _flip_bytes(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 200)):
        i = rng.randrange(len(buf))
        buf[i] ^= 1 << rng.randrange(8)
    return bytes(buf)


def _duplicate_xref(data: bytes, rng: random.Random) -> bytes:
    m = list(re.finditer(rb"xref|startxref", data))
    if not m:
        return data + data[-2048:]
    at = rng.choice(m).start()
    chunk = data[at: at + rng.randint(64, 4096)]
    return data[:at] + chunk + data[at:]


def _zero_block(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data))
    n = rng.randint(64, 8192)
    return data[:start] + b"\0" * n + data[start + n:]


def _shuffle_chunks(data: bytes, rng: random.Random) -> bytes:
    size = max(1024, len(data) // 16)
    chunks = [data[i: i + size] for i in range(0, len(data), size)]
    head, rest = chunks[0], chunks[1:]
    rng.shuffle(rest)
    return b"".join([head, *rest])


MUTATORS = [_truncate, _flip_bytes, _duplicate_xref, _zero_block, _shuffle_chunks]


def test_mutated_papers_are_imported_or_refused(tmp_path):
    from reader_app.library import Library
    from reader_app.pdf import extract_paper_isolated

    rng = random.Random(20261122)
    sources = sorted(PAPERS.glob("*.pdf"))
    lib = Library.open(tmp_path / "library")
    tried = imported = refused = 0
    for i in range(30):
        src = sources[i % len(sources)]
        mutate = MUTATORS[i % len(MUTATORS)]
        data = mutate(src.read_bytes(), rng)
        f = tmp_path / f"mutant-{i:02d}-{mutate.__name__.strip('_')}.pdf"
        f.write_bytes(data)
        tried += 1
        t0 = time.monotonic()
        try:
            paper = extract_paper_isolated(str(f), timeout=30)
        except PdfError as exc:
            assert str(exc) and "\n" not in str(exc)
            refused += 1
        else:
            assert isinstance(paper, Paper) and paper.pages >= 1
            lib.add_paper(paper, f)
            imported += 1
        assert time.monotonic() - t0 < 40, f.name
    print(f"\nfuzz: {tried} mutants, {imported} imported, {refused} refused")
    assert imported + refused == tried
    assert lib.integrity_check() == "ok"
    lib.close()
