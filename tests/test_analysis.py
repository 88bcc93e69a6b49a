from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbsuggest.analysis import analyse
from kbsuggest.privacy import redact


@pytest.mark.parametrize(
    ("message", "language", "sentiment", "angry", "urgency", "human"),
    [
        ("does the M fit someone 175cm?", "en", "neutral", False, "normal", False),
        ("where's my order A1048321, it's been 10 days!!", "en", "negative", False, "high", False),
        ("this is ridiculous, 3 weeks and still no refund!!", "en", "negative", True, "high", False),
        ("I want to talk to a human please", "en", "neutral", False, "normal", True),
        ("thanks, that worked great", "en", "positive", False, "normal", False),
        ("我的退款怎么还没到账？", "zh", "negative", False, "normal", False),
        ("转人工", "zh", "neutral", False, "normal", True),
        ("什么破服务，气死我了！！！马上给我退款", "zh", "negative", True, "high", False),
        ("亲，这个有优惠券吗", "zh", "neutral", False, "normal", False),
    ],
)
def test_analysis(message: str, language: str, sentiment: str, angry: bool, urgency: str, human: bool) -> None:
    a = analyse(message)
    assert (a.language, a.sentiment, a.angry, a.urgency, a.human_requested) == (
        language,
        sentiment,
        angry,
        urgency,
        human,
    )


def test_order_numbers_are_extracted_once() -> None:
    message = "order A1048321 and again A1048321, also order #2024112233 and 订单号 250112345678"
    assert analyse(message).order_ids == ("A1048321", "2024112233", "250112345678")


PERSONAL = {
    "card": "my card 4111111111111111 was charged twice, I want a human",
    "grouped card": "order number 5500-0000-0000-0004 charged twice",
    "IBAN": "refund to DE89370400440532013000 please, it's been 10 days",
    "CN mobile": "手机13800138000，订单还没到，转人工",
    "UK mobile": "call me on 07911 123456, order still missing",
    "UK landline": "my order is 020-7946-0958, ridiculous",
    "French mobile": "appelez 06 12 34 56 78, order A1048321 never came",
    "ID number": "身份证11010519491231002X，订单号A1048321退款",
    "bare US number": "TEXT ME AT 4155550142 URGENT!!",
    "passport": "passport E12345678 for customs, I want a human",
}


@pytest.mark.parametrize("message", PERSONAL.values(), ids=PERSONAL.keys())
def test_no_personal_number_becomes_an_order_id_or_a_cue(message: str) -> None:
    a = analyse(message)
    masked = redact(message)
    for number in re.findall(r"[0-9][0-9 \-]{6,}[0-9]", message):
        if number not in masked:  # the redactor masked it: nothing in the analysis may carry it
            assert number not in a.model_dump_json()
            assert re.sub(r"\D", "", number) not in re.sub(r"\D", "", a.model_dump_json())
    assert all(order in masked for order in a.order_ids)


def test_cues_ignore_placeholders_but_keep_real_shouting() -> None:
    assert analyse("card 4111111111111111 please").sentiment == "neutral"  # [CARD] is not shouting
    assert "URGENT" in analyse("TEXT ME AT 4155550142 URGENT").cues


FRAGMENTS = [
    "4111111111111111",
    "13800138000",
    "07911 123456",
    "DE89370400440532013000",
    "order #",
    "订单号",
    "A1048321",
    " ",
    "-",
    "1",
    "2024112233",
    "days",
    "!!",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)), max_size=10).map("".join))
def test_order_ids_are_what_redaction_keeps(message: str) -> None:
    """Every order id survives redaction unchanged, so it is never a number the redactor calls personal."""
    masked = redact(message)
    assert all(order in masked for order in analyse(message).order_ids)
