"""extract_paper: a PDF file -> a structured ``Paper``."""

from __future__ import annotations

import bisect
import difflib
import logging
import os
import re
from pathlib import Path

from reader_app.core.errors import PdfError, ReaderError
from reader_app.core.model import Paper, Paragraph, Section, ocr_note, page_ranges  # noqa: F401 (page_ranges: re-exported)
from reader_app.pdf import figures, layercheck, layout, metadata, ocr
from reader_app.pdf.annotations import read_annotations
from reader_app.pdf.lines import PageText, read_page
from reader_app.pdf.opening import short_text, open_pdf, sha256_file
from reader_app.pdf.structure import KNOWN_RE, REF_RE, Builder, Para, body_style, finish, heading_rest, num_level

log = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")

def _no_progress(done: int, total: int, budget: float = 0.0, label: str = "") -> None:
    pass


def extract_paper(path: str | Path, password: str | None = None, progress=None) -> Paper:
    """Read ``path`` into a Paper. Raises PdfError / PasswordError only.

    ``progress(done, total, budget=0.0, label="")``, when given, is called as pages are
    read (and again, with done == total, during the later whole-document passes);
    ``budget``: extra seconds the rest may need (OCR), ``label``: what is being done, for
    the window and the CLI.  ``isolated`` uses it to scale the import time limit.
    """
    p = Path(path).expanduser().resolve()
    doc = open_pdf(p, password)
    try:
        paper = _extract(doc, progress or _no_progress)
        _read_annotations(doc, paper)
        paper.id = sha256_file(p)
        paper.original_path = str(p)
        if not paper.title:
            paper.title = p.stem
        return paper
    except ReaderError:
        raise
    except Exception as exc:  # anything MuPDF or our heuristics throw on odd files
        raise PdfError(f"cannot extract the PDF's text ({short_text(exc)})") from None
    finally:
        doc.close()


