"""Markdown body -> blocks of readable text with their source lines (markdown-it-py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

_MD = MarkdownIt("commonmark").enable("table").disable("html_inline")
_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_END = re.compile(f"[{_CJK}]$")
_CJK_START = re.compile(f"^[{_CJK}]")


@dataclass(frozen=True)
class Block:
    """One top-level Markdown block: a heading (level >= 1) or a text block (level 0)."""

    level: int
    text: str
    line_start: int  # 0-based, inclusive, within the body
    line_end: int  # 0-based, exclusive


def blocks(body: str) -> list[Block]:
    """Top-level blocks of `body`, in order, with lists and tables rendered as plain text."""
    tokens = _MD.parse(body)
    out: list[Block] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        end = _closing(tokens, i)
        start_line, end_line = token.map or (0, 0)
        if token.type == "heading_open":
            out.append(Block(int(token.tag[1:]), _inline(tokens[i + 1]), start_line, end_line))
        else:
            text = _render(tokens[i : end + 1]).strip()
            if text:
                out.append(Block(0, text, start_line, end_line))
        i = end + 1
    return out


def _closing(tokens: list[Token], i: int) -> int:
    """Index of the token closing the block that opens at `i`."""
    if tokens[i].nesting != 1:
        return i
    depth = 0
    for j in range(i, len(tokens)):
        depth += tokens[j].nesting
        if depth == 0:
            return j
    return len(tokens) - 1


def _inline(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            parts.append(child.content)
        elif child.type == "image":
            parts.append(child.content or "")
        elif child.type == "softbreak":
            previous = parts[-1] if parts else ""
            parts.append("" if _CJK_END.search(previous) else " ")
        elif child.type == "hardbreak":
            parts.append("\n")
    return "".join(parts).strip()


def _render(tokens: list[Token]) -> str:
    """Readable text for a block: list items keep their markers, table rows read 'Header: value; ...'."""
    lines: list[str] = []
    counters: list[int | None] = []  # one entry per open list: next number, or None for bullets
    prefix_pending = ""
    header: list[str] = []
    row: list[str] = []
    in_head = in_cell = False
    body_rows = 0
    for token in tokens:
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            counters.append(int(token.attrs.get("start", 1) or 1) if kind == "ordered_list_open" else None)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            counters.pop()
        elif kind == "list_item_open":
            number = counters[-1]
            indent = "  " * (len(counters) - 1)
            if number is None:
                prefix_pending = f"{indent}- "
            else:
                prefix_pending = f"{indent}{number}. "
                counters[-1] = number + 1
        elif kind == "table_open":
            body_rows = 0
        elif kind == "table_close" and not body_rows and any(header):
            lines.append("; ".join(h for h in header if h))  # a header-only table: its text is all there is
        elif kind == "thead_open":
            in_head = True
        elif kind == "thead_close":
            in_head = False
        elif kind == "tr_open":
            row = []
        elif kind in ("th_open", "td_open", "th_close", "td_close"):
            in_cell = token.nesting == 1
        elif kind == "tr_close":
            if in_head:
                header = row
            else:
                labels = header + [""] * len(row)
                cells = [f"{h}: {v}" if h else v for h, v in zip(labels, row, strict=False) if v]
                lines.append("; ".join(cells))
                body_rows += bool(cells)
        elif kind == "inline":
            text = _inline(token)
            if in_cell:
                row.append(text)
            elif text:
                lines.append(prefix_pending + text)
                prefix_pending = ""
        elif kind in ("fence", "code_block", "html_block"):
            lines.append(token.content.rstrip("\n"))
    return "\n".join(lines)
