from __future__ import annotations

import pytest

from kbsuggest.analysis import analyse


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
    assert analyse("order A1048321 and again A1048321, also 2024112233").order_ids == ("A1048321", "2024112233")
