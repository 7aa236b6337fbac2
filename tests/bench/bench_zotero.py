"""Time ``import-zotero`` on a generated Zotero library of N items (default 1,000).

Each item gets its own small two-page PDF (distinct bytes, so each is extracted), three
creators, a tag, a nested collection, an HTML note and two highlights whose rects are
computed with PyMuPDF; 5% have no PDF, 2% a missing file, 1% an unreadable and 1% an
encrypted PDF.  Prints the first import, the re-run (nothing changed) and the skipped
counts by reason.

    PYTHONPATH=$PWD python tests/bench/bench_zotero.py [--items 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pymupdf  # noqa: E402

from zotero_builder import ZoteroBuilder  # noqa: E402

from reader_app.importers.zotero import import_zotero  # noqa: E402
from reader_app.library import Library  # noqa: E402

LOREM = ("Scientific papers describe methods and results. We measure the import of a reference "
         "library with notes and highlights made in another reader. ")


def make_pdf(path: Path, n: int, encrypted: bool = False) -> list:
    doc = pymupdf.open()
    rects = []
    for p in range(2):
        page = doc.new_page()
        page.insert_text((72, 72), f"Paper number {n} page {p + 1}", fontsize=16)
        y = 110
        for line in range(25):
            page.insert_text((72, y), f"{LOREM[:80]} {n}-{p}-{line}", fontsize=9)
            y += 13
        hit = page.search_for(f"Paper number {n} page {p + 1}")[0] * ~page.transformation_matrix
        rects.append([round(hit.x0, 2), round(hit.y0, 2), round(hit.x1, 2), round(hit.y1, 2)])
    kw = dict(encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="o", user_pw="u") if encrypted else {}
    doc.save(str(path), **kw)
    doc.close()
    return rects


def build(root: Path, n: int) -> Path:
    pdfs = root / "pdfs"
    pdfs.mkdir()
    b = ZoteroBuilder(root / "Zotero")
    top = b.collection("Bench")
    subs = [b.collection(f"Topic {i}", top) for i in range(10)]
    for i in range(n):
        item, _ = b.item("journalArticle", {"title": f"Generated paper {i}", "date": f"{1990 + i % 35}-01-01",
                                            "DOI": f"10.5555/bench.{i}", "publicationTitle": "Bench Journal"},
                         creators=[f"Ann Author{i}", "Bob Second", "Cy Third"], tags=[f"tag{i % 20}"],
                         collections=[subs[i % 10]])
        r = i % 100
        if r < 5:
            continue  # no PDF
        if r < 7:
            b.stored_pdf(item, pdfs / "does-not-exist.pdf", name="gone.pdf")
            continue
        path = pdfs / f"p{i}.pdf"
        if r == 7:
            path.write_bytes(b"%PDF-1.4 broken " * 20)
            b.linked_pdf(item, str(path))
            continue
        rects = make_pdf(path, i, encrypted=(r == 8))
        att, _ = b.stored_pdf(item, path)
        b.note(item, f"<p>Note on <b>paper {i}</b></p>")
        for page, rect in enumerate(rects):
            b.annotation(att, "highlight", {"pageIndex": page, "rects": [rect]}, comment=f"c{i}")
    b.close()
    return root / "Zotero"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        profile = build(root, args.items)
        print(f"built a Zotero library of {args.items} items in {time.perf_counter() - t:.1f} s")
        with Library.open(root / "lib") as lib:
            t = time.perf_counter()
            r = import_zotero(lib, profile)
            first = time.perf_counter() - t
            t = time.perf_counter()
            again = import_zotero(lib, profile)
            rerun = time.perf_counter() - t
        print(f"first import: {first:.1f} s ({first / args.items * 1000:.0f} ms per item): "
              f"{r['imported']} imported, annotations {r['annotations']}, notes {r['notes']}")
        print(f"skipped by reason: {r['skipped']}")
        print(f"re-run: {rerun:.2f} s, {again['unchanged']} unchanged, {again['imported']} imported")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