def _read_annotations(doc, paper: Paper) -> None:
    """The PDF's own highlights and notes (issue L), kept by the library on import."""
    try:
        paper.annotations, skipped = read_annotations(doc)
    except Exception:  # noqa: BLE001 - annotations are extra: the paper's text still imports
        paper.annotations, skipped = [], 0
        paper.warnings.append("the PDF's annotations could not be read")
    if skipped:
        paper.warnings.append(f"skipped {skipped} PDF annotation{'s' if skipped != 1 else ''} "
                              "(unreadable, empty or past the limit)")


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def _extract(doc, _progress) -> Paper:
    warnings: list[str] = []
    pages: list[PageText] = []
    bad_pages = []
    graphics: dict[int, figures.PageGraphics] = {}
    n = doc.page_count
    scans: list[int] = []
    layers: dict[int, list] = {}  # page -> its invisible text layer, kept out until OCR confirms it
    for i in range(n):
        _progress(i, n)
        try:
            pg = read_page(doc[i], i + 1)
            if _scanned(doc[i], pg):
                if "invisible" in pg.hidden:  # a scan with its own (invisible) OCR text?
                    pg = read_page(doc[i], i + 1, ocr_layer=True)
                    pg.ocr = "layer"
                    if ocr.usable(pg.raw_text):
                        layers[i + 1] = pg.lines  # or hidden text: checked against the image below
                    pg.lines, pg.raw_text = [], ""  # a layer of gibberish: the image is read again
                if not pg.lines:
                    scans.append(i + 1)
            elif "tiny" in pg.hidden:  # glyphs of a font without text (Type3 headings)?
                runs = ocr.textless_runs(doc[i])
                if runs and ocr.ocr_available():
                    pg.lines.extend(ocr.ocr_runs(doc[i], i + 1, runs, pg.lines))
            pages.append(pg)
        except Exception:
            bad_pages.append(i + 1)
            pages.append(PageText(i + 1, 612.0, 792.0, [], [], set(), ""))
            continue
        if pg.lines and not pg.ocr:  # a scan is one picture: its text is not a figure's
            try:
                graphics[i + 1] = figures.page_graphics(doc[i], pg.drawings, pg.log)
            except Exception:
                pass  # no graphics: its figure text stays body
        pg.drawings = pg.log = None
    if bad_pages:
        warnings.append(f"could not read text on page{'s' if len(bad_pages) > 1 else ''} "
                        + page_ranges(bad_pages))
    if scans:
        _ocr(doc, pages, scans, warnings, layers, _progress)
    _progress(n, n)
    for pg in pages:
        pg.lines = layout.merge_rows(pg.lines)
    _progress(n, n)
    first_text = pages[0].raw_text + "\n" + "\n".join(pages[0].vertical)
    year_lines = (list(pages[0].lines), list(pages[1].lines) if n > 1 else [])  # running heads too
    layout.remove_running(pages)
    first = layout.reading_order(pages[0])
    body, _ = body_style([ln for pg in pages for ln in pg.lines])
    try:
        meta = doc.metadata or {}
    except Exception:
        meta = {}
    title, title_ids = metadata.find_title(first, body, pages[0].height, meta.get("title", ""))
    layout.remove_title_heads(pages, title)
    ordered = {pg.number: layout.reading_order(pg) for pg in pages[1:]}
    _progress(n, n)
    ordered[1] = first
    all_lines = [ln for pg in pages for ln in pg.lines]
    body, body_bold = body_style(all_lines)
    words = _vocabulary(ordered)

    builder = Builder(body, body_bold, words)
    heights = {pg.number: pg.height for pg in pages}
    for pg in pages:
        builder.add_page(ordered[pg.number], pg.height, title_ids)
        _progress(n, n)
    paras = finish(builder.paras, builder, heights)
    kinds = [p.kind for p in paras]
    try:
        figures.mark(paras, graphics, heights, {pg.number: pg.width for pg in pages})
    except Exception as exc:  # a refinement: its failure must not refuse the import
        log.debug("figure detector failed: %s", exc, exc_info=True)
        for p, kind in zip(paras, kinds):
            p.kind = kind  # never half-marked

    sections, starts = _sections_from_toc(doc, paras, title, len(pages))
    if sections and len(sections) < 3:
        sections = []
    if not sections:
        sections, starts = _sections_from_layout(paras)
    _assign_sections(paras, sections, starts)

    paper = Paper()
    paper.title = title
    paper.pages = doc.page_count
    paper.authors = metadata.find_authors(ordered[1], title_ids, meta.get("author", ""))
    paper.doi, paper.arxiv_id = metadata.find_ids(first_text, meta)
    paper.year = metadata.find_year(paper.arxiv_id, first_text, meta, year_lines[0], pages[0].height,
                                    year_lines[1], scanned=bool(pages[0].ocr))
    paper.sections = sections
    paper.ocr_pages = [pg.number for pg in pages if pg.ocr and pg.lines]
    if paper.ocr_pages:
        warnings.insert(0, ocr_note(paper.ocr_pages))
    rects = {pg.number: (pg.width, pg.height) for pg in pages}
    paper.paragraphs = [_to_paragraph(i, p, rects[p.page]) for i, p in enumerate(paras)]
    paper.abstract = _abstract(paper.paragraphs)

    hidden = [pg for pg in pages if pg.hidden]
    if hidden:
        nums = page_ranges([pg.number for pg in hidden])
        reasons = sorted(set().union(*(pg.hidden for pg in hidden)))
        warnings.append(
            f"hidden text removed on page{'s' if len(hidden) > 1 else ''} {nums} ({', '.join(reasons)})"
        )
    if not paper.paragraphs:
        warnings.append("no text found (a scanned PDF without a text layer?)")
    paper.warnings = warnings
    return paper


def _scanned(page, pg: PageText) -> bool:
    """A scanned page: mostly image, with (almost) no visible text of its own."""
    return sum(len(ln.text) for ln in pg.lines) < 200 and ocr.is_scan(page)


