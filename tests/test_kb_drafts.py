"""Drafts over the demo store (real article files, hashing encoder): the customer's situation, both questions,
ended promotions, and every paragraph traceable to a template or a cited section."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.analysis import analyse
from kbsuggest.encoders.hashing import HashingEncoder
from kbsuggest.reply.models import Suggestion
from kbsuggest.reply.suggest import build_suggestion
from kbsuggest.reply.trace import untraced
from kbsuggest.retrieval.models import Answer, Filters
from kbsuggest.retrieval.retriever import Retrieval
from tests.conftest import write_articles

DEMO = Path(__file__).parents[1] / "articles"
TODAY = Filters(today=date(2026, 12, 1))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    encoders = {"dense": HashingEncoder(64), "multilingual": HashingEncoder(64)}
    return KnowledgeBase.build(DEMO, tmp_path_factory.mktemp("index"), encoders=encoders)


def traced(kb: KnowledgeBase, s: Suggestion) -> bool:
    sections = {x.id: x.text for x in kb.sections}
    return untraced(s.drafts[0], kb._data.templates[s.drafts[0].language], sections) == []


def test_two_questions_get_two_answers_in_order_and_the_ended_sale_its_end_date(demo: KnowledgeBase) -> None:
    s = demo.suggest("Can I still use the summer sale code? and is there a black friday discount", filters=TODAY)
    draft = s.drafts[0]
    assert draft.citations[0] == "summer-sale-2026#summer-sale-prices-after-the-sale-ended"
    assert [c.split("#")[0] for c in draft.citations] == ["summer-sale-2026", "black-friday-2026"]
    assert "June 30, 2026" in draft.text and "has ended" in draft.text
    assert draft.text.index("Summer Sale") < draft.text.index("Black Friday")
    assert "25%" not in draft.text and "$141.75" not in draft.text  # the ended sale's terms
    assert traced(demo, s)


def test_an_ended_chinese_promotion_is_named_with_its_dates_never_its_discount(demo: KnowledgeBase) -> None:
    s = demo.suggest("亲 双十一活动还有吗", filters=TODAY)
    assert "已于2025年11月11日结束" in s.drafts[0].text and "8.5折" not in s.drafts[0].text
    assert traced(demo, s)


def test_three_weeks_without_a_refund_gets_the_overdue_step(demo: KnowledgeBase) -> None:
    s = demo.suggest("this is ridiculous, 3 weeks and still no refund!! I want to talk to a human", filters=TODAY)
    text = s.drafts[0].text
    assert s.drafts[0].citations == ("refunds#refund-not-showing-yet",)
    assert "reference number" in text and "still with your bank" not in text
    assert traced(demo, s)


def test_a_sale_that_is_running_is_not_called_ended(demo: KnowledgeBase) -> None:
    s = demo.suggest("is there a black friday discount?", filters=TODAY)
    assert "ended" not in s.drafts[0].text


def test_a_first_exchange_is_not_answered_from_the_rule_for_a_second(demo: KnowledgeBase) -> None:
    def exchange_anchor(message: str) -> str:
        answers = demo.search(message, k=5, filters=TODAY)
        return next(a.anchor for a in answers if a.article_id == "exchanges-zh")

    assert exchange_anchor("亲，衣服收到了尺码不合适，能换大一号吗") != "第二次换货"
    assert exchange_anchor("换过一次了还是不合适，第二次换货还免费吗") == "第二次换货"


def test_the_repeat_rule_overrides_a_closer_wording(tmp_path: Path) -> None:
    article = (
        "---\nid: exchanges\ntitle: Exchanges\nlocale: en\n---\n# Exchanges\n\n"
        "## Free size exchange\nEach order gets one free swap for a different size.\n\n"
        "## A second exchange on the same order\nExchange the size of a jacket that doesn't fit: a second size "
        "exchange of a jacket that doesn't fit is not free, return it and order the size you need.\n"
    )
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "exchanges.md").write_text(article, encoding="utf-8")
    kb = KnowledgeBase.build(tmp_path / "articles", tmp_path / "index", encoders={"dense": HashingEncoder(64)})
    assert kb.search("the jacket doesn't fit, can I exchange the size?")[0].anchor == "free-size-exchange"
    assert kb.search("the new size doesn't fit either, can I exchange again?")[0].anchor == (
        "a-second-exchange-on-the-same-order"
    )


def test_a_clarifying_question_answers_its_first_option_from_the_demo_store(demo: KnowledgeBase) -> None:
    """Two real sections tied: the draft asks, answers the first option from its cited section (traceable), and
    the customer's "第二个" in reply picks the second option."""
    message = "登山鞋周末穿去爬了趟山 不太合脚 还可以退货吗"
    titles = {a.meta.id: a.meta.title for a in demo.articles}
    tied = []
    for section_id in ("returns-policy-zh#退货条件", "exchanges-zh#免费换尺码"):
        section = next(s for s in demo.sections if s.id == section_id)
        tied.append(
            Answer(
                article_id=section.article_id,
                anchor=section.anchor,
                title=titles[section.article_id],
                heading_path=section.heading_path,
                text=section.text,
                snippet=section.text,
                score=1.0,
                matched_by="both",
                section_id=section.id,
                path=f"{section.article_id}.md",
                line_start=section.line_start,
                line_end=section.line_end,
                locale="zh-CN",
            )
        )
    found = Retrieval(message, "zh", tuple(tied), {}, np.array([1.0, 1.0]), True, 0.2)
    s = build_suggestion(
        "id", message, found, analyse(message), templates=demo._data.templates, context={}, tone="friendly", stages={}
    )
    assert [o.article_id for o in s.clarifying_options] == ["returns-policy-zh", "exchanges-zh"]
    assert s.drafts[0].citations == ("returns-policy-zh#退货条件",) and "30天内" in s.drafts[0].text
    assert s.clarifying_question is not None and traced(demo, s)
    history = [{"role": "customer", "text": message}, {"role": "agent", "text": s.drafts[0].text}]
    picked = demo.suggest("第二个", history=history, filters=TODAY)
    assert picked.conversation is not None and picked.conversation.kind == "clarification_answer"
    assert picked.answers[0].article_id == "exchanges-zh"


