"""OCR for scanned pages: Tesseract, run as its own command on rendered pages.

A page needs OCR when it is mostly image and has no text layer.  Its image is rendered
here (PyMuPDF) and read by ``tesseract`` (TSV output: words with boxes and confidences),
one process per page and as many at once as there are CPU cores.  The ``tesseract``
command rather than MuPDF's built-in Tesseract: MuPDF's refuses to run on two threads
at once (Leptonica), and the import already runs in a child process that may not start
a process pool; separate processes also give each page a time limit and a clean stop.

Headings drawn in a Type3 font whose glyphs extract as no text are found in the page's
text trace and read the same way, one line at a time (``textless_runs``, ``ocr_runs``).

Words below ``MIN_CONF`` confidence are dropped, and a page whose words are mostly
unreadable (noise, a photo, a rotated page) keeps none, so it cannot produce a heap of
fake headings.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pymupdf

from reader_app.pdf.lines import Line, ocr_digits

DPI = 200
PAGE_TIMEOUT = 60.0  # seconds one page may take before it is skipped
MAX_PAGES = 300  # pages OCR'd per import; later ones are named in the warnings
MIN_CONF = 30  # word confidence (0-100) below which a word is dropped
MIN_GOOD_SHARE = 0.5  # share of a page's words that must be confidently read
MIN_IMAGE_SHARE = 0.3  # share of the page covered by images for it to be a scan
INSTALL_HINT = "install Tesseract: apt-get install tesseract-ocr tesseract-ocr-eng"


@functools.lru_cache(maxsize=1)
def ocr_available() -> bool:
    """True when the ``tesseract`` command and its English data are installed."""
    exe = shutil.which("tesseract")
    if not exe:
        return False
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return "eng" in (out.stdout + out.stderr).split()


_WORD = re.compile(r"^[(\[\"']?(?:[A-Za-z][a-z]{0,14}|[A-Z]{1,6}|\d+)[.,;:)\]\"'!?]*$")
MIN_WORD_SHARE = 0.5  # an OCR layer with fewer plausible words than this is read again


def usable(text: str) -> bool:
    """Does a scan's own OCR text read as words (not "Faultiadrtioniarchievedbyus@?")?"""
    toks = text.split()
    return len(toks) < 20 or sum(1 for t in toks if _WORD.match(t)) >= MIN_WORD_SHARE * len(toks)


def image_share(page) -> float:
    """Share of the page area covered by images (overlaps counted once, roughly)."""
    area = abs(page.rect) or 1.0
    try:
        rects = [page.rect & _rect(info["bbox"]) for info in page.get_image_info()]
    except Exception:
        return 0.0
    rects = [r for r in rects if not r.is_empty]
    if not rects:
        return 0.0
    biggest = max(abs(r) for r in rects)
    return min(1.0, max(biggest, sum(abs(r) for r in rects) * 0.8) / area)


def _rect(bbox):
    return pymupdf.Rect(bbox)


def is_scan(page) -> bool:
    return image_share(page) >= MIN_IMAGE_SHARE


def ocr_pages(doc, numbers: list[int], progress=None,
              words: dict | None = None) -> tuple[dict[int, list[Line]], list[int]]:
    """OCR the 1-based ``numbers`` of ``doc``: ({page: lines}, pages that failed or timed out).

    Pages are rendered one by one in this thread (MuPDF) and read by up to ``os.cpu_count()``
    tesseract processes at once; ``progress(done, total)`` is called as pages finish.
    ``words``, when given, receives {page: every word read, as (x0, y0, x1, y1, text) in
    points}, low confidence ones too: what a scan's own text layer is checked against.
    """
    workers = max(1, min(len(numbers), os.cpu_count() or 1))
    results: dict[int, list[Line]] = {}
    failed: list[int] = []
    done = 0
    with ThreadPoolExecutor(workers) as pool:
        pending = []
        for num in numbers:
            page = doc[num - 1]
            try:
                png = page.get_pixmap(dpi=DPI, colorspace="gray").tobytes("png")
            except Exception:
                failed.append(num)
                continue
            pending.append((num, 72.0 / DPI, pool.submit(_tesseract, png)))
            while len(pending) > workers:  # keep at most one rendered page waiting per worker
                done += _collect(pending.pop(0), results, failed, words)
                if progress:
                    progress(done, len(numbers))
        for item in pending:
            done += _collect(item, results, failed, words)
            if progress:
                progress(done, len(numbers))
    return results, sorted(failed)


def _collect(item, results: dict, failed: list, words: dict | None = None) -> int:
    num, scale, fut = item
    tsv = fut.result()
    if tsv is None:
        failed.append(num)
    else:
        results[num] = lines_from_tsv(tsv, num, scale)
        if words is not None:
            words[num] = words_from_tsv(tsv, scale)
    return 1


def words_from_tsv(tsv: str, scale: float) -> list[tuple[float, float, float, float, str]]:
    """Every word of Tesseract's TSV as (x0, y0, x1, y1, text) in points, whatever its confidence."""
    out = []
    for row in tsv.splitlines()[1:]:
        f = row.split("\t")
        if len(f) < 12 or f[0] != "5" or not f[11].strip():
            continue
        try:
            left, top, width, height = (int(v) for v in f[6:10])
        except ValueError:
            continue
        out.append((left * scale, top * scale, (left + width) * scale, (top + height) * scale, f[11].strip()))
    return out


