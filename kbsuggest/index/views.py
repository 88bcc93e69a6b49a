"""What each encoder embeds per section: its heading path (matches intent-like questions) and its path
plus text (matches detailed ones). A section's dense score is its better view's cosine (measured in
kbsuggest/retrieval/fusion.py's docstring)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kbsuggest.articles.models import Section


def _path(section: Section) -> str:
    return " > ".join(section.heading_path)


def _body(section: Section) -> str:
    return section.embed_text


SECTION_VIEWS: dict[str, Callable[[Section], str]] = {"path": _path, "body": _body}


def view_texts(sections: Sequence[Section]) -> dict[str, list[str]]:
    """Every view's texts, row-aligned with the sections."""
    return {view: [make(s) for s in sections] for view, make in SECTION_VIEWS.items()}
