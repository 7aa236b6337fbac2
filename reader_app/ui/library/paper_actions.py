"""The window's library actions: import PDFs, export to Markdown, edit a paper's details, remove it.

``PaperActions(win)`` is owned by ``MainWindow`` (``win.paper_actions``; the window's
``import_files``, ``export_ids``, ``edit_paper`` and ``remove_paper`` call it).  Each action
does its work in a background op and reports through the window's public members:
``show_error``, the status bar, ``password_prompt`` / ``folder_prompt``,
``remember_passwords``, ``open_paper``, ``importFinished``, ``papersAdded``, ``paper_closed`` and
``paper_info_changed``; it reads ``services``, ``paper``, ``library_pane`` and
``side_panel``.  ``last_export`` lists the files the last export wrote.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QDialog, QFileDialog, QInputDialog, QMessageBox

from reader_app import settings
from reader_app.core.errors import PasswordError, ReaderError
from reader_app.export.markdown import export_papers
from reader_app.ui.background.ops import run_op
from reader_app.ui.library.paper_dialog import PaperInfoDialog


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


class PaperActions:
    def __init__(self, win):
        self._win = win
        self.last_export: list[str] | None = None  # the files the last export wrote

    # ---- import ---------------------------------------------------------------------------
    def open_dialog(self) -> None:
        """File > Open PDF: pick PDFs, import them and open the last."""
        win = self._win
        paths, _ = QFileDialog.getOpenFileNames(win, "Open PDFs", "", "PDF files (*.pdf);;All files (*)")
        if paths:
            self.import_files(paths, open_last=True)

    def import_folder_dialog(self) -> None:
        folder = self._win.folder_prompt("Import all PDFs in a folder")
        if folder:
            self.import_files([folder], open_last=False)

    def _prepare_imported(self, paper_ids: list[str]) -> None:
        """With the ``prepare_after_import`` setting (default off: imports come in big batches),
        queue new papers for preparation; any question or summary goes first."""
        panel = self._win.side_panel
        if paper_ids and panel is not None and settings.get("prepare_after_import") is True:
            for pid in paper_ids:
                panel.worker.prepare(pid)

    def import_files(self, paths: list[str], password: str | None = None, open_last: bool = False,
                     passwords: dict | None = None) -> None:
        """Import PDFs (and folders of PDFs) in the background; open the last one if asked."""
        win = self._win
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
            self._prepare_imported(result["added"])
            if result["added"]:
                win.papersAdded.emit(list(result["added"]))
            if retry:
                self.import_files(list(retry), open_last=open_last, passwords=retry)
            elif ok and open_last:
                win.open_paper(ok[-1])
            win.importFinished.emit(result)

        def failed(exc):
            win.show_error(str(exc), quiet=isinstance(exc, ReaderError) and "cancel" in str(exc).lower())
            win.library_pane.refresh()
            win.importFinished.emit({"added": [], "duplicates": [], "errors": [], "locked": [], "total": 0,
                                     "cancelled": True})

        run_op(win, work, on_success=done, on_failure=failed, label="Importing", cancellable=True)

    # ---- export ---------------------------------------------------------------------------
    def export_ids(self, ids: list[str] | None, index_title: str | None, *, tag: str | None = None,
                   folder: str | None = None) -> None:
        """Export papers (``ids``; or those tagged ``tag``; or all when both are None) to Markdown."""
        win = self._win
        folder = folder or win.folder_prompt("Export to Markdown: choose a folder")
        if not folder:
            return
        services = win.services

        def work():
            lib = services.library()
            chosen = ids if ids is not None else [p.id for p in lib.list_papers(tag=tag)]
            if not chosen:
                raise ReaderError("nothing to export")
            return export_papers(lib, chosen, folder, force=True, index_title=index_title)

        def done(files):
            win.statusBar().showMessage(f"Exported {len(files)} file{'s' if len(files) != 1 else ''} to {folder}", 10000)
            self.last_export = [str(f) for f in files]

        run_op(win, work, on_success=done, label="Exporting")

    def export_current(self) -> None:
        win = self._win
        if win.paper is None:
            win.show_error("Open a paper first.", quiet=True)
            return
        self.export_ids([win.paper.id], None)

    def export_tag(self) -> None:
        win = self._win
        tags = [win.library_pane.tag_box.itemData(i) for i in range(1, win.library_pane.tag_box.count())]
        if not tags:
            win.show_error("No paper has a tag yet; add tags in the Notes tab.", quiet=False)
            return
        tag, ok = QInputDialog.getItem(win, "Export a tag", "Papers tagged:", tags, 0, False)
        if ok and tag:
            self.export_ids(None, f"Papers tagged {tag}", tag=tag)

    def export_all(self) -> None:
        self.export_ids(None, "Library")

    # ---- edit / remove --------------------------------------------------------------------
    def edit_paper(self, paper_id: str) -> None:
        win = self._win
        paper = win.library_pane.papers.get(paper_id) or (win.paper if win.paper and win.paper.id == paper_id else None)
        if paper is None:
            return
        dlg = PaperInfoDialog(paper, win)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        values = dlg.values()
        self.save_paper_info(paper_id, **values)

    def save_paper_info(self, paper_id: str, title: str, authors: list[str], year: int | None) -> None:
        win = self._win
        services = win.services

        def done(updated):
            win.library_pane.refresh()
            win.paper_info_changed(updated)

        run_op(win, lambda: services.library().update_paper(paper_id, title=title, authors=authors, year=year),
               on_success=done)

    def remove_paper(self, paper_id: str, confirm: bool = True) -> None:
        win = self._win
        paper = win.library_pane.papers.get(paper_id)
        name = paper.title if paper is not None else paper_id[:12]
        if confirm and QMessageBox.question(
                win, "Remove paper", f"Remove “{name}” from the library?\nIts notes and answers are removed too.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No) != QMessageBox.StandardButton.Yes:
            return
        services = win.services

        def done(_r):
            win.paper_closed(paper_id)
            win.library_pane.refresh()
            win.statusBar().showMessage(f"Removed “{name}”", 6000)

        run_op(win, lambda: services.library().remove_paper(paper_id), on_success=done)
