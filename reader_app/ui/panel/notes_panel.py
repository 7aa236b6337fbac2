"""The Notes tab: the paper's highlights and notes grouped by page, a note editor, and its tags.

A highlight shows its colour, its quoted text (click: ``highlightActivated(page, bbox)``,
the window scrolls there) and its note, with Colour / Note / Delete links.

Every read and write goes through ``ui.background.ops`` on a worker thread with that thread's own
``Library`` (``services.library()``); the panel re-reads the notes after each change
and emits ``notesChanged``.
"""

from __future__ import annotations

import html
import re

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut, QTextDocument
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from reader_app.core.model import Highlight
from reader_app.ui.reader.highlights import MENU_COLORS, color_icon
from reader_app.ui.background.jobs import LatestJob
from reader_app.ui.background.ops import run_op

QUOTE_LIMIT = 2000


def parse_tags(text: str) -> list[str]:
    seen, out = set(), []
    for t in text.replace(";", ",").split(","):
        t = " ".join(t.split())
        if t and t.lower() not in seen:
            seen.add(t.lower())
            out.append(t)
    return out


class NotesPanel(QWidget):
    notesChanged = Signal()
    pageActivated = Signal(int)  # a note's page was double-clicked
    highlightActivated = Signal(int, object)  # a highlight was clicked: page, bbox

    def __init__(self, services, parent=None):
        super().__init__(parent)
        self.services = services
        self.paper_id: str | None = None
        self.current_page = 1
        self.notes: list = []
        self.highlights: list = []
        self.tags: list[str] = []
        self._selection = ("", 0)
        self._quote: tuple[str, int] | None = None  # (text, page) for the note being written
        self._editing = None  # the Note being edited, or None for a new note
        self._loading = LatestJob()  # reading the paper's notes, tags and highlights
        self._build()
        self._update_editor()

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(6)

        tags_row = QHBoxLayout()
        tags_row.addWidget(QLabel("Tags", self))
        self.tags_edit = QLineEdit(self)
        self.tags_edit.setPlaceholderText("comma-separated, e.g. to-read, nlp")
        self.tags_edit.setClearButtonEnabled(True)
        self.tags_edit.returnPressed.connect(self.save_tags)
        self.tags_edit.editingFinished.connect(self.save_tags)
        tags_row.addWidget(self.tags_edit, 1)
        lay.addLayout(tags_row)

        self.view = QTextBrowser(self)
        self.view.setObjectName("notesView")
        self.view.setOpenLinks(False)
        self.view.setOpenExternalLinks(False)
        self.view.anchorClicked.connect(self._anchor)
        self.view.setPlaceholderText("No notes yet. Write one below; select text in the PDF to quote it, "
                                     "or highlight it (Ctrl+Shift+H or right-click).")
        lay.addWidget(self.view, 1)

        editor = QFrame(self)
        editor.setObjectName("noteEditor")
        editor.setFrameShape(QFrame.StyledPanel)
        el = QVBoxLayout(editor)
        el.setContentsMargins(6, 6, 6, 6)
        el.setSpacing(4)
        head = QHBoxLayout()
        self.editor_title = QLabel(editor)
        f = QFont(self.editor_title.font())
        f.setBold(True)
        self.editor_title.setFont(f)
        head.addWidget(self.editor_title, 1)
        self.quote_button = QPushButton("Quote selection", editor)
        self.quote_button.setToolTip("Attach the text selected in the PDF as this note's quote")
        self.quote_button.clicked.connect(self.quote_selection)
        head.addWidget(self.quote_button)
        el.addLayout(head)
        self.quote_label = QLabel(editor)
        self.quote_label.setObjectName("noteQuote")
        self.quote_label.setWordWrap(True)
        self.quote_label.setStyleSheet("QLabel#noteQuote { border-left: 3px solid palette(mid);"
                                       " padding-left: 6px; font-style: italic; }")
        el.addWidget(self.quote_label)
        self.editor = QPlainTextEdit(editor)
        self.editor.setPlaceholderText("Write a note (Markdown)…  Ctrl+Enter saves")
        self.editor.setFixedHeight(self.editor.fontMetrics().lineSpacing() * 4 + 14)
        self.editor.textChanged.connect(self._update_buttons)
        el.addWidget(self.editor)
        brow = QHBoxLayout()
        self.cancel_button = QPushButton("Cancel", editor)
        self.cancel_button.clicked.connect(self.cancel_edit)
        self.save_button = QPushButton("Add note", editor)
        self.save_button.clicked.connect(self.save)
        brow.addStretch(1)
        brow.addWidget(self.cancel_button)
        brow.addWidget(self.save_button)
        el.addLayout(brow)
        for seq in ("Ctrl+Return", "Ctrl+Enter"):
            sc = QShortcut(QKeySequence(seq), self.editor)
            sc.setContext(Qt.WidgetShortcut)
            sc.activated.connect(self.save)
        lay.addWidget(editor)

        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: palette(placeholder-text);")
        self.status.hide()
        lay.addWidget(self.status)
        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.timeout.connect(lambda: self._say(""))

    # ---- slots -----------------------------------------------------------------------
    def set_paper(self, paper_id: str | None) -> None:
        if paper_id == self.paper_id:
            return
        self.paper_id = paper_id
        self.notes, self.tags, self.highlights = [], [], []
        self._editing, self._quote = None, None
        self.editor.clear()
        self.tags_edit.clear()
        self._render()
        self.reload()

    def set_current_page(self, page: int) -> None:
        self.current_page = max(1, int(page or 1))
        self._update_editor()

    def set_selection(self, text: str, page: int) -> None:
        self._selection = (text or "", int(page or 0))
        self._update_buttons()

    def reload(self) -> None:
        pid = self.paper_id
        if not pid:
            self._loading.drop()
            self._update_buttons()
            return

        def load():
            lib = self.services.library()
            notes = list(lib.notes(pid))
            tags = list(lib.get_paper(pid, with_paragraphs=False).tags)
            return notes, tags, list(lib.highlights(pid))

        self._loading.start(run_op(self, load, on_failure=lambda _exc: None),  # said here: _load_failed
                            finished=self._loaded, failed=self._load_failed)

    # ---- notes -----------------------------------------------------------------------
    def quote_selection(self) -> None:
        text, page = self._selection
        text = " ".join(text.split())
        if not text:
            return
        if len(text) > QUOTE_LIMIT:
            text = text[: QUOTE_LIMIT - 1] + "…"
        self._quote = (text, page or self.current_page)
        self._update_editor()
        self.editor.setFocus()

    def save(self) -> None:
        text = self.editor.toPlainText().strip()
        pid = self.paper_id
        if not pid or not text:
            return
        editing, quote_state = self._editing, self._quote

        def failed(exc):  # give the words back: a failed save loses nothing
            if not self.editor.toPlainText().strip() and pid == self.paper_id:
                self._editing, self._quote = editing, quote_state
                self.editor.setPlainText(text)
                self._update_editor()
            self._failed(exc)

        if isinstance(editing, Highlight):
            hid = editing.id
            run_op(self, lambda: self.services.library().update_highlight(hid, note=text),
                   on_success=lambda _r: self._changed("Note saved."), on_failure=failed)
        elif editing is not None:
            nid = editing.id
            run_op(self, lambda: self.services.library().update_note(nid, text=text),
                   on_success=lambda _r: self._changed("Note saved."), on_failure=failed)
        else:
            quote, page = (quote_state if quote_state else (None, self.current_page))
            run_op(self, lambda: self.services.library().add_note(pid, text, page=page, quote=quote),
                   on_success=lambda _r: self._changed("Note added."), on_failure=failed)
        self._editing, self._quote = None, None
        self.editor.clear()
        self._update_editor()

    def add_note(self, text: str, page: int = 0, quote: str = "") -> None:
        """Add a finished note (e.g. an answer kept from the Ask tab) in the background."""
        pid = self.paper_id
        if not pid or not text.strip():
            return
        run_op(self, lambda: self.services.library().add_note(pid, text, page=page or None, quote=quote or None),
               on_success=lambda _r: self._changed("Note added."), on_failure=self._failed)

    def note(self, note_id: int):
        return next((n for n in self.notes if n.id == note_id), None)

    def edit_note(self, note_id: int) -> None:
        note = self.note(note_id)
        if note is None:
            return
        self._editing = note
        self._quote = (note.quote, note.page or 0) if note.quote else None
        self.editor.setPlainText(note.text)
        self._update_editor()
        self.editor.setFocus()

    # ---- highlights --------------------------------------------------------------------
    def highlight(self, highlight_id: int):
        return next((h for h in self.highlights if h.id == highlight_id), None)

    def edit_highlight_note(self, highlight_id: int) -> None:
        h = self.highlight(highlight_id)
        if h is None:
            return
        self._editing = h
        self._quote = (h.text, h.page) if h.text else None
        self.editor.setPlainText(h.note)
        self._update_editor()
        self.editor.setFocus()

    def recolor_highlight(self, highlight_id: int, color: str) -> None:
        run_op(self, lambda: self.services.library().update_highlight(highlight_id, color=color),
               on_success=lambda _r: self._changed("Highlight recoloured."), on_failure=self._failed)

    def delete_highlight(self, highlight_id: int, confirm: bool = True) -> None:
        h = self.highlight(highlight_id)
        if h is None:
            return
        if confirm and h.note.strip():  # its note would go with it
            answer = QMessageBox.question(self, "Delete highlight", "Delete this highlight and its note?\n\n"
                                          + " ".join(h.note.split())[:80], QMessageBox.Yes | QMessageBox.No,
                                          QMessageBox.No)
            if answer != QMessageBox.Yes:
                return
        if self._editing is not None and self._editing is h:
            self.cancel_edit()
        run_op(self, lambda: self.services.library().delete_highlight(highlight_id),
               on_success=lambda _r: self._changed("Highlight deleted."), on_failure=self._failed)

    def _color_menu(self, highlight_id: int) -> None:
        menu = QMenu(self)
        for name in MENU_COLORS:
            menu.addAction(color_icon(name), name.capitalize(),
                           lambda n=name: self.recolor_highlight(highlight_id, n))
        menu.popup(QCursor.pos())

    def cancel_edit(self) -> None:
        self._editing, self._quote = None, None
        self.editor.clear()
        self._update_editor()

    def delete_note(self, note_id: int) -> None:
        note = self.note(note_id)
        if note is None:
            return
        first = " ".join(note.text.split())[:80] or (note.quote or "")[:80]
        answer = QMessageBox.question(self, "Delete note", f"Delete this note?\n\n{first}",
                                      QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
        if answer != QMessageBox.Yes:
            return
        if self._editing is not None and self._editing.id == note_id:
            self.cancel_edit()
        run_op(self, lambda: self.services.library().delete_note(note_id),
               on_success=lambda _r: self._changed("Note deleted."), on_failure=self._failed)

    def _anchor(self, url: QUrl) -> None:
        kind, _, value = url.toString().partition(":")
        try:
            number = int(value)
        except ValueError:
            return
        if kind == "hl":
            h = self.highlight(number)
            if h is not None:
                self.highlightActivated.emit(h.page, h.bbox())
        elif kind == "hlnote":
            self.edit_highlight_note(number)
        elif kind == "hlcolor":
            self._color_menu(number)
        elif kind == "hldelete":
            self.delete_highlight(number)
        elif kind == "edit":
            self.edit_note(number)
        elif kind == "delete":
            self.delete_note(number)
        elif kind == "page":
            self.pageActivated.emit(number)

    # ---- tags ------------------------------------------------------------------------
    def save_tags(self) -> None:
        pid = self.paper_id
        if not pid:
            return
        new = parse_tags(self.tags_edit.text())
        old_l = {t.lower() for t in self.tags}
        new_l = {t.lower() for t in new}
        add = [t for t in new if t.lower() not in old_l]
        remove = [t for t in self.tags if t.lower() not in new_l]
        if not add and not remove:
            return
        self.tags = new

        def work():
            lib = self.services.library()
            if add:
                lib.add_tags(pid, add)
            if remove:
                lib.remove_tags(pid, remove)

        run_op(self, work, on_success=lambda _r: self._changed("Tags saved."), on_failure=self._failed)

    # ---- internals -------------------------------------------------------------------
    def _changed(self, message: str) -> None:
        self._say(message, seconds=4)
        self.reload()
        self.notesChanged.emit()

    def _loaded(self, result) -> None:
        notes, tags, highlights = result
        self.notes = notes
        self.highlights = list(highlights)
        self.tags = [str(t) for t in tags]
        if not self.tags_edit.hasFocus():
            self.tags_edit.setText(", ".join(self.tags))
        self._render()

    def _load_failed(self, message: str) -> None:
        self._say(f"Could not read the notes: {message}")

    def _failed(self, exc) -> None:
        self._say(f"Could not save: {exc}" if str(exc) else "Could not save.")

    def _say(self, message: str, seconds: int = 0) -> None:
        self.status.setText(message)
        self.status.setVisible(bool(message))
        self._status_timer.stop()
        if seconds:  # a child timer: it dies with the panel
            self._status_timer.start(seconds * 1000)

    def _render(self) -> None:
        self.view.setHtml(notes_html(self.notes, self.palette(), self.highlights)
                          if self.notes or self.highlights else "")
        self._update_buttons()

    def _update_editor(self) -> None:
        if self._editing is not None:
            where = f" (p. {self._editing.page})" if self._editing.page else ""
            what = "note on highlight" if isinstance(self._editing, Highlight) else "note"
            self.editor_title.setText(f"Editing {what}{where}")
            self.save_button.setText("Save")
        else:
            page = self._quote[1] if self._quote else self.current_page
            self.editor_title.setText(f"New note on p. {page}")
            self.save_button.setText("Add note")
        if self._quote:
            self.quote_label.setText(f"“{self._quote[0]}”")
            self.quote_label.show()
        else:
            self.quote_label.hide()
        self._update_buttons()

    def _update_buttons(self) -> None:
        has = bool(self.paper_id)
        self.tags_edit.setEnabled(has)
        self.editor.setEnabled(has)
        self.quote_button.setEnabled(has and bool(self._selection[0].strip()) and self._editing is None)
        self.save_button.setEnabled(has and bool(self.editor.toPlainText().strip()))
        self.cancel_button.setVisible(self._editing is not None or bool(self._quote))

    def changeEvent(self, event):  # noqa: N802 - re-colour on palette change (dark mode)
        if event.type() == QEvent.PaletteChange and (self.notes or self.highlights):
            self._render()
        super().changeEvent(event)


def _markdown_html(text: str) -> str:
    """The body of the HTML Qt makes of a note's Markdown."""
    doc = QTextDocument()
    doc.setMarkdown(text)
    m = re.search(r"<body[^>]*>(.*)</body>", doc.toHtml(), re.S)
    return m.group(1) if m else html.escape(text)


def highlight_html(h, muted: str, ink: str = "#000000") -> str:
    """One highlight: a bar of its colour beside its quoted text (``hl:ID`` jumps there), its
    note, and Colour / Note / Delete links (``hlcolor:ID``, ``hlnote:ID``, ``hldelete:ID``)."""
    out = []
    if h.kind in ("text", "freetext"):
        shown = "<b>Comment</b>"
    else:
        kind = "" if h.kind == "highlight" else f" ({h.kind})"
        shown = f'“{html.escape(" ".join((h.text or "").split())[:600])}”{html.escape(kind)}'
    out.append(f'<table width="100%" cellspacing="0" cellpadding="0" style="margin-top: 6px;"><tr>'
               f'<td width="5" bgcolor="{html.escape(h.color)}"></td><td style="padding-left: 6px;">'
               f'<a href="hl:{h.id}" style="color: {ink}; text-decoration: none;">{shown}</a></td></tr></table>')
    if h.note.strip():
        out.append(_markdown_html(h.note) if h.source == "user" else f"<p>{html.escape(h.note)}</p>")
    who = f"from the PDF{' · ' + h.author if h.author else ''} · " if h.source == "pdf" else ""
    when = (h.updated or h.created or "")[:16].replace("T", " ")
    out.append(f'<p style="margin-top: 0px; margin-bottom: 8px; color: {muted}; font-size: small;">'
               f'{html.escape(who)}{html.escape(when)} · <a href="hlcolor:{h.id}">{h.color_name.capitalize()}</a>'
               f' · <a href="hlnote:{h.id}">{"Edit note" if h.note else "Note"}</a>'
               f' · <a href="hldelete:{h.id}">Delete</a></p>')
    return "".join(out)


def notes_html(notes, palette, highlights=()) -> str:
    """Highlights and notes as one HTML page: a heading per page (``page:N``), the page's
    highlights top to bottom (see ``highlight_html``), then its notes: quote, Markdown
    text, date and Edit / Delete links (``edit:ID``, ``delete:ID``)."""
    muted = palette.color(palette.ColorRole.PlaceholderText).name()
    rule = palette.color(palette.ColorRole.Mid).name()
    ink = palette.color(palette.ColorRole.Text).name()
    by_page: dict[int, list] = {}
    marks: dict[int, list] = {}
    for n in notes:
        by_page.setdefault(int(n.page or 0), []).append(n)
    for h in highlights:
        marks.setdefault(int(h.page or 0), []).append(h)
        by_page.setdefault(int(h.page or 0), [])
    out = []
    for page in sorted(by_page, key=lambda p: (p == 0, p)):
        head = f'<a href="page:{page}">Page {page}</a>' if page else "No page"
        out.append(f'<h4 style="margin-top: 10px; margin-bottom: 2px;">{head}</h4>')
        out += [highlight_html(h, muted, ink) for h in marks.get(page, [])]
        for n in sorted(by_page[page], key=lambda n: (n.created or "", n.id)):
            if n.quote:
                out.append(f'<table width="100%" cellspacing="0" cellpadding="0" style="margin-top: 4px;"><tr>'
                           f'<td width="3" bgcolor="{rule}"></td><td style="padding-left: 6px;">'
                           f'<i>“{html.escape(" ".join(n.quote.split()))}”</i></td></tr></table>')
            out.append(_markdown_html(n.text))
            when = (n.updated or n.created or "")[:16].replace("T", " ")
            out.append(f'<p style="margin-top: 0px; margin-bottom: 8px; color: {muted}; font-size: small;">'
                       f'{html.escape(when)} · <a href="edit:{n.id}">Edit</a> · '
                       f'<a href="delete:{n.id}">Delete</a></p>')
    return "".join(out)
