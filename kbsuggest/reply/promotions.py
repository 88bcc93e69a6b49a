"""Promotions outside their dates that a message names ("can I still use the summer sale code?"). Retrieval
never returns them, yet the customer is owed the answer that the sale ended, and when: from the article's
own dates, never from its terms. And what the customer can have instead: the store's promotion running on the
day (`running_promotion`), from its own article."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass
from datetime import date

from kbsuggest.articles.models import ArticleMeta, Section
from kbsuggest.text.tokenize import normalize_query, tokenize

_ASIDE = re.compile(r"\s*[(（][^)）]*[)）]\s*")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_TERMS = re.compile(r"[$¥￥€£]\s?\d|\d\s?%|\d(?:\.\d)?\s?折|\d\s?元|满\s?\d|减\s?\d")
"""A price, a discount or a spend threshold: the terms of a promotion, never quoted once it is over."""
MIN_LATIN_NAME_WORDS = 2
MIN_HAN_NAME_CHARS = 3


@dataclass(frozen=True)
class Promotion:
    """An article outside its validity window that the message names, with what may still be quoted of it:
    the text of its best section that states no price or discount (only once it has ended), to quote from."""

    article_id: str
    name: str
    start: date | None
    end: date | None
    ended: bool
    section_id: str | None = None
    text: str = ""


@dataclass(frozen=True)
class Running:
    """A promotion valid on the day, offered beside one the customer asked about that is not: its dates and the
    section stating its terms (`text`, to quote from)."""

    article_id: str
    name: str
    start: date | None
    end: date | None
    section_id: str
    text: str


def display_name(meta: ArticleMeta) -> str:
    """The title without an aside such as "(ended)" / "（已结束）"."""
    return _ASIDE.sub(" ", meta.title).strip()


def names(meta: ArticleMeta) -> tuple[str, ...]:
    """What customers call the promotion: its title without the aside and the year, and those of its tags
    that are part of that ("summer-sale" -> "summer sale"; "双十一"), when specific enough (two words, or
    three Chinese characters)."""
    title = _YEAR.sub(" ", display_name(meta)).casefold()
    title = " ".join(title.split())
    found = [title]
    for tag in meta.tags:
        name = tag.replace("-", " ").casefold()
        specific = len(name.split()) >= MIN_LATIN_NAME_WORDS if name.isascii() else len(name) >= MIN_HAN_NAME_CHARS
        if specific and name in title:
            found.append(name)
    return tuple(dict.fromkeys(n for n in found if n))


def named_promotions(
    message: str,
    articles: Iterable[tuple[ArticleMeta, Sequence[Section]]],
    today: date,
    language: str,
) -> tuple[Promotion, ...]:
    """The out-of-date articles of `language` that `message` names, in the order it names them. The message is
    tokenised only when it names an ended one (to pick the section worth quoting)."""
    text = " ".join(message.casefold().split())
    message_tokens: frozenset[str] | None = None
    found: list[tuple[int, Promotion]] = []
    for meta, sections in articles:
        if meta.locale.split("-")[0] != language or meta.is_valid_on(today):
            continue
        if meta.valid_from is None and meta.valid_until is None:
            continue
        positions = [text.find(n) for n in names(meta) if n in text]
        if not positions:
            continue
        ended = meta.valid_until is not None and meta.valid_until < today
        quoted = None
        if ended:
            if message_tokens is None:
                message_tokens = frozenset(tokenize(normalize_query(message)))
            quoted = _quotable(sections, message_tokens)
        found.append(
            (
                min(positions),
                Promotion(
                    article_id=meta.id,
                    name=display_name(meta),
                    start=meta.valid_from,
                    end=meta.valid_until,
                    ended=ended,
                    section_id=quoted[0] if quoted else None,
                    text=quoted[1] if quoted else "",
                ),
            )
        )
    return tuple(p for _, p in sorted(found, key=lambda item: item[0]))


def running_promotion(
    message: str,
    articles: Iterable[tuple[ArticleMeta, Sequence[Section]]],
    today: date,
    language: str,
) -> Running | None:
    """The dated article of `language` valid on `today` (a promotion: it has a validity window) that the
    customer is offered instead of one out of its dates: one `message` names first, then the highest
    `priority`, then the one ending soonest; with its first section that states terms (a price, a discount).
    None when no promotion runs."""
    text = " ".join(message.casefold().split())
    running = [
        (meta, sections)
        for meta, sections in articles
        if meta.locale.split("-")[0] == language
        and (meta.valid_from is not None or meta.valid_until is not None)
        and meta.is_valid_on(today)
        and sections
    ]
    if not running:
        return None
    meta, sections = min(
        running,
        key=lambda item: (
            not any(n in text for n in names(item[0])),
            -item[0].priority,
            item[0].valid_until or date.max,
            item[0].id,
        ),
    )
    terms = next((s for s in sections if _TERMS.search(s.text)), sections[0])
    return Running(meta.id, display_name(meta), meta.valid_from, meta.valid_until, terms.id, terms.text)


def _quotable(sections: Sequence[Section], message_tokens: Set[str]) -> tuple[str, str] | None:
    """The section without terms that shares the most with the message: its id and text."""
    free = [s for s in sections if not _TERMS.search(s.text)]
    if not free:
        return None
    best = max(free, key=lambda s: len(message_tokens & set(tokenize(s.text))))
    return best.id, best.text