@pytest.mark.parametrize(
    ("message", "articles", "ended", "running"),
    [
        (
            "seriously?? the summer sale ended and the ridge is back to $189?! i was about to buy it",
            ["summer-sale-2026", "black-friday-2026"],
            "June 30, 2026",
            "20% off",
        ),
        ("今年还有双十一折扣吗 打几折", ["double-11-2025-zh", "double-12-2026-zh"], "2025年11月11日结束", "满减"),
    ],
)
def test_an_ended_promotion_comes_with_the_one_running_now(
    demo: KnowledgeBase, message: str, articles: list[str], ended: str, running: str
) -> None:
    s = demo.suggest(message, filters=TODAY)
    draft = s.drafts[0]
    assert [c.split("#")[0] for c in draft.citations] == articles
    assert draft.text.index(ended) < draft.text.index(running)
    assert not any(terms in draft.text for terms in ("25%", "$141.75", "8.5折", "1,104.15"))  # the ended one's
    assert traced(demo, s)


def store_article(id_: str, stage: str, dates: str, body: str) -> str:
    title = id_.replace("-", " ").title()
    return (
        f"---\nid: {id_}\ntitle: {title}\ntype: policy\nlocale: en\nstage: {stage}\n{dates}---\n# {title}\n\n{body}\n"
    )


SEASONS = {
    "en/summer-sale.md": store_article(
        "summer-sale",
        "pre_sale",
        "valid_from: 2026-06-01\nvalid_until: 2026-06-30\n",
        "## Summer sale terms\nJackets were 25% off.\n\n## After the summer sale\nSummer sale prices are no longer "
        "available.",
    ),
    "en/winter-sale.md": store_article(
        "winter-sale",
        "pre_sale",
        "valid_from: 2026-11-20\nvalid_until: 2026-12-31\n",
        "## Winter sale shipping\nWinter sale orders ship within two days.\n\n## Winter sale terms\nEverything is "
        "10% off until December 31, 2026. The discount shows in your cart.",
    ),
    "en/spring-sale.md": store_article(
        "spring-sale",
        "pre_sale",
        "valid_from: 2027-03-01\nvalid_until: 2027-03-31\n",
        "## Spring sale terms\nBoots will be 30% off.",
    ),
    "en/returns.md": store_article(
        "returns",
        "after_sale",
        "",
        "## Returning sale items\nSale items you send back are refunded at the sale price you paid, within 30 days "
        "of delivery.",
    ),
}


@pytest.mark.parametrize(
    ("message", "dated", "offered"),
    [
        ("is the summer sale still on? any discount now?", "June 30, 2026", True),
        ("when does the spring sale start? any discount now?", "March 1, 2027", True),
        ("sending back pants bought in the summer sale: refunded at the sale price i paid?", "June 30, 2026", False),
    ],
)
def test_the_running_promotion_is_offered_unless_an_after_sale_article_answers(
    tmp_path: Path, message: str, dated: str, offered: bool
) -> None:
    root = write_articles(tmp_path / "articles", SEASONS)
    kb = KnowledgeBase.build(root, tmp_path / "index", encoders={"dense": HashingEncoder(64)})
    s = kb.suggest(message, filters=TODAY)
    text = s.drafts[0].text
    assert dated in text and "25%" not in text and "30%" not in text  # out of their dates: no terms
    assert ("10% off" in text and "winter-sale#winter-sale-terms" in s.drafts[0].citations) is offered
    assert traced(kb, s)


def test_the_chinese_ended_wording_gives_the_start_date_when_the_quoted_sentence_gives_the_end(
    demo: KnowledgeBase,
) -> None:
    s = demo.suggest("双十一活动是几号到几号的？", filters=TODAY)
    text = s.drafts[0].text
    assert "2025年11月1日" in text and "2025年11月11日" in text and "8.5折" not in text
    assert traced(demo, s)
