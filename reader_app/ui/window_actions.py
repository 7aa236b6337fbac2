"""Menus, toolbar and shortcuts of the main window, and its library actions.

``build(win)`` creates the menus and the toolbar.  ``import_files``, ``export_ids``,
``edit_paper`` and ``remove_paper`` are methods of ``MainWindow`` (assigned there):
each does its work in a background op and reports through ``win.show_error`` /
the status bar.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox, QStyle, QToolBar

from reader_app.core.errors import PasswordError, ReaderError
from reader_app.ui import zotero_import
from reader_app.ui.ops import run_op


def _action(win, menu, text, slot, shortcut=None, icon=None, tip=None) -> QAction:
    act = QAction(text, win)
    if shortcut is not None:
        keys = shortcut if isinstance(shortcut, (list, tuple)) else [shortcut]
        act.setShortcuts([QKeySequence(k) for k in keys])
    if icon is not None:
        act.setIcon(win.style().standardIcon(icon))
    if tip:
        act.setToolTip(tip)
    act.triggered.connect(lambda _checked=False: slot())
    if menu is not None:
        menu.addAction(act)
    win.addAction(act)  # shortcuts work wherever the focus is
    return act


def build(win) -> None:
    S, K = QStyle.StandardPixmap, QKeySequence.StandardKey
    v = win.pdf_view
    mb = win.menuBar()
    m = mb.addMenu("&File")
    win.act_open = _action(win, m, "&Open PDF…", lambda: open_dialog(win), K.Open, S.SP_DialogOpenButton,
                           "Import PDFs and open them (Ctrl+O)")
    _action(win, m, "Import &folder…", lambda: import_folder_dialog(win))
    zotero_import.install(win, m)  # Import from Zotero…, Import BibTeX…
    m.addSeparator()
    em = m.addMenu("&Export to Markdown")
    _action(win, em, "&Current paper…", lambda: export_current(win))
    _action(win, em, "Papers with a &tag…", lambda: export_tag(win))
    _action(win, em, "&Whole library…", lambda: export_all(win))
    m.addSeparator()
    _action(win, m, "&Settings…", lambda: open_settings(win), "Ctrl+,")
    m.addSeparator()
    _action(win, m, "&Quit", win.close, "Ctrl+Q")

    m = mb.addMenu("&Edit")
    _action(win, m, "&Copy", lambda: v.copy(), K.Copy)
    _action(win, m, "&Find…", win.start_find, K.Find)
    _action(win, m, "Find &next", v.find_next, K.FindNext)
    _action(win, m, "Find &previous", v.find_prev, K.FindPrevious)
    m.addSeparator()
    _action(win, m, "Paper &details…", lambda: win.paper and win.edit_paper(win.paper.id))
    _action(win, m, "&Remove paper…", lambda: win.paper and win.remove_paper(win.paper.id))

    m = mb.addMenu("&View")
    win.act_zoom_in = _action(win, m, "Zoom &in", v.zoom_in, ["Ctrl+=", "Ctrl++"], tip="Zoom in (Ctrl+=)")
    win.act_zoom_out = _action(win, m, "Zoom &out", v.zoom_out, ["Ctrl+-"], tip="Zoom out (Ctrl+-)")
    _action(win, m, "Fit &width", lambda: v.set_fit("width"), "Ctrl+2")
    _action(win, m, "Fit &page", lambda: v.set_fit("page"), "Ctrl+1")
    _action(win, m, "&Actual size", lambda: v.set_zoom(1.0), "Ctrl+0")
    m.addSeparator()
    _action(win, m, "Next page", v.next_page, "Ctrl+PgDown")
    _action(win, m, "Previous page", v.prev_page, "Ctrl+PgUp")
    _action(win, m, "Go to page…", lambda: (win.page_box.setFocus(), win.page_box.selectAll()), "Ctrl+G")
    _action(win, m, "Search library", lambda: (win.library_pane.search_box.setFocus(),
                                                win.library_pane.search_box.selectAll()), "Ctrl+Shift+F")

    m = mb.addMenu("&Help")
    _action(win, m, "&About Reader", lambda: QMessageBox.about(
        win, "About Reader", "<b>Reader</b><br>A local-first reading assistant for research papers."
        "<br>License: AGPL-3.0-or-later"))

    tb = QToolBar("Main")
    tb.setObjectName("main-toolbar")
    tb.setMovable(False)
    win.addToolBar(tb)
    tb.addAction(win.act_open)
    tb.addSeparator()
    tb.addWidget(win.page_box)
    tb.addWidget(win.page_total)
    tb.addSeparator()
    win.act_zoom_out.setText("−")
    win.act_zoom_in.setText("+")
    tb.addAction(win.act_zoom_out)
    tb.addWidget(win.zoom_box)
    tb.addAction(win.act_zoom_in)
    tb.addSeparator()
    find = QAction(QIcon.fromTheme("edit-find"), "Find", win)
    find.setToolTip("Find in paper (Ctrl+F)")
    find.triggered.connect(win.start_find)
    tb.addAction(find)
    win.warning_action = tb.addWidget(win.warning_label)
    win.warning_action.setVisible(False)


# ---- import ---------------------------------------------------------------------------------
def open_dialog(win) -> None:
    paths, _ = QFileDialog.getOpenFileNames(win, "Open PDFs", "", "PDF files (*.pdf);;All files (*)")
    if paths:
        win.import_files(paths, open_last=True)


def import_folder_dialog(win) -> None:
    folder = win.folder_prompt("Import all PDFs in a folder")
    if folder:
        win.import_files([folder], open_last=False)


def _expand(paths: list[str]) -> list[str]:
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, _dirs, files in os.walk(p):
                out += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(".pdf")]
        else:
            out.append(p)
    return out


def _one_line(path: str, exc: BaseException) -> str:
    msg = str(exc)
    name = Path(path).name
    return msg if name in msg else f"{name}: {msg}"


def _prepare_imported(win, paper_ids: list[str]) -> None:
    """With the ``prepare_after_import`` setting (default off: imports come in big batches),
    queue new papers for preparation; any question or summary goes first."""
    from reader_app import settings

    worker = getattr(getattr(win, "side_panel", None), "worker", None)
    if paper_ids and worker is not None and settings.get("prepare_after_import") is True:
        for pid in paper_ids:
            worker.prepare(pid)


def import_files(win, paths: list[str], password: str | None = None, open_last: bool = False,
                 passwords: dict | None = None) -> None:
    """Import PDFs (and folders of PDFs) in the background; open the last one if asked."""
    services = win.services
    passwords = passwords or {}

    def work(op):
        files = _expand(paths)
        result = {"added": [], "duplicates": [], "errors": [], "locked": [], "total": len(files),
                  "files": files, "passwords": {}}
        for i, path in enumerate(files):
            op.check_cancelled()
            op.report(i, len(files), Path(path).name)
            pw = passwords.get(path, password)

            def stage(done, total, label, name=Path(path).name):  # OCR of a scan: page by page
                op.check_cancelled()
                op.report(done, total, f"{name}: {label}")

            try:
                pid, dup = services.import_pdf(path, pw, on_progress=stage)
                result["duplicates" if dup else "added"].append(pid)
                if pw:
                    result["passwords"][pid] = pw  # to open the stored copy this session
            except PasswordError as exc:
                result["locked" if path not in passwords else "errors"].append(
                    path if path not in passwords else (path, _one_line(path, exc)))
            except ReaderError as exc:
                result["errors"].append((path, _one_line(path, exc)))
        op.report(len(files), len(files), "")
        return result

    def done(result):
        win.library_pane.refresh()
        retry = {}
        for path in result["locked"]:
            pw = win.password_prompt(Path(path).name)
            if pw:
                retry[path] = pw
            else:
                result["errors"].append((path, f"{Path(path).name} is encrypted and was skipped"))
        ok = result["added"] + result["duplicates"]
        if result["errors"]:
            if len(result["errors"]) == 1:
                win.show_error(result["errors"][0][1])
            else:
                win.show_error(f"{len(result['errors'])} of {result['total']} files could not be imported: "
                               + "; ".join(m for _p, m in result["errors"][:5])
                               + ("; …" if len(result["errors"]) > 5 else ""))
        if ok or not result["errors"]:
            n_new, n_dup = len(result["added"]), len(result["duplicates"])
            parts = [f"Imported {n_new} paper{'s' if n_new != 1 else ''}"] if n_new or not n_dup else []
            if n_dup:
                parts.append(f"{n_dup} already in the library" if n_new or n_dup > 1 else "Already in the library")
            if result["errors"]:
                parts.append(f"{len(result['errors'])} failed")
            win.statusBar().showMessage(", ".join(parts), 8000)
        win.remember_passwords(result["passwords"])
        _prepare_imported(win, result["added"])
        if retry:
            win.import_files(list(retry), open_last=open_last, passwords=retry)
        elif ok and open_last:
            win.open_paper(ok[-1])
        win.importFinished.emit(result)

    def failed(exc):
        win.show_error(str(exc), quiet=isinstance(exc, ReaderError) and "cancel" in str(exc).lower())
        win.library_pane.refresh()
        win.importFinished.emit({"added": [], "duplicates": [], "errors": [], "locked": [], "total": 0,
                                 "cancelled": True})

    run_op(win, work, on_success=done, on_failure=failed, label="Importing", cancellable=True)


# ---- export ---------------------------------------------------------------------------------
def export_ids(win, ids: list[str] | None, index_title: str | None, *, tag: str | None = None,
               folder: str | None = None) -> None:
    """Export papers (``ids``; or those tagged ``tag``; or all when both are None) to Markdown."""
    folder = folder or win.folder_prompt("Export to Markdown: choose a folder")
    if not folder:
        return
    services = win.services

    def work():
        from reader_app.export.markdown import export_papers

        lib = services.library()
        chosen = ids if ids is not None else [p.id for p in lib.list_papers(tag=tag)]
        if not chosen:
            raise ReaderError("nothing to export")
        return export_papers(lib, chosen, folder, force=True, index_title=index_title)

    def done(files):
        win.statusBar().showMessage(f"Exported {len(files)} file{'s' if len(files) != 1 else ''} to {folder}", 10000)
        win.last_export = [str(f) for f in files]

    run_op(win, work, on_success=done, label="Exporting")


def export_current(win) -> None:
    if win.paper is None:
        win.show_error("Open a paper first.", quiet=True)
        return
    win.export_ids([win.paper.id], None)


def export_tag(win) -> None:
    from PySide6.QtWidgets import QInputDialog

    tags = [win.library_pane.tag_box.itemData(i) for i in range(1, win.library_pane.tag_box.count())]
    if not tags:
        win.show_error("No paper has a tag yet; add tags in the Notes tab.", quiet=False)
        return
    tag, ok = QInputDialog.getItem(win, "Export a tag", "Papers tagged:", tags, 0, False)
    if ok and tag:
        win.export_ids(None, f"Papers tagged {tag}", tag=tag)


def export_all(win) -> None:
    win.export_ids(None, "Library")


# ---- edit / remove ---------------------------------------------------------------------------
def edit_paper(win, paper_id: str) -> None:
    from reader_app.ui.paper_dialog import PaperInfoDialog

    paper = win.library_pane.papers.get(paper_id) or (win.paper if win.paper and win.paper.id == paper_id else None)
    if paper is None:
        return
    dlg = PaperInfoDialog(paper, win)
    if dlg.exec() != QDialog.DialogCode.Accepted:
        return
    values = dlg.values()
    save_paper_info(win, paper_id, **values)


def save_paper_info(win, paper_id: str, title: str, authors: list[str], year: int | None) -> None:
    services = win.services

    def done(updated):
        win.library_pane.refresh()
        if win.paper is not None and win.paper.id == paper_id:
            win.paper.title, win.paper.authors, win.paper.year = updated.title, updated.authors, updated.year
            win.setWindowTitle(f"{updated.title} — Reader")

    run_op(win, lambda: services.library().update_paper(paper_id, title=title, authors=authors, year=year),
           on_success=done)


def remove_paper(win, paper_id: str, confirm: bool = True) -> None:
    paper = win.library_pane.papers.get(paper_id)
    name = paper.title if paper is not None else paper_id[:12]
    if confirm and QMessageBox.question(
            win, "Remove paper", f"Remove “{name}” from the library?\nIts notes and answers are removed too.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No) != QMessageBox.StandardButton.Yes:
        return
    services = win.services

    def done(_r):
        if win.paper is not None and win.paper.id == paper_id:
            win.paper = None
            win.pdf_view.close_document()
            win.pdf_view.path = ""
            win.outline.clear()
            win.setWindowTitle("Reader")
            if hasattr(win.side_panel, "set_paper"):
                win.side_panel.set_paper(None)
        win.library_pane.refresh()
        win.statusBar().showMessage(f"Removed “{name}”", 6000)

    run_op(win, lambda: services.library().remove_paper(paper_id), on_success=done)


def open_settings(win) -> None:
    try:
        from reader_app.ui.settings_dialog import SettingsDialog
    except ImportError:
        win.show_error("Settings are not available in this build.")
        return
    dlg = SettingsDialog(win.services, win) if _takes_services(SettingsDialog) else SettingsDialog(win)
    if dlg.exec() == QDialog.DialogCode.Accepted:
        worker = getattr(win.side_panel, "worker", None)
        cfg = getattr(dlg, "engine_config", None)
        if worker is not None:
            try:
                worker.configure(cfg() if callable(cfg) else win.services.engine_config())
            except Exception:  # noqa: BLE001
                pass
        win.show_model_state("none", "")


def _takes_services(cls) -> bool:
    import inspect

    try:
        params = list(inspect.signature(cls.__init__).parameters)
    except (TypeError, ValueError):
        return False
    return len(params) > 1 and params[1] in ("services", "svc")
