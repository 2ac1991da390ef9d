"""Confluence storage format (XHTML with `ac:`/`ri:` elements) to and from readable text.

Block elements end lines, list items get "- " or "1. ", table cells are
joined with " | ", the code macro's CDATA body is kept verbatim, links to
pages show their title, emoticons their name, images "[image name]".
Macro parameters (`ac:parameter`) are configuration, not content, and are
dropped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser

_BLOCKS = {
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "blockquote",
    "table",
    "ac:structured-macro",
    "ac:layout-section",
    "ac:layout-cell",
    "ac:task-list",
}
_VOID = {"br", "hr", "ri:page", "ri:blogpost", "ri:user", "ri:attachment", "ac:emoticon"}
_SKIPPED = {"ac:parameter", "script", "style"}


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list[int]] = []  # [ordered?, counter]
        self.skip = 0
        self.cell = 0
        self.links: list[str | None] = []

    def _newline(self, count: int = 1) -> None:
        text = "".join(self.out)
        trailing = len(text) - len(text.rstrip("\n"))
        if text.strip():
            self.out.append("\n" * max(0, count - trailing))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skip += 1
        elif tag in _BLOCKS:
            self._newline(2 if not self.lists else 1)
        elif (start := _STARTS.get(tag)) is not None:
            start(self, tag, dict(attrs))

    def _link(self, tag: str, found: dict[str, str | None]) -> None:
        self.links.append(found.get("href"))

    def _break(self, tag: str, found: dict[str, str | None]) -> None:
        self.out.append("\n")

    def _list(self, tag: str, found: dict[str, str | None]) -> None:
        self.lists.append([tag == "ol", 0])

    def _item(self, tag: str, found: dict[str, str | None]) -> None:
        self._newline()
        depth = max(len(self.lists) - 1, 0)
        if self.lists and self.lists[-1][0]:
            self.lists[-1][1] += 1
            self.out.append("  " * depth + f"{self.lists[-1][1]}. ")
        else:
            self.out.append("  " * depth + "- ")

    def _cell(self, tag: str, found: dict[str, str | None]) -> None:
        if self.cell:
            self.out.append(" | ")
        self.cell += 1

    def _row(self, tag: str, found: dict[str, str | None]) -> None:
        self._newline()
        self.cell = 0

    def _page(self, tag: str, found: dict[str, str | None]) -> None:
        self.out.append(found.get("ri:content-title") or "")

    def _user(self, tag: str, found: dict[str, str | None]) -> None:
        self.out.append("@" + (found.get("ri:account-id") or found.get("ri:userkey") or "user"))

    def _attachment(self, tag: str, found: dict[str, str | None]) -> None:
        self.out.append(f"[image {found.get('ri:filename') or ''}]")

    def _emoticon(self, tag: str, found: dict[str, str | None]) -> None:
        self.out.append(f":{found.get('ac:name') or ''}:")

    def _rule(self, tag: str, found: dict[str, str | None]) -> None:
        self._newline(2)
        self.out.append("---")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skip = max(0, self.skip - 1)
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._newline(1 if self.lists else 2)
        elif tag in _BLOCKS:
            self._newline(2 if not self.lists else 1)
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href:
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)

    def unknown_decl(self, data: str) -> None:
        if data.startswith("CDATA[") and not self.skip:
            self.out.append(data[len("CDATA[") :])


#: Start tag -> what it adds to the text (block and skipped elements are handled before).
_STARTS: dict[str, Callable[[_TextBuilder, str, dict[str, str | None]], None]] = {
    "a": _TextBuilder._link,
    "br": _TextBuilder._break,
    "ul": _TextBuilder._list,
    "ol": _TextBuilder._list,
    "li": _TextBuilder._item,
    "ac:task": _TextBuilder._item,
    "td": _TextBuilder._cell,
    "th": _TextBuilder._cell,
    "tr": _TextBuilder._row,
    "ri:page": _TextBuilder._page,
    "ri:blogpost": _TextBuilder._page,
    "ri:user": _TextBuilder._user,
    "ri:attachment": _TextBuilder._attachment,
    "ac:emoticon": _TextBuilder._emoticon,
    "hr": _TextBuilder._rule,
}


def storage_to_text(value: str | None) -> str:
    """Readable text of a storage-format document; "" for None."""
    if not value:
        return ""
    parser = _TextBuilder()
    parser.feed(value)
    parser.close()
    text = "".join(parser.out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def text_to_storage(text: str) -> str:
    """Storage format for plain text: a <p> per blank-line-separated block, <br/> for single newlines."""
    blocks = [b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    return "".join("<p>" + html.escape(b, quote=False).replace("\n", "<br/>") + "</p>" for b in blocks)
