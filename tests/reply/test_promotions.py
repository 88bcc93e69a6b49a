"""Promotions outside their dates that a message names: their dates, never their terms."""

from __future__ import annotations

from datetime import date

from kbsuggest.articles.models import ArticleMeta, Section
from kbsuggest.reply.promotions import named_promotions, names, running_promotion

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
    return tuple(f"{p.name}|{p.end}|{p.ended}|{p.section_id}|{p.text}" for p in found)


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


def promotion(
    id_: str, locale: str, start: date, end: date, priority: int = 0, tags: tuple[str, ...] = ()
) -> ArticleMeta:
    title = id_.replace("-", " ").title()
    return ArticleMeta(
        id=id_, title=title, locale=locale, tags=tags, valid_from=start, valid_until=end, priority=priority
    )


def own_sections(article_id: str, *texts: str) -> list[Section]:
    return [
        Section(
            id=f"{article_id}#s{i}",
            article_id=article_id,
            anchor=f"s{i}",
            heading_path=(article_id,),
            text=text,
            line_start=i,
            line_end=i,
        )
        for i, text in enumerate(texts)
    ]


BLACK_FRIDAY = promotion("black-friday", "en", date(2026, 11, 20), date(2026, 12, 2))
WINTER = promotion("winter-sale", "en", date(2026, 11, 1), date(2027, 1, 31), priority=2)
DOUBLE_12 = promotion("double-12", "zh-CN", date(2026, 11, 20), date(2026, 12, 12), priority=5)
STORE = [
    (SUMMER, SECTIONS),
    (BLACK_FRIDAY, own_sections("black-friday", "It ships fast.", "Everything is 20% off.", "Ends Dec 2: 20% off.")),
    (WINTER, own_sections("winter-sale", "Coats are 10% off.")),
    (DOUBLE_12, own_sections("double-12", "满¥300减¥40。")),
    (ArticleMeta(id="returns", title="Returns", locale="en"), own_sections("returns", "Returns within 30 days.")),
]


def test_the_running_promotion_named_first_then_by_priority_with_its_first_section_of_terms() -> None:
    today = date(2026, 12, 1)
    named = running_promotion("summer sale + black friday = 45% off?", STORE, today, "en")
    assert named is not None and (named.article_id, named.section_id) == ("black-friday", "black-friday#s1")
    assert (named.name, named.start, named.end) == ("Black Friday", date(2026, 11, 20), date(2026, 12, 2))
    unnamed = running_promotion("is the summer sale still on?", STORE, today, "en")
    assert unnamed is not None and unnamed.article_id == "winter-sale"  # the higher priority
    assert running_promotion("双十一还有吗", STORE, today, "zh").article_id == "double-12"  # type: ignore[union-attr]


def test_no_running_promotion_outside_every_window_or_in_another_language() -> None:
    assert running_promotion("is the summer sale still on?", STORE, date(2027, 3, 1), "en") is None
    assert running_promotion("双十一还有吗", STORE[:3], date(2026, 12, 1), "zh") is None
