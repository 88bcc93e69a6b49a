"""Typed, immutable records for articles and their sections."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ArticleType = Literal["policy", "product", "faq"]
Stage = Literal["pre_sale", "in_sale", "after_sale"]

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")


class ArticleMeta(BaseModel):
    """An article's front matter once defaults are filled in. Unknown keys are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str
    type: ArticleType = "policy"
    locale: str
    tags: tuple[str, ...] = ()
    stage: Stage | None = None
    products: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    valid_from: date | None = None
    valid_until: date | None = None
    priority: int = 0
    questions: tuple[str, ...] = ()

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(
                f"id {value!r} must use lowercase letters, digits, '-' and '_' and start with a letter or digit"
            )
        return value

    @field_validator("locale")
    @classmethod
    def _locale_shape(cls, value: str) -> str:
        if not _LOCALE.match(value):
            raise ValueError(f"locale {value!r} is not a BCP-47 tag such as 'en', 'en-US' or 'zh-CN'")
        return value

    @field_validator("title")
    @classmethod
    def _title_present(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("title is empty")
        return value.strip()

    @model_validator(mode="after")
    def _validity_order(self) -> ArticleMeta:
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise ValueError(f"valid_from {self.valid_from} is after valid_until {self.valid_until}")
        return self

    def is_valid_on(self, day: date) -> bool:
        """True when `day` lies inside the article's validity window (open ends count as valid)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


class Section(BaseModel):
    """A retrievable piece of an article: one heading's text, or one part of a long one."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(
        description="Unique in the knowledge base: 'article-id#anchor', plus '~N' for parts of a split section."
    )
    article_id: str
    anchor: str = Field(description="GitHub-style slug of the heading, stable while the heading text is.")
    heading_path: tuple[str, ...]
    text: str
    line_start: int = Field(description="First source line (1-based, counting front matter).")
    line_end: int = Field(description="Last source line (1-based, inclusive).")

    @property
    def embed_text(self) -> str:
        """What the encoders see: the heading path for context, then the text."""
        return " > ".join(self.heading_path) + "\n" + self.text


class Article(BaseModel):
    """A parsed article: validated metadata, its sections, and where it came from."""

    model_config = ConfigDict(frozen=True)

    meta: ArticleMeta
    path: str
    sections: tuple[Section, ...]
    source_hash: str = Field(
        description="sha256 of everything the parse depended on (`parse.source_hash`): equal hashes, equal articles."
    )