def _tesseract(png: bytes, psm: int = 3, dpi: int = DPI) -> str | None:
    try:
        out = subprocess.run(
            ["tesseract", "stdin", "stdout", "--dpi", str(dpi), "--psm", str(psm), "-l", "eng",
             "-c", "tessedit_do_invert=0", "tsv"],
            input=png, capture_output=True, timeout=PAGE_TIMEOUT,
            env=dict(os.environ, OMP_THREAD_LIMIT="1"),
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.decode("utf-8", "replace")


def lines_from_tsv(tsv: str, number: int, scale: float, dx: float = 0.0, dy: float = 0.0) -> list[Line]:
    """Tesseract's TSV -> text lines in PDF points (``scale``: points per pixel).

    A line's size is its height in points, rounded to half a point, from the words'
    boxes: capitals and ascenders span about 0.7 of the font size, descenders a bit more.
    """
    rows: dict[tuple, list] = {}
    total = good = 0
    for row in tsv.splitlines()[1:]:
        f = row.split("\t")
        if len(f) < 12 or f[0] != "5" or not f[11].strip():
            continue
        total += 1
        try:
            conf = float(f[10])
        except ValueError:
            continue
        if conf < MIN_CONF:
            continue
        good += 1
        key = (int(f[2]), int(f[3]), int(f[4]))
        left, top, width, height = (int(v) for v in f[6:10])
        rows.setdefault(key, []).append((left, top, left + width, top + height, f[11].strip()))
    if not total or good < MIN_GOOD_SHARE * total:
        return []
    lines = []
    for (block, par, _ln), words in rows.items():
        x0 = min(w[0] for w in words) * scale + dx
        y0 = min(w[1] for w in words) * scale + dy
        x1 = max(w[2] for w in words) * scale + dx
        y1 = max(w[3] for w in words) * scale + dy
        text = ocr_digits(" ".join(w[4] for w in words))
        heights = sorted((w[3] - w[1]) * scale for w in words)
        size = round(heights[len(heights) // 2] / 0.75 * 2) / 2
        lines.append(Line(number, block * 1000 + par, x0, y0, x1, y1, text, size, 0.0, [text], ocr="tesseract"))
    return lines


def textless_runs(page) -> list[tuple[float, float, float]]:
    """(x0, x1, top) of runs of glyphs drawn in a Type3 font that extract as no text
    (control characters): headings set in such a font; 4 glyphs and 25 pt at least."""
    try:
        if not any(f[2] == "Type3" for f in page.get_fonts()):
            return []
        trace = page.get_texttrace()
    except Exception:
        return []
    pieces = []
    for t in trace:
        chars = t.get("chars") or ()
        if not chars or sum(1 for c in chars if c[0] < 32 or c[0] == 0xFFFD) < 0.8 * len(chars):
            continue
        tops = {round(c[3][1]) for c in chars}
        if max(tops) - min(tops) <= 2:
            xs = [x for c in chars for x in (c[3][0], c[3][2])]
            pieces.append((min(tops), min(xs), max(xs), len(chars)))
    pieces.sort()
    runs: list[list] = []
    for top, x0, x1, n in pieces:  # words of one line: same top, small gaps
        if runs and abs(runs[-1][2] - top) <= 2 and 0 <= x0 - runs[-1][1] < 30:
            runs[-1][1] = max(runs[-1][1], x1)
            runs[-1][3] += n
        else:
            runs.append([x0, x1, top, n])
    return [(x0, x1, float(top)) for x0, x1, top, n in runs if n >= 4 and x1 - x0 >= 25]


def ocr_runs(page, number: int, runs: list[tuple[float, float, float]], lines: list[Line]) -> list[Line]:
    """Read each run (a line in a heading font without text) with OCR, as a bold line;
    runs that overlap text the page has (math set in the same font) are left alone."""
    found: list[Line] = []
    dpi = 300
    for x0, x1, top in runs:
        clip = pymupdf.Rect(x0 - 3, top - 4, x1 + 6, top + 16) & page.rect

        def overlaps(r) -> bool:
            return any(ln.x0 < r.x1 and r.x0 < ln.x1 and ln.y0 < r.y1 - 4 and r.y0 + 4 < ln.y1 for ln in lines)

        if overlaps(clip):
            continue
        half = page.rect.width / 2
        wide = pymupdf.Rect(clip.x0, clip.y0, half - 4 if x1 < half else page.rect.x1 - 36, clip.y1)
        if wide.x1 > clip.x1 and not overlaps(wide):
            clip = wide  # the rest of the line, in case a letter or word was not traced
        try:
            png = page.get_pixmap(dpi=dpi, clip=clip, colorspace="gray").tobytes("png")
        except Exception:
            continue
        tsv = _tesseract(png, psm=7, dpi=dpi)
        for ln in lines_from_tsv(tsv or "", number, 72.0 / dpi, clip.x0, clip.y0):
            chars = ln.text.replace(" ", "")
            if sum(map(str.isalpha, chars)) < 0.6 * len(chars):
                continue  # math set in the same font
            ln.bold, ln.block = 1.0, 90000 + len(found)
            found.append(ln)
    return found
