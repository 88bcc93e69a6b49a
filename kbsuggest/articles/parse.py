"""Article source text -> `Article` (front matter validated, body split into sections). Pure: no disk."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections import Counter
from typing import Any

import markdown_it
import yaml
from pydantic import ValidationError

from kbsuggest._version import __version__
from kbsuggest.articles.markdown import blocks
from kbsuggest.articles.models import Article, ArticleMeta, Section
from kbsuggest.articles.split import sections_from_blocks
from kbsuggest.errors import ArticleError, ArticlesInvalid

_FENCE = re.compile(r"^---[ \t]*$")
_KEY_LINE = re.compile(r"^([A-Za-z_][\w-]*)\s*:")
_FIELDS = tuple(ArticleMeta.model_fields)
PARSER_VERSION = 1
"""Bump when parsing or splitting changes what a source yields, so builds parse cached articles again."""
_PARSER = (PARSER_VERSION, __version__, markdown_it.__version__, yaml.__version__)


def source_hash(source: str, path: str, *, default_id: str, default_locale: str) -> str:
    """sha256 of everything `parse_article` reads, and of the parser's version: equal hashes, equal articles."""
    head = json.dumps([*_PARSER, path, default_id, default_locale]).encode("utf-8")
    return hashlib.sha256(head + b"\n" + source.encode("utf-8", "surrogatepass")).hexdigest()


def parse_article(source: str, path: str, *, default_id: str, default_locale: str) -> Article:
    """Parse one article. Raises `ArticlesInvalid` listing every problem found in it."""
    front, body, body_offset = _split_front_matter(source, path)
    body_blocks = blocks(body)
    if not any(block.level == 0 for block in body_blocks):
        raise ArticlesInvalid(
            [ArticleError(path, body_offset + 1, "the article has no body text", "write at least one paragraph")]
        )
    h1 = next((b.text for b in body_blocks if b.level == 1), None)
    fields: dict[str, Any] = {"id": default_id, "locale": default_locale, **front}
    if "title" not in fields and h1:
        fields["title"] = h1
    if "title" not in fields:
        raise ArticlesInvalid(
            [ArticleError(path, 1, "the article has no title", "add a '# Title' line or a 'title:' field")]
        )
    meta = _validate(fields, source, path)
    drafts = sections_from_blocks(meta.title, body_blocks)
    parts = Counter(d.anchor for d in drafts)
    seen: Counter[str] = Counter()
    sections: list[Section] = []
    for draft in drafts:
        seen[draft.anchor] += 1
        suffix = f"~{seen[draft.anchor]}" if parts[draft.anchor] > 1 else ""
        sections.append(
            Section(
                id=f"{meta.id}#{draft.anchor}{suffix}",
                article_id=meta.id,
                anchor=draft.anchor,
                heading_path=draft.path,
                text=draft.text,
                line_start=body_offset + draft.line_start + 1,
                line_end=body_offset + max(draft.line_end, draft.line_start + 1),
            )
        )
    key = source_hash(source, path, default_id=default_id, default_locale=default_locale)
    return Article(meta=meta, path=path, sections=tuple(sections), source_hash=key)


def _split_front_matter(source: str, path: str) -> tuple[dict[str, Any], str, int]:
    """(front matter mapping, body, number of lines before the body)."""
    lines = source.splitlines(keepends=True)
    if not lines or not _FENCE.match(lines[0].rstrip("\r\n")):
        return {}, source, 0
    close = next((i for i in range(1, len(lines)) if _FENCE.match(lines[i].rstrip("\r\n"))), None)
    if close is None:
        raise ArticlesInvalid(
            [ArticleError(path, 1, "front matter opened with '---' is never closed", "add a '---' line after it")]
        )
    try:
        front = yaml.safe_load("".join(lines[1:close])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ArticlesInvalid(
            [ArticleError(path, line, f"invalid YAML in front matter ({problem})", "correct the YAML syntax")]
        ) from None
    if not isinstance(front, dict):
        raise ArticlesInvalid(
            [ArticleError(path, 2, "front matter is not a mapping of fields", "write it as 'key: value' lines")]
        )
    return front, "".join(lines[close + 1 :]), close + 1


def _validate(fields: dict[str, Any], source: str, path: str) -> ArticleMeta:
    try:
        return ArticleMeta.model_validate(fields)
    except ValidationError as exc:
        key_lines = _key_lines(source)
        errors = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            line = key_lines.get(field, 1)
            errors.append(ArticleError(path, line, _problem(field, error), _fix(field, error["type"])))
        raise ArticlesInvalid(errors) from None


def _key_lines(source: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for number, line in enumerate(source.splitlines()[1:], start=2):
        if _FENCE.match(line):
            break
        match = _KEY_LINE.match(line)
        if match:
            found.setdefault(match.group(1), number)
    return found


def _problem(field: str, error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return f"unknown front-matter field {field!r}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"field {field!r}: {message}" if field else message


def _fix(field: str, kind: str) -> str:
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(field, _FIELDS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{hint}remove it or use one of: {', '.join(_FIELDS)}"
    if kind == "literal_error":
        return "use one of the values listed above"
    if kind.startswith("date"):
        return "write dates as YYYY-MM-DD"
    if kind in ("tuple_type", "list_type"):
        return f"write {field} as a list, e.g. [a, b]"
    return f"correct the value of {field!r} (see articles/README.md)"
