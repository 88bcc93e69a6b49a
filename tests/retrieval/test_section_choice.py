"""Section choice inside an answered article reads the conditions headings and sentences state against the
customer's case, in English and Chinese, with the tiny deterministic encoder and a real index."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from kbsuggest import Filters, KnowledgeBase
from kbsuggest.retrieval.section_choice import (
    FEATURES,
    WEIGHTS,
    Case,
    Heading,
    SectionWeights,
    choose,
    excluded,
    features,
    ranked,
    read_case,
    read_heading,
)
from kbsuggest.text.situation import read_situation
from tests.conftest import HASHING, write_articles

ADDRESS = """---
id: address
---
# Changing the delivery address

## Changing the address before shipping

You can change the delivery address of an order that is still Processing or Packed: open your orders and edit
the address, or send us the new address by chat.

## Changing the address after shipping

Ask the carrier to redirect the parcel with its intercept service; we can no longer edit the address.

## A wrong or incomplete address

If the address has a typo or is missing an apartment number, send us the corrected address by chat.
"""

ADDRESS_ZH = """---
id: address-zh
locale: zh-CN
---
# 修改收货地址

## 发货前修改地址

订单在处理中或已打包时，可以在订单详情里修改收货地址，也可以联系客服修改地址。

## 发货后修改地址

包裹已经发出，我们无法再修改地址，请联系快递公司转寄。

## 地址填写错误或不完整

地址写错了或者缺少门牌号，请联系客服提供正确的地址。
"""

EXCHANGES = """---
id: exchanges
---
# Exchanges

## Free size exchange

Each order gets one free size exchange within 30 days: if the size doesn't fit, we send the new size for free.

## A second exchange on the same order

The free exchange is used once per order. If the new size still doesn't fit, return it for a refund and order
again.
"""

EXCHANGES_ZH = """---
id: exchanges-zh
locale: zh-CN
---
# 换货说明

## 免费换尺码

签收后30天内，尺码不合适可以免费换一次尺码，来回运费我们承担。

## 第二次换货

每个订单只能免费换一次尺码。如果换回来的尺码还是不合适，请申请退货后重新下单。
"""

PRICE = """---
id: price
---
# Price protection

## How price protection works

If the price of an item drops within 14 days after you bought it, we refund the difference.

## What price protection doesn't cover

Price drops more than 14 days after your purchase, flash sales and prices at other stores are not covered.
"""

PRICE_ZH = """---
id: price-zh
locale: zh-CN
---
# 价格保护

## 价格保护规则

购买后14天内商品降价，我们退还差价。

## 不参与价保的情况

