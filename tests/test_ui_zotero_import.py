"""File ▸ Import from Zotero… in the window: the import runs off the GUI thread, the
library pane shows the papers, and a summary lists what was skipped and why."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from zotero_builder import ZoteroBuilder  # noqa: E402

from reader_app.ui.library import zotero_import  # noqa: E402
from reader_app.ui.background.ops import wait_for_ops  # noqa: E402


def test_window_imports_a_zotero_library_and_shows_the_summary(ui_env, qtbot, papers_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    b = ZoteroBuilder(tmp_path / "Zotero")
    item, _ = b.item("journalArticle", {"title": "Imported through the window", "date": "2020"},
                     creators=["Kyle Lo"], tags=["from zotero"])
    b.stored_pdf(item, papers_dir / "2020.acl-main.447.pdf")
    b.item("book", {"title": "Nothing attached"})
    b.close()
    win = ui_env.window()
    file_menu = win.menuBar().actions()[0].menu()
    texts = [a.text() for a in file_menu.actions()]
    assert "Import from &Zotero…" in texts and "Import &BibTeX…" in texts

    seen = []
    monkeypatch.setattr(zotero_import.QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: seen.append(a) or str(tmp_path / "Zotero")))
    next(a for a in file_menu.actions() if a.text() == "Import from &Zotero…").trigger()
    assert seen
    qtbot.waitUntil(lambda: getattr(win, "import_summary", None) is not None, timeout=120_000)
    assert wait_for_ops(10_000)
    text = win.import_summary.text.toPlainText()
    assert "1 imported" in text and "1 no PDF" in text and "Nothing attached" in text
    lib = win.services.library()
    titles = [p.title for p in lib.list_papers()]
    assert "Imported through the window" in titles
    assert win.library_pane.isEnabled()


def test_the_window_stays_responsive_during_a_long_import(ui_env, qtbot, tmp_path, monkeypatch):
    """400 items (40 with a PDF): the GUI thread's timer never waits long while it runs."""
    import time

    import pymupdf
    from PySide6.QtCore import QTimer

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    b = ZoteroBuilder(tmp_path / "Zotero")
    for i in range(400):
        item, _ = b.item("journalArticle", {"title": f"Item {i}"}, creators=["Ann Author"], tags=[f"t{i % 7}"])
        if i % 10 == 0:
            doc = pymupdf.open()
            doc.new_page().insert_text((72, 72), f"Paper {i}: a small PDF with its own words.")
            pdf = tmp_path / f"p{i}.pdf"
            doc.save(pdf)
            doc.close()
            b.stored_pdf(item, pdf)
            b.note(item, f"<p>note {i}</p>")
    b.close()
    win = ui_env.window()
    ticks: list[float] = []
    timer = QTimer(win)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    start = time.monotonic()
    op = zotero_import.start_import(win, "zotero", str(tmp_path / "Zotero"))
    qtbot.waitUntil(lambda: getattr(win, "import_summary", None) is not None, timeout=300_000)
    end = time.monotonic()
    timer.stop()
    assert op.done or wait_for_ops(10_000)
    # from the start to the end, the GUI thread's timer never waited long (a quick import
    # ticks a few times only, a blocked GUI thread leaves a gap either way)
    marks = [start, *ticks, end]
    gaps = [b - a for a, b in zip(marks, marks[1:])]
    assert ticks and max(gaps) < 1.0, (len(ticks), max(gaps))
    r = win.import_summary.result
    assert r["imported"] == 40 and r["skipped"] == {"no PDF": 360}
