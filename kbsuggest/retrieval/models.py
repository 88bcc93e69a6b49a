"""What retrieval takes (`Filters`) and returns (`Answer`)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kbsuggest.articles.models import ArticleType

MatchedBy = Literal["dense", "lexical", "both"]


class Filters(BaseModel):
    """Metadata filters. Unset fields do not filter. Expired or not-yet-valid articles are never returned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    locale: str | None = Field(
        default=None,
        description="Preferred locale, e.g. 'zh-CN'. Falls back to the same language, then to the knowledge base's "
        "default locale when nothing matches. Unset: the message's own language.",
    )
    type: tuple[ArticleType, ...] | None = None
    tags: tuple[str, ...] | None = Field(default=None, description="Articles with any of these tags.")
    products: tuple[str, ...] | None = Field(default=None, description="Articles about any of these products.")
    channel: str | None = Field(default=None, description="Articles for this channel, or for every channel.")
    today: date | None = Field(default=None, description="The date validity is checked against (default: today).")


class Answer(BaseModel):
    """One section that answers the message, with where it came from and why it matched."""

    model_config = ConfigDict(frozen=True)

    article_id: str
    anchor: str
    title: str
    heading_path: tuple[str, ...]
    text: str = Field(description="The whole section, rendered as plain text.")
    snippet: str = Field(description="The section's sentences most relevant to the message, in their order.")
    score: float = Field(description="Fused relevance; higher is better; comparable within one result list.")
    matched_by: MatchedBy
    section_id: str
    path: str = Field(description="The article's source file, relative to the articles folder.")
    line_start: int
    line_end: int
    locale: str
