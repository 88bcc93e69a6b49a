"""An article with its source, read back as passages of plain text that know their source lines and links."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from markdown_it import MarkdownIt
from markdown_it.token import Token

from kbsuggest.articles.markdown import blocks
from kbsuggest.articles.models import Article
from kbsuggest.articles.split import group

_MD = MarkdownIt("commonmark").enable("table")
_FENCE = re.compile(r"^---[ \t]*$")


@dataclass(frozen=True)
class Link:
    target: str  # as markdown-it normalised it: non-ASCII is percent-encoded
    line: int


@dataclass(frozen=True)
class Passage:
    """The plain text of one paragraph, list item, heading or table row (a row reads 'Header: cell; ...')."""

    text: str
    line: int  # 1-based source line of text[0]
    breaks: tuple[int, ...]  # offsets in `text` where the next source line starts
    links: tuple[Link, ...]

    def line_at(self, offset: int) -> int:
        return self.line + bisect_right(self.breaks, offset)


@dataclass(frozen=True)
class Document:
    """A parsed article and the source it was parsed from: links and exact lines need the source."""

    article: Article
    source: str

    @property
    def path(self) -> str:
        return self.article.path

    @property
    def language(self) -> str:
        """The locale's primary language: 'en', 'zh'."""
        return self.article.meta.locale.split("-")[0].lower()

    @cached_property
    def _body(self) -> tuple[str, int]:
        """(body, number of lines before it): what follows the front matter, split as the parser does."""
        lines = self.source.splitlines(keepends=True)
        if not lines or not _FENCE.match(lines[0].rstrip("\r\n")):
            return self.source, 0
        close = next((i for i in range(1, len(lines)) if _FENCE.match(lines[i].rstrip("\r\n"))), len(lines) - 1)
        return "".join(lines[close + 1 :]), close + 1

    def front_matter_line(self, key: str) -> int | None:
        """The line of `key:` in the front matter, if it is there."""
        pattern = re.compile(rf"^{re.escape(key)}\s*:")
        lines = self.source.splitlines()[1 : max(self._body[1] - 1, 0)]
        return next((number for number, line in enumerate(lines, start=2) if pattern.match(line)), None)

    @cached_property
    def anchors(self) -> frozenset[str]:
        """Every heading anchor, de-duplicated as sections' are (a tiny section merged into another keeps its)."""
        body, _ = self._body
        return frozenset(draft.anchor for draft in group(self.article.meta.title, blocks(body)))

    @cached_property
    def passages(self) -> tuple[Passage, ...]:
        body, offset = self._body
        out: list[Passage] = []
        header: list[str] = []
        cells: list[Token] | None = None  # the table row being read
        in_head = False
        for token in _MD.parse(body):
            if token.type in ("thead_open", "tbody_open"):
                in_head = token.type == "thead_open"
            elif token.type == "tr_open":
                cells = []
            elif token.type == "tr_close" and cells is not None:
                if in_head:
                    header = [_passage([cell], 0).text for cell in cells]
                elif cells and cells[0].map:
                    out.append(_passage(cells, offset + cells[0].map[0] + 1, header))
                cells = None
            elif token.type == "inline" and cells is not None:
                cells.append(token)
            elif token.type == "inline" and token.map:
                out.append(_passage([token], offset + token.map[0] + 1))
        return tuple(out)


def _passage(cells: list[Token], line: int, labels: Sequence[str] = ()) -> Passage:
    """One passage from inline tokens: a paragraph's one, or a table row's cells with their header labels."""
    text = ""
    breaks: list[int] = []
    links: list[Link] = []
    for index, cell in enumerate(cells):
        if index:
            text += "; "
        if index < len(labels) and labels[index]:
            text += f"{labels[index]}: "
        for child in cell.children or []:
            if child.type in ("text", "code_inline", "image"):
                text += child.content
            elif child.type in ("softbreak", "hardbreak"):
                text += " "
                breaks.append(len(text))
            elif child.type == "link_open":
                links.append(Link(str(child.attrs.get("href", "")), line + len(breaks)))
    return Passage(text, line, tuple(breaks), tuple(links))