def _ocr(doc, pages: list[PageText], scans: list[int], warnings: list[str], layers: dict[int, list],
         _progress) -> None:
    """Read the text of scanned pages with OCR, or say in one warning why not.

    ``layers``: the invisible text layers of scanned pages.  Each line of one is kept only
    when OCR sees its words where it lies (``layercheck``); the lines OCR does not see are
    left out, and OCR's own lines fill their place; a warning names the pages where such a
    line holds words (not just a misread formula or label).  Without OCR a layer cannot be
    checked, so it is left out too.
    """
    plain = [num for num in scans if num not in layers]
    if not ocr.ocr_available():
        if plain:
            warnings.append(f"OCR unavailable: page{'s' if len(plain) > 1 else ''} {page_ranges(plain)} "
                            f"without a text layer not read ({ocr.INSTALL_HINT})")
        if layers:
            warnings.append(_unverified(sorted(layers), f"OCR is unavailable ({ocr.INSTALL_HINT})"))
        return
    todo, later = scans[: ocr.MAX_PAGES], scans[ocr.MAX_PAGES:]
    workers = max(1, os.cpu_count() or 1)
    per_page = ocr.PAGE_TIMEOUT / 4

    def progress(done: int, total: int) -> None:
        left = (total - done) * per_page / workers
        _progress(done, total, left, f"OCR page {done} of {total}")

    progress(0, len(todo))
    words: dict[int, list] = {}
    lines, failed = ocr.ocr_pages(doc, todo, progress, words if layers else None)
    mismatched: dict[int, int] = {}
    for num, found in lines.items():
        pg = pages[num - 1]
        pg.ocr = "tesseract"
        if num in layers:
            kept, hidden = layercheck.check(layers[num], words.get(num, []))
            if hidden:  # OCR's lines take their place; those that could carry a message are named
                found = layercheck.fill_in(kept, found)
                wordy = sum(1 for ln in hidden if layercheck.says_something(ln))
                if wordy:
                    mismatched[num] = wordy
            else:
                found = kept
            if kept:
                pg.ocr = "layer"
        pg.lines = found
        pg.raw_text = "\n".join(ln.text for ln in found)
    if mismatched:
        nums = sorted(mismatched)
        count = sum(mismatched.values())
        many = len(nums) > 1
        warnings.append(f"invisible text on page{'s' if many else ''} {page_ranges(nums)} "
                        f"does not match the page image{'s' if many else ''} "
                        f"and was left out ({count} line{'s' if count > 1 else ''})")
    if failed:
        warnings.append(f"OCR failed or timed out on page{'s' if len(failed) > 1 else ''} {page_ranges(failed)}")
    if later:
        warnings.append(f"pages {page_ranges(later)} not read: OCR stops after {ocr.MAX_PAGES} pages per import")
    unchecked = sorted(num for num in layers if num not in lines)
    if unchecked:
        warnings.append(_unverified(unchecked, "OCR did not read " + ("them" if len(unchecked) > 1 else "it")))


def _unverified(nums: list[int], why: str) -> str:
    """The warning for scanned pages whose invisible text layer could not be checked."""
    many = len(nums) > 1
    return (f"cannot verify the text layer of scanned page{'s' if many else ''} {page_ranges(nums)}: "
            f"{why}, so {'their' if many else 'its'} invisible text was left out")


def _vocabulary(ordered: dict) -> set[str]:
    """Words of the paper, leaving out the halves of words broken across lines."""
    words: set[str] = set()
    prev_hyph = False
    for num in sorted(ordered):
        for ln in ordered[num]:
            t = ln.text.lower()
            hyph = t.endswith("-")
            toks = _WORD.findall(t)
            if prev_hyph and toks:
                toks = toks[1:]
            if hyph and toks:
                toks = toks[:-1]
            words.update(toks)
            prev_hyph = hyph
    return words


def _to_paragraph(i: int, p: Para, wh: tuple[float, float]) -> Paragraph:
    w, h = wh
    x0, y0, x1, y1 = p.bbox
    bbox = (max(0.0, x0), max(0.0, y0), min(w, x1), min(h, y1))
    bbox = tuple(round(v, 2) for v in bbox)
    return Paragraph(i, p.text, p.page, bbox, p.section_index, p.section, p.kind)


