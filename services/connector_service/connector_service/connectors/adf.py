"""Atlassian Document Format (Jira descriptions and comments) to and from readable text.

Block nodes become lines (paragraphs separated by a blank line, list items
prefixed with "- " or "1. ", quotes with "> ", code fenced with ```), inline
nodes become their visible text (mentions as "@name", links as
"text (url)", emoji by short name). Unknown nodes contribute their children's
text, so new ADF node types degrade to text rather than vanish.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

_BLOCK_SEPARATOR = "\n\n"


def adf_to_text(doc: Any) -> str:
    """Readable text of an ADF document; "" for None or a non-ADF value."""
    if not isinstance(doc, dict):
        return doc if isinstance(doc, str) else ""
    return _block(doc).strip()


def text_to_adf(text: str) -> dict[str, Any]:
    """An ADF document with one paragraph per blank-line-separated block; single newlines become hard breaks."""
    paragraphs = []
    for block in (b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()):
        content: list[dict[str, Any]] = []
        for n, line in enumerate(block.split("\n")):
            if n:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def _children(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in node.get("content") or [] if isinstance(c, dict)]


def _inline(node: dict[str, Any]) -> str:
    kind, attrs = node.get("type"), node.get("attrs") or {}
    if kind == "text":
        text = node.get("text", "")
        link = next((m.get("attrs", {}).get("href") for m in node.get("marks") or [] if m.get("type") == "link"), None)
        return f"{text} ({link})" if link and link != text else text
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        name = attrs.get("text") or attrs.get("id", "")
        return name if name.startswith("@") else f"@{name}"
    if kind == "emoji":
        return attrs.get("text") or attrs.get("shortName", "")
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return attrs.get("url", "")
    if kind == "status":
        return f"[{attrs.get('text', '')}]"
    if kind == "date":
        try:
            return dt.datetime.fromtimestamp(int(attrs.get("timestamp")) / 1000, dt.UTC).date().isoformat()
        except (TypeError, ValueError):
            return ""
    if kind in ("media", "mediaInline"):
        return f"[attachment {attrs.get('alt') or attrs.get('id', '')}]".replace(" ]", "]")
    return "".join(_inline(c) for c in _children(node))


def _lines(text: str, prefix: str, rest: str) -> str:
    lines = text.split("\n")
    return "\n".join([prefix + lines[0], *(rest + line if line else line for line in lines[1:])])


def _joined(children: list[dict[str, Any]], separator: str = _BLOCK_SEPARATOR) -> str:
    return separator.join(t for t in (_block(c) for c in children) if t)


def _container(node: dict[str, Any], attrs: dict[str, Any], children: list[dict[str, Any]]) -> str:
    return _joined(children)


def _text_block(node: dict[str, Any], attrs: dict[str, Any], children: list[dict[str, Any]]) -> str:
    return "".join(_inline(c) for c in children)


def _list(node: dict[str, Any], attrs: dict[str, Any], children: list[dict[str, Any]]) -> str:
    start = int(attrs.get("order", 1) or 1)
    ordered = node.get("type") == "orderedList"
    marks = [f"{start + n}. " if ordered else "- " for n in range(len(children))]
    return "\n".join(_lines(_block(c), m, " " * len(m)) for m, c in zip(marks, children, strict=True))


def _item(node: dict[str, Any], attrs: dict[str, Any], children: list[dict[str, Any]]) -> str:
    box = {"DONE": "[x] ", "TODO": "[ ] "}.get(attrs.get("state", ""), "")
    inner = "\n".join(t for t in (_block(c) if c.get("type") != "text" else _inline(c) for c in children) if t)
    return box + inner


def _task_list(node: dict[str, Any], attrs: dict[str, Any], children: list[dict[str, Any]]) -> str:
    return "\n".join(_lines(_block(c), "- ", "  ") for c in children)


def _quote(node: dict[str, Any], attrs: dict[str, Any], children: list[dict[str, Any]]) -> str:
    return _lines(_BLOCK_SEPARATOR.join(_block(c) for c in children), "> ", "> ")


def _code(node: dict[str, Any], attrs: dict[str, Any], children: list[dict[str, Any]]) -> str:
    return "```" + attrs.get("language", "") + "\n" + "".join(_inline(c) for c in children) + "\n```"


def _rule(node: dict[str, Any], attrs: dict[str, Any], children: list[dict[str, Any]]) -> str:
    return "---"


def _expand(node: dict[str, Any], attrs: dict[str, Any], children: list[dict[str, Any]]) -> str:
    title, inner = attrs.get("title", ""), _joined(children)
    return f"{title}\n{inner}" if title else inner


def _table(node: dict[str, Any], attrs: dict[str, Any], children: list[dict[str, Any]]) -> str:
    return "\n".join(_block(row) for row in children)


def _row(node: dict[str, Any], attrs: dict[str, Any], children: list[dict[str, Any]]) -> str:
    return " | ".join(_block(cell).replace("\n\n", " ").replace("\n", " ") for cell in children)


def _cell(node: dict[str, Any], attrs: dict[str, Any], children: list[dict[str, Any]]) -> str:
    parts = (_block(c) if c.get("type") != "media" else _inline(c) for c in children)
    return "\n\n".join(t for t in parts if t)


_Renderer = Callable[[dict[str, Any], dict[str, Any], list[dict[str, Any]]], str]

#: Block node type -> how it becomes text; any other node is rendered as inline content.
_BLOCKS: dict[str, _Renderer] = {
    **dict.fromkeys(("doc", "panel", "layoutSection", "layoutColumn", "nestedExpand", "bodiedExtension"), _container),
    **dict.fromkeys(("paragraph", "heading"), _text_block),
    **dict.fromkeys(("bulletList", "orderedList"), _list),
    **dict.fromkeys(("listItem", "taskItem", "decisionItem"), _item),
    **dict.fromkeys(("taskList", "decisionList"), _task_list),
    "blockquote": _quote,
    "codeBlock": _code,
    "rule": _rule,
    "expand": _expand,
    "table": _table,
    "tableRow": _row,
    **dict.fromkeys(("tableCell", "tableHeader", "mediaSingle", "mediaGroup"), _cell),
}


def _block(node: dict[str, Any]) -> str:
    render = _BLOCKS.get(node.get("type") or "")
    if render is None:
        return _inline(node)
    return render(node, node.get("attrs") or {}, _children(node))
