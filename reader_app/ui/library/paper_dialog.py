"""Edit a paper's title, authors and year."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QPlainTextEdit


class PaperInfoDialog(QDialog):
    def __init__(self, paper, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Paper details")
        self.title = QLineEdit(paper.title)
        self.title.setMinimumWidth(420)
        self.authors = QPlainTextEdit("\n".join(paper.authors))
        self.authors.setPlaceholderText("One author per line")
        self.authors.setFixedHeight(110)
        self.year = QLineEdit(str(paper.year) if paper.year else "")
        self.year.setPlaceholderText("e.g. 2023")
        self.year.setMaxLength(4)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c0392b")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Title:", self.title)
        form.addRow("Authors:", self.authors)
        form.addRow("Year:", self.year)
        form.addRow(self.error)
        form.addRow(buttons)

    def values(self) -> dict:
        year = self.year.text().strip()
        return {
            "title": " ".join(self.title.text().split()),
            "authors": [a.strip() for a in self.authors.toPlainText().splitlines() if a.strip()],
            "year": int(year) if year.isdigit() else None,
        }

    def _accept(self) -> None:
        v = self.values()
        year = self.year.text().strip()
        if not v["title"]:
            self.error.setText("The title cannot be empty.")
        elif year and not (year.isdigit() and 0 < int(year) < 10000):
            self.error.setText("The year must be a number such as 2023.")
        else:
            self.accept()
