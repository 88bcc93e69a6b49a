"""Promotions outside their dates that a message names: their dates, never their terms."""

from __future__ import annotations

from datetime import date

from kbsuggest.articles.models import ArticleMeta, Section
from kbsuggest.reply.promotions import named_promotions, names

SUMMER = ArticleMeta(
    id="summer-sale-2026",
    title="Summer Sale 2026 (ended)",
    locale="en",
    tags=("promotion", "sale", "summer-sale"),
    valid_from=date(2026, 6, 1),
    valid_until=date(2026, 6, 30),
)


def section(anchor: str, text: str) -> Section:
    return Section(
        id=f"summer-sale-2026#{anchor}",
        article_id="summer-sale-2026",
        anchor=anchor,
        heading_path=("Summer Sale", anchor),
        text=text,
        line_start=1,
        line_end=2,
    )


SECTIONS = [
    section("terms", "Jackets were 25% off, so the Ridge Trail Jacket was $141.75 instead of $189."),
    section("after", "Summer sale prices are no longer available. To find current offers, check our home page."),
]


def named(message: str, today: date) -> tuple[str, ...]:
    found = named_promotions(message, [(SUMMER, SECTIONS)], today, "en")
    return tuple(f"{p.name}|{p.end}|{p.ended}|{p.section_id}|{' '.join(p.sentences)}" for p in found)


def test_names_come_from_the_title_and_its_specific_tags() -> None:
    assert names(SUMMER) == ("summer sale",)  # "sale" alone is too common to name it


def test_an_ended_promotion_is_found_and_only_its_section_without_terms_is_quotable() -> None:
    (found,) = named("can I still use the summer sale code?", date(2026, 12, 1))
    name, end, ended, cited, quoted = found.split("|")
    assert (name, end, ended, cited) == ("Summer Sale 2026", "2026-06-30", "True", "summer-sale-2026#after")
    assert "no longer available" in quoted and "25%" not in quoted and "$141.75" not in quoted


def test_a_running_or_unnamed_promotion_is_not_reported() -> None:
    assert named("can I still use the summer sale code?", date(2026, 6, 15)) == ()
    assert named("is there a black friday discount", date(2026, 12, 1)) == ()


def test_a_promotion_not_started_yet_quotes_nothing() -> None:
    (found,) = named("when does the summer sale start", date(2026, 5, 1))
    assert found.split("|")[2:] == ["False", "None", ""]
