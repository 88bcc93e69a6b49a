"""Broken internal links: a relative link to a `.md` file that is not an article, or to an anchor it lacks."""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Collection, Sequence
from urllib.parse import unquote

from kbsuggest.lint.models import Finding
from kbsuggest.lint.text import Document, Link

_EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|/)", re.IGNORECASE)  # a scheme, another host, or site-absolute


def broken_links(documents: Sequence[Document], unreadable: Collection[str] = ()) -> list[Finding]:
    """Links between articles (`refunds.md#refund-timing`, `#anchor` within one) that lead nowhere.

    Links into `unreadable` files (which failed to parse, and are reported for that) are not checked."""
    by_path = {_norm(d.path): d for d in documents}
    skip = {_norm(path) for path in unreadable}
    findings: list[Finding] = []
    for document in documents:
        for passage in document.passages:
            for link in passage.links:
                finding = _check(document, link, by_path, skip)
                if finding is not None:
                    findings.append(finding)
    return findings


def _check(document: Document, link: Link, by_path: dict[str, Document], skip: set[str]) -> Finding | None:
    written = unquote(link.target)
    path, _, anchor = (unquote(part) for part in link.target.partition("#"))
    if _EXTERNAL.match(written) or (path and not path.lower().endswith(".md")):
        return None  # a web page, an image...: not an article
    here = posixpath.dirname(_norm(document.path))
    target_path = _norm(posixpath.join(here, path)) if path else _norm(document.path)
    target = by_path.get(target_path)
    if target is None and target_path in skip:
        return None  # the file failed to parse, and is reported for that
    if target is None:
        return Finding(
            severity="error",
            kind="broken-link",
            path=document.path,
            line=link.line,
            message=f"link to '{written}': there is no article {target_path}",
            fix="correct the path (it is relative to this file) or remove the link",
        )
    if anchor and anchor.lower() not in target.anchors:
        close = difflib.get_close_matches(anchor.lower(), sorted(target.anchors), n=1)
        hint = f"did you mean '#{close[0]}'? " if close else ""
        return Finding(
            severity="error",
            kind="broken-anchor",
            path=document.path,
            line=link.line,
            message=f"link to '{written}': {target.path} has no heading with the anchor '#{anchor}'",
            fix=f"{hint}an anchor is its heading in lowercase, punctuation dropped, spaces as '-'",
        )
    return None


def _norm(path: str) -> str:
    return posixpath.normpath(path.replace("\\", "/"))
