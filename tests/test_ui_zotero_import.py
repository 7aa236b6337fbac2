"""File ▸ Import from Zotero… in the window: the import runs off the GUI thread, the
library pane shows the papers, and a summary lists what was skipped and why."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from zotero_builder import ZoteroBuilder  # noqa: E402

from reader_app.ui import zotero_import  # noqa: E402
from reader_app.ui.ops import wait_for_ops  # noqa: E402


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
