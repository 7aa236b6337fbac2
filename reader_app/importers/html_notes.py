"""Zotero's HTML notes -> Markdown, sanitized.

Only what a note means is kept: paragraphs, headings, emphasis, lists, quotes, code and
links to http(s)/mailto addresses.  Scripts, styles, frames, forms and event handlers are
dropped with their content; images are never loaded: an embedded or remote one becomes a
line saying it was left out.  ``html_to_markdown`` returns ``(markdown, dropped)`` where
``dropped`` names what was removed ("script", "remote image", ...).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math",
                      "form", "button", "select", "textarea", "head", "title"}
_BLOCK = {"p", "div", "section", "article", "header", "footer", "table", "tr", "figure", "figcaption"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def _escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


_INLINE = {"strong": "**", "b": "**", "em": "*", "i": "*", "s": "~~", "del": "~~", "strike": "~~"}  # open = close

class _Converter(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.lists: list[list] = []  # [kind, counter]
        self.href: list[str | None] = []
        self.pre = 0
        self.dropped: list[str] = []

    # -- helpers
    def _nl(self, n: int = 2) -> None:
        text = "".join(self.out)
        have = len(text) - len(text.rstrip("\n"))
        if text.strip():
            self.out.append("\n" * max(0, n - have))

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in _DROP_WITH_CONTENT:
            self.skip += 1
            if tag in ("script", "iframe", "object", "embed", "form"):
                self.dropped.append(tag)
            return
        if self.skip:
            return
        if any(k.startswith("on") for k in a):
            self.dropped.append("event handler")
        if tag in _BLOCK:
            self._nl()
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self._nl()
            self.out.append("#" * int(tag[1]) + " ")
        elif tag == "br":
            self.out.append("  \n")
        elif tag in _INLINE:
            self.out.append(_INLINE[tag])
        elif tag == "code" and not self.pre:
            self.out.append("`")
        elif tag == "pre":
            self._nl()
            self.out.append("```\n")
            self.pre += 1
        elif tag == "blockquote":
            self._nl()
            self.out.append("> ")
        elif tag in ("ul", "ol"):
            self._nl(1 if self.lists else 2)
            self.lists.append([tag, 0])
        elif tag == "li":
            self._nl(1)
            depth = max(0, len(self.lists) - 1)
            if self.lists and self.lists[-1][0] == "ol":
                self.lists[-1][1] += 1
                self.out.append("   " * depth + f"{self.lists[-1][1]}. ")
            else:
                self.out.append("   " * depth + "- ")
        elif tag == "a":
            href = (a.get("href") or "").strip()
            ok = re.match(r"(https?:|mailto:)", href, re.I) is not None
            if href and not ok:
                self.dropped.append("link")
            self.href.append(href if ok else None)
            if ok:
                self.out.append("[")
        elif tag == "img":
            src = (a.get("src") or "").strip()
            kind = "remote image" if re.match(r"https?:", src, re.I) else "embedded image"
            self.dropped.append(kind)
            alt = " ".join((a.get("alt") or "").split())
            self._nl(1)
            self.out.append(f"*({kind} not imported{': ' + _escape(alt) if alt else ''})*")
            self._nl(1)
        elif tag == "hr":
            self._nl()
            self.out.append("---")
            self._nl()

    def handle_endtag(self, tag):
        if tag in _DROP_WITH_CONTENT:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag in _BLOCK or tag in ("h1", "h2", "h3", "h4", "h5", "h6", "blockquote"):
            self._nl()
        elif tag in _INLINE:
            self.out.append(_INLINE[tag])
        elif tag == "code" and not self.pre:
            self.out.append("`")
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
            self._nl(1)
            self.out.append("```")
            self._nl()
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._nl()
        elif tag == "a":
            href = self.href.pop() if self.href else None
            if href:
                self.out.append(f"]({href.replace(')', '%29').replace(' ', '%20')})")

    def handle_data(self, data):
        if self.skip:
            return
        if self.pre:
            self.out.append(data)
            return
        text = re.sub(r"\s+", " ", data)
        at_line_start = not self.out or self.out[-1].endswith("\n") or self.out[-1].endswith("> ") \
            or self.out[-1].endswith("- ") or self.out[-1].endswith(". ")
        if at_line_start:
            text = text.lstrip()
        if text:
            self.out.append(_escape(text))


def html_to_markdown(html: str) -> tuple[str, list[str]]:
    conv = _Converter()
    try:
        conv.feed(html or "")
        conv.close()
    except Exception:  # noqa: BLE001 - html.parser is lenient; a failure keeps the text only
        text = re.sub(r"<[^>]*>", " ", html or "")
        return _escape(" ".join(text.split())), ["markup"]
    md = "".join(conv.out)
    lines = [line.rstrip() if not line.endswith("  ") else line for line in md.split("\n")]
    md = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return md, sorted(set(conv.dropped))