def _sections_from_toc(doc, paras: list[Para], title: str, npages: int):
    try:
        toc = doc.get_toc(simple=True)
    except Exception:
        return [], []
    entries = [(lvl, " ".join(str(t).split()), pg) for lvl, t, pg, *_ in toc if str(t).strip() and 1 <= pg <= npages]
    entries = [e for e in entries if _norm(e[1]) != _norm(title)]
    if len(entries) >= 4 and sum(1 for e in entries if e[0] == entries[0][0]) == 1 \
            and all(e[0] > entries[0][0] for e in entries[1:]):
        entries = entries[1:]  # a single root holding everything: the document itself
    if len(entries) < 3:
        return [], []
    entries = _outline_levels(entries)
    base = min(e[0] for e in entries)
    sections: list[Section] = []
    starts: list[int] = []
    ptr = 0
    last_page = 0
    for lvl, t, pg in entries:
        target = _norm(t)
        target_rest = _norm(heading_rest(t)[1])
        found = None
        backwards = pg < last_page  # a page number that goes back (appendix pages counted anew)
        for j in range(ptr, len(paras)):
            p = paras[j]
            if p.page > pg + 1 and not backwards:
                break
            if (p.page < pg and not backwards) or len(p.lines) > 3:
                continue
            n = _norm(p.text)
            rest = _norm(heading_rest(p.text)[1])
            if n and (n == target or n == target_rest or rest == target_rest):
                found = j
                break
            if p.kind == "heading" and not backwards and rest and _similar(rest, target_rest):
                found = j  # the outline's text garbled (math in PDFDocEncoding): the page's wins
                t = heading_rest(p.text)[1] if heading_rest(t)[0] is None else p.text
                break
        if found is None and backwards:
            continue
        last_page = max(last_page, pg)
        if found is None:  # heading not matched: start at the page's first heading, else its first paragraph
            cands = [j for j in range(ptr, len(paras)) if paras[j].page == pg]
            heads = [j for j in cands if paras[j].kind == "heading" and not paras[j].extra.get("title")]
            found = heads[0] if heads else (cands[0] if cands else None)
        else:
            paras[found].kind = "heading"
        if found is None:
            continue
        ptr = found + 1 if paras[found].kind == "heading" else found
        sections.append(Section(len(sections), t, lvl - base + 1, pg))
        starts.append(found)
    # Outlines often omit the abstract, acknowledgements or references: add the ones the layout found.
    have = set(starts)
    for j, p in enumerate(paras):
        if p.kind == "heading" and j not in have and not p.extra.get("title"):
            if KNOWN_RE.match(heading_rest(p.text)[1].rstrip(":. ")):
                k = bisect.bisect_left(starts, j)
                starts.insert(k, j)
                sections.insert(k, Section(0, p.text, 1, p.page))
    for i, sec in enumerate(sections):
        sec.index = i
    return sections, starts


def _similar(a: str, b: str) -> bool:
    """Two squashed heading texts that differ only in a few garbled characters."""
    return min(len(a), len(b)) >= 12 and difflib.SequenceMatcher(None, a, b).ratio() >= 0.8


def _caps(text: str) -> bool:
    letters = [c for c in heading_rest(text)[1] if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters)


def _outline_levels(entries: list[tuple]) -> list[tuple]:
    """Where most entries are numbered, the numbers give the levels ("3" 1, "3.1" 2):
    outlines are often nested wrongly by hand."""
    nums = [heading_rest(t)[0] for _, t, _ in entries]
    if sum(1 for n in nums if n and n[0].isdigit()) < len(entries) / 2:
        return entries
    base = min(e[0] for e in entries)
    letters = {n.rstrip(".") for n in nums if n and n[0].isalpha() and len(n.rstrip(".")) == 1}
    appendix = {"A", "B"} <= letters  # "A Case Study", "B Additional Evaluations": appendices

    def numbered(n: str | None) -> bool:
        return bool(n) and (n[0].isdigit() or (appendix and n[0] in letters))

    return [(num_level(n) + base - 1 if numbered(n) else lvl, t, pg) for (lvl, t, pg), n in zip(entries, nums)]


_PAGE_REF = re.compile(r"\s(?:\d{1,3}|[ivxlc]{1,6})$")


def _contents_pages(heads: list) -> set[int]:
    """Pages of a table of contents: three or more "headings" there end in a page number."""
    per_page: dict[int, int] = {}
    named = set()
    for _, p in heads:
        if _PAGE_REF.search(p.text):
            per_page[p.page] = per_page.get(p.page, 0) + 1
        if re.fullmatch(r"(?i)(table of )?contents", p.text.strip()):
            named.add(p.page)
    pages = {pg for pg, n in per_page.items() if n >= 3} | named
    return pages | {pg + 1 for pg in pages if per_page.get(pg + 1)}  # a contents list runs on