超过14天的降价、秒杀商品和其他平台的价格不参与价保。
"""

TODAY = date(2026, 12, 1)


def case_of(message: str) -> Case:
    return read_case(message, read_situation(message, TODAY))


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    tmp = tmp_path_factory.mktemp("sections")
    files = {
        "address.md": ADDRESS,
        "exchanges.md": EXCHANGES,
        "price.md": PRICE,
        "zh/address-zh.md": ADDRESS_ZH,
        "zh/exchanges-zh.md": EXCHANGES_ZH,
        "zh/price-zh.md": PRICE_ZH,
    }
    return KnowledgeBase.build(write_articles(tmp / "articles", files), tmp / "ix", settings=HASHING)


def section(kb: KnowledgeBase, message: str, article: str) -> str:
    """The section the article `article` is answered with."""
    answers = kb.search(message, k=3, filters=Filters(today=TODAY))
    return next(a.section_id for a in answers if a.article_id == article)


@pytest.mark.parametrize(
    ("message", "article", "expected"),
    [
        (
            "it shipped yesterday, can you change the delivery address?",
            "address",
            "changing-the-address-after-shipping",
        ),
        (
            "order still says Processing and I made a typo, the address is missing my apartment number",
            "address",
            "changing-the-address-before-shipping",
        ),
        ("地址缺少门牌号 订单还在处理中", "address-zh", "发货前修改地址"),
        ("订单显示已打包 地址写错了", "address-zh", "发货前修改地址"),
    ],
)
def test_a_heading_about_where_the_order_is_answers_a_customer_whose_order_is_there(
    kb: KnowledgeBase, message: str, article: str, expected: str
) -> None:
    assert section(kb, message, article) == f"{article}#{expected}"


OLD_BONUSES = SectionWeights(**dict.fromkeys(FEATURES, 0.0) | {"opening": 0.2, "repeat": 0.2, "measures": 0.5})
"""The hand-set rules before the fitted ones: a repeat message gave its opening and its repeat sections 0.2 each."""


def tied(kb: KnowledgeBase, article: str, message: str, weights: SectionWeights = WEIGHTS) -> str:
    """The section `choose` picks in `article` when every section has the same fused score: the rules alone."""
    sections = [s for s in kb.sections if s.article_id == article]
    position = choose(np.zeros(len(sections)), [read_heading(s) for s in sections], case_of(message), weights)
    return sections[position].anchor


@pytest.mark.parametrize(
    ("message", "article", "repeat", "opening"),
    [
        (
            "already used my free exchange and the new size STILL doesn't fit",
            "exchanges",
            "a-second-exchange-on-the-same-order",
            "free-size-exchange",
        ),
        ("已经换过一次码了 换回来的还是不合适", "exchanges-zh", "第二次换货", "免费换尺码"),
    ],
)
def test_a_repeat_section_wins_a_tie_for_a_message_about_a_repeat(
    kb: KnowledgeBase, message: str, article: str, repeat: str, opening: str
) -> None:
    assert tied(kb, article, message) == repeat
    assert tied(kb, article, message, OLD_BONUSES) == opening  # both had 0.2: the opening came first
    first = {"exchanges": "can I swap my jacket for a bigger size?", "exchanges-zh": "尺码不合适 能换大一号吗"}[article]
    assert tied(kb, article, first) == opening  # never the repeat section for a first exchange


@pytest.mark.parametrize(
    ("message", "article", "expected"),
    [
        ("bought it 5 days ago and now the price dropped, do you cover this?", "price", "how-price-protection-works"),
        ("买了5天 现在降价了 能退差价吗", "price-zh", "价格保护规则"),
    ],
)
def test_an_exception_section_loses_for_a_customer_within_the_openings_period(
    kb: KnowledgeBase, message: str, article: str, expected: str
) -> None:
    assert section(kb, message, article) == f"{article}#{expected}"
    headings = [read_heading(s) for s in kb.sections if s.article_id == article]
    row = features(headings, case_of(message))[1]  # the exception section
    assert row[FEATURES.index("within")] == 1.0


def test_features_say_which_condition_a_section_met(kb: KnowledgeBase) -> None:
    headings: list[Heading] = [read_heading(s) for s in kb.sections if s.article_id == "address"]
    case = case_of("my parcel shipped on Nov 28, can it go to my office?")
    assert list(features(headings, case)[:, FEATURES.index("state_met")]) == [0.0, 1.0, 0.0]
    assert list(excluded(headings, case)) == [True, False, False]


@pytest.mark.parametrize(
    ("message", "article", "after_shipping"),
    [
        ("I cancelled my order (it never shipped), can you change the address", "address", 1),
        ("没发货的订单 地址能改吗", "address-zh", 1),
    ],
)
def test_a_section_about_an_order_state_the_customer_denies_is_never_chosen(
    kb: KnowledgeBase, message: str, article: str, after_shipping: int
) -> None:
    """However far ahead its text scores: "never shipped" / "没发货" is no shipped order."""
    sections = [s for s in kb.sections if s.article_id == article]
    scores = np.zeros(len(sections))
    scores[after_shipping] = 6.0  # past every bonus of the section before shipping and the old -2.16
    headings = [read_heading(s) for s in sections]
    assert choose(scores, headings, case_of(message)) != after_shipping


def test_sections_are_ranked_best_first_without_the_excluded_and_an_all_excluded_article_keeps_its_first() -> None:
    assert ranked(np.array([1.0, -np.inf, 3.0, 2.0])) == [2, 3, 0]
    assert ranked(np.array([-np.inf, -np.inf])) == [0]
