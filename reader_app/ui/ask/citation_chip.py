"""Citation chips (``p. 4 ¶12``) and the small flow layout that wraps them.

A verified citation is a solid chip in the palette's highlight colour; an unverified one
is dashed and grey, with the tooltip "not verified".  Clicking a chip emits
``activated(page, bbox)``; a chip whose citation names its paper (answers from passages:
``Citation.paper_id``) emits ``paperActivated(paper_id, page, bbox, paragraph)`` instead, and
on answers across papers (``name_papers``) its label names the paper too:
``Title… p. 4 ¶12``.  Colours come from the widget's palette, so dark mode works.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtWidgets import QLayout, QSizePolicy, QToolButton, QWidget


def citation_fields(c) -> tuple[int, int, tuple, bool, str, str]:
    """(paragraph, page, bbox, verified, section, text) of a Citation or its dict form."""
    get = c.get if isinstance(c, dict) else (lambda k, d=None: getattr(c, k, d))
    bbox = tuple(float(v) for v in (get("bbox") or (0, 0, 0, 0)))
    return (int(get("paragraph", 0) or 0), int(get("page", 0) or 0), bbox,
            bool(get("verified", False)), str(get("section", "") or ""), str(get("text", "") or ""))


def chip_label(page: int, paragraph: int, title: str = "") -> str:
    where = f"p. {page} ¶{paragraph}" if page else f"¶{paragraph}"
    return f"{short_title(title)} {where}" if title else where


def short_title(title: str, most: int = 24) -> str:
    """``title`` cut to ``most`` characters at a word boundary, with an ellipsis."""
    title = " ".join((title or "").split())
    if len(title) <= most:
        return title
    cut = title[:most - 1]
    if " " in cut[most // 2:]:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,:;-") + "…"


class CitationChip(QToolButton):
    activated = Signal(int, object)  # 1-based page, bbox (x0, y0, x1, y1) in PDF points
    paperActivated = Signal(str, int, object, int)  # paper id, page, bbox, paragraph number (1-based)

    def __init__(self, citation, parent=None, name_paper: bool = False):
        super().__init__(parent)
        self.paragraph, self.page, self.bbox, self.verified, section, text = citation_fields(citation)
        get = citation.get if isinstance(citation, dict) else (lambda k, d=None: getattr(citation, k, d))
        self.paper_id = str(get("paper_id", "") or "")
        self.paper_title = str(get("paper_title", "") or "")
        title = (self.paper_title or "Untitled") if name_paper and self.paper_id else ""
        self.setText(chip_label(self.page, self.paragraph, title))
        if title:
            section = f"{self.paper_title or 'Untitled'}\n{section}".strip()
        self.setCursor(Qt.PointingHandCursor)
        self.setAutoRaise(False)
        self.setProperty("verified", self.verified)
        self.setObjectName("citationChip")
        snippet = text if len(text) <= 280 else text[:277] + "…"
        head = section + "\n" if section else ""
        if self.verified:
            self.setToolTip(f"{head}{snippet}".strip() or "Show this paragraph")
        else:
            self.setToolTip(f"not verified: the answer has no support in this paragraph\n{head}{snippet}".strip())
        self.setStyleSheet(self._style())
        self.clicked.connect(self._emit)

    def _style(self) -> str:
        if self.verified:
            return ("QToolButton { border: 1px solid palette(highlight); border-radius: 9px;"
                    " padding: 1px 8px; background: palette(base); color: palette(link); }"
                    " QToolButton:hover { background: palette(highlight); color: palette(highlighted-text); }")
        return ("QToolButton { border: 1px dashed palette(mid); border-radius: 9px; padding: 1px 8px;"
                " background: transparent; color: palette(placeholder-text); }"
                " QToolButton:hover { border-color: palette(text); color: palette(text); }")

    def _emit(self) -> None:
        if self.page <= 0:
            return
        if self.paper_id:
            self.paperActivated.emit(self.paper_id, self.page, self.bbox, self.paragraph)
        else:
            self.activated.emit(self.page, self.bbox)


class FlowLayout(QLayout):
    """Lays widgets out left to right, wrapping to new lines (after Qt's flow layout example)."""

    def __init__(self, parent=None, spacing: int = 4):
        super().__init__(parent)
        self._items = []
        self._spacing = spacing
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item):  # noqa: N802 - Qt API
        self._items.append(item)

    def count(self):
        return len(self._items)

    def itemAt(self, index):  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index):  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self):  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self):  # noqa: N802
        return True

    def heightForWidth(self, width):  # noqa: N802
        return self._do_layout(QRect(0, 0, width, 0), test_only=True)

    def setGeometry(self, rect):  # noqa: N802
        super().setGeometry(rect)
        self._do_layout(rect, test_only=False)

    def sizeHint(self):  # noqa: N802
        return self.minimumSize()

    def minimumSize(self):  # noqa: N802
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _do_layout(self, rect, test_only):
        m = self.contentsMargins()
        eff = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        x, y, line_h = eff.x(), eff.y(), 0
        for item in self._items:
            if item.widget() is not None and item.widget().isHidden():
                continue
            hint = item.sizeHint()
            next_x = x + hint.width() + self._spacing
            if next_x - self._spacing > eff.right() + 1 and line_h > 0:
                x, y = eff.x(), y + line_h + self._spacing
                next_x = x + hint.width() + self._spacing
                line_h = 0
            if not test_only:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x = next_x
            line_h = max(line_h, hint.height())
        return y + line_h - rect.y() + m.bottom()


class ChipRow(QWidget):
    """A wrapping row of citation chips; re-emits their clicks."""

    activated = Signal(int, object)
    paperActivated = Signal(str, int, object, int)  # chips of citations that name their paper

    def __init__(self, parent=None):
        super().__init__(parent)
        self._layout = FlowLayout(self)
        sp = QSizePolicy(QSizePolicy.Preferred, QSizePolicy.Preferred)
        sp.setHeightForWidth(True)
        self.setSizePolicy(sp)
        self.chips: list[CitationChip] = []

    def set_citations(self, citations, name_papers: bool = False) -> None:
        """``name_papers``: label each chip with its paper's title (answers across papers)."""
        for chip in self.chips:
            self._layout.removeWidget(chip)
            chip.deleteLater()
        self.chips = []
        seen = set()
        for c in citations or []:
            chip = CitationChip(c, self, name_paper=name_papers)
            if (chip.paper_id, chip.page, chip.paragraph) in seen:
                chip.deleteLater()
                continue
            seen.add((chip.paper_id, chip.page, chip.paragraph))
            chip.activated.connect(self.activated)
            chip.paperActivated.connect(self.paperActivated)
            self._layout.addWidget(chip)
            self.chips.append(chip)
        self.setVisible(bool(self.chips))
        self.updateGeometry()
