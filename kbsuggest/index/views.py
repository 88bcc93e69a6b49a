"""What each encoder embeds per section. A section's dense score is its best view's cosine: the short
heading path matches intent-like questions, the full text matches detailed ones (measured in
kbsuggest/retrieval/fusion.py's docstring)."""

from __future__ import annotations

from collections.abc import Callable

from kbsuggest.articles.models import Section


def _path(section: Section) -> str:
    return " > ".join(section.heading_path)


def _body(section: Section) -> str:
    return section.embed_text


VIEWS: dict[str, Callable[[Section], str]] = {"path": _path, "body": _body}
