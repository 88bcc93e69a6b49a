"""Which sentences of a section a draft quotes, for this customer; table rows as sentences."""

from __future__ import annotations

import pytest

from kbsuggest.reply.pick import Picked, condition_holds, pick, render_row
from kbsuggest.reply.situation import read_situation
from kbsuggest.retrieval.snippet import measures
from kbsuggest.text.tokenize import normalize_query, tokenize

REFUND_LATE = (
    "First check the refund email: it shows the date we issued the refund and the amount. If fewer than 7 business "
    "days have passed since that date, the refund is still with your bank. After 7 business days, send us your order "
    "number (for example, A1048321) in chat. We'll give you the refund reference number (ARN) from our payment "
    "provider, which your bank can use to trace the money."
)
REFUND_LATE_ZH = (
    '亲，先在订单详情里看一下"退款已发起"的日期。如果发起退款后还没超过7个工作日，钱还在银行或支付渠道处理中，请再耐心等等。'
    "超过7个工作日仍未到账，请联系在线客服并提供订单号，我们会提供退款交易流水号。"
)
TOPS = (
    "Sizes are unisex; find your height and chest measurement.\n\n"
    "Size: S; Height (cm): 160–170; Chest (cm): 86–94; Sleeve length (cm): 61\n"
    "Size: M; Height (cm): 170–178; Chest (cm): 94–102; Sleeve length (cm): 63\n"
    "Size: L; Height (cm): 178–185; Chest (cm): 102–110; Sleeve length (cm): 65\n\n"
    "If height and chest point to different sizes, go by your chest."
)
BOOTS_ZH = (
    "量脚长选码。\n\n美码: 8; 欧码: 41; 脚长 cm: 25.8\n美码: 9; 欧码: 42; 脚长 cm: 26.7\n"
    "美码: 10; 欧码: 43; 脚长 cm: 27.5"
)


def picked(text: str, message: str, language: str = "en") -> Picked:
    query = normalize_query(message)
    return pick(text, frozenset(tokenize(query)) | measures(query), read_situation(message), language)


def test_three_weeks_gets_the_overdue_branch_not_the_waiting_one() -> None:
    said = " ".join(picked(REFUND_LATE, "this is ridiculous, 3 weeks and still no refund!!").sentences)
    assert "reference number" in said and "order number" in said and "still with your bank" not in said


def test_two_days_gets_the_waiting_branch_only() -> None:
    said = " ".join(picked(REFUND_LATE, "got the refund email 2 days ago, money isnt on my visa yet").sentences)
    assert "still with your bank" in said and "reference number" not in said


@pytest.mark.parametrize(
    ("message", "said", "not_said"),
    [("退款发起都两周了还没到账！！", "流水号", "耐心等等"), ("退款昨天显示已发起，怎么还没到", "耐心等等", "流水号")],
)
def test_chinese_branches(message: str, said: str, not_said: str) -> None:
    text = "".join(picked(REFUND_LATE_ZH, message, "zh").sentences)
    assert said in text and not_said not in text


def test_conditions_read_in_both_languages() -> None:
    late = read_situation("it has been 2 weeks")
    assert condition_holds("After 7 business days, send us your order number.", late) is True
    assert condition_holds("如果还没超过7个工作日，请再耐心等等。", late) is False
    assert condition_holds("Orders placed before 2 pm ship the same day.", read_situation("ordering at 4pm")) is False
    assert condition_holds("Free on orders over $49.", read_situation("my cart is $62")) is True
    assert condition_holds("We ship worldwide.", late) is None


def test_the_row_that_fits_is_rendered_as_a_sentence_and_the_others_left_out() -> None:
    result = picked(TOPS, "does the M fit someone 175cm?")
    assert "Size M: height 170–178 cm, chest 94–102 cm and sleeve length 63 cm." in result.sentences
    assert not any("160–170" in s or "178–185" in s or "Size: " in s for s in result.sentences)
    assert result.fit is not None and (result.fit.size, result.fit.measure, result.fit.value) == ("M", "height", 175)


def test_chest_decides_over_height() -> None:
    result = picked(TOPS, "im 172 cm but my chest is 104, M or L?")
    assert result.fit is not None and result.fit.size == "L"
    assert "Size L: height 178–185 cm, chest 102–110 cm and sleeve length 65 cm." in result.sentences


def test_foot_length_takes_the_size_just_above_in_chinese() -> None:
    result = picked(BOOTS_ZH, "脚长26.2厘米穿多大", "zh")
    assert "美码9：欧码42，脚长26.7cm。" in result.sentences and result.fit is not None


def test_row_rendering_keeps_units_and_header_names() -> None:
    assert render_row("US size: 9; EU size: 42; Foot length cm: 26.7", "en") == (
        "US size 9: EU size 42 and foot length 26.7 cm."
    )
    assert render_row("Step: Refund issued after inspection; How long it takes: within 2 business days", "en") == (
        "Refund issued after inspection: within 2 business days."
    )
    assert render_row("Not a row at all.", "en") == "Not a row at all."