def _sections_from_layout(paras: list[Para]):
    heads = [(j, p) for j, p in enumerate(paras) if p.kind == "heading" and not p.extra.get("title")]
    contents = _contents_pages(heads)
    for j, p in heads:
        if p.page in contents and _PAGE_REF.search(p.text):
            p.kind = "body"  # a line of the table of contents
    heads = [(j, p) for j, p in heads if p.kind == "heading"]
    lvl1_sizes = [p.size for _, p in heads if p.numbered and p.level == 1]
    # the paper numbers its sections: unnumbered headings between numbered ones, in type no
    # larger than theirs, are paragraph headings ("Relay cells" inside "4 The Tor Design")
    nums = [(j, p.size) for j, p in heads if p.numbered and (p.extra.get("num") or "x")[0] in "0123456789IVX"]
    appendix = [j for j, p in heads if p.numbered and p.level == 1 and re.fullmatch(r"[A-H]\.?", p.extra.get("num") or "")]
    if len(nums) >= 3 and appendix:
        nums.append((len(paras), 0.0))  # unnumbered headings inside the last (lettered) appendix too
    numbered = len(nums) >= 3
    first_numbered = nums[0][0] if nums else -1
    last_numbered = nums[-1][0] if nums else -1
    numbered_size = max((sz for _, sz in nums), default=0.0)
    nums.sort()
    sizes = sorted({p.size for _, p in heads}, reverse=True)
    roman = len({p.extra.get("num") for _, p in heads if re.fullmatch(r"[IVX]+\.", p.extra.get("num") or "")}) >= 2
    sections, starts = [], []
    prev_known = False
    for j, p in heads:
        level = p.level
        after_known, prev_known = prev_known, bool(not p.numbered and KNOWN_RE.match(heading_rest(p.text)[1].rstrip(":. ")))
        num = p.extra.get("num") or ""
        if roman and re.fullmatch(r"1{1,3}\.", num) and _caps(p.text):
            level = 1  # "11. SIFT CONCEPT": OCR reads the roman II as 11
        elif roman and re.fullmatch(r"[A-H]\.?|\d{1,2}[.)]?", num):
            level = max(level, 2)  # IEEE style: I. INTRODUCTION / A. Subsection / 1) Paragraph
        if level == 0:
            _, rest = heading_rest(p.text)
            if numbered and first_numbered < j < last_numbered and p.size <= numbered_size + 0.3 \
                    and not after_known and not KNOWN_RE.match(rest.rstrip(":. ")):
                level = 2  # an unnumbered heading among numbered sections: a paragraph heading
            elif lvl1_sizes:
                level = 1 if p.size >= min(lvl1_sizes) - 0.3 else 2
            else:
                level = 1 if (not sizes or p.size >= sizes[0] - 0.3) else 2
        p.level = level
        sections.append(Section(len(sections), p.text, level, p.page))
        starts.append(j)
    return sections, starts


def _assign_sections(paras: list[Para], sections: list[Section], starts: list[int]) -> None:
    k = -1
    ref_sec = None
    for j, p in enumerate(paras):
        while k + 1 < len(starts) and starts[k + 1] <= j:
            k += 1
            if REF_RE.match(heading_rest(sections[k].title)[1].rstrip(":. ")):
                ref_sec = k
        if k >= 0:
            p.section_index = k
            p.section = sections[k].title
            if k == ref_sec and p.kind == "body":
                p.kind = "reference"
            elif p.kind == "reference" and ref_sec is not None and k > ref_sec:
                p.kind = "body"


def _abstract(paragraphs: list[Paragraph]) -> str:
    """Body text under an "Abstract" heading, up to the next heading of any kind."""
    parts: list[str] = []
    for p in paragraphs:
        in_abstract = re.fullmatch(r"(?i)abstract[:.]?", heading_rest(p.section)[1].strip())
        if parts and (p.kind == "heading" or not in_abstract):
            break
        if in_abstract and p.kind == "body":
            parts.append(p.text)
    if parts:
        return "\n\n".join(parts)
    for p in paragraphs[:40]:
        m = re.match(r"(?i)^abstract\s*[^\w\s]{0,2}\s*(.{40,})", p.text)
        if m:
            return m.group(1)
    return ""
