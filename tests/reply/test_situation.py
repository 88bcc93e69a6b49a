"""Facts the customer states about their own case."""

from __future__ import annotations

import pytest

from kbsuggest.reply.situation import read_hour, read_situation


@pytest.mark.parametrize(
    ("message", "days", "business"),
    [
        ("refund email says you issued it on Nov 10 and STILL nothing. thats 3 weeks!!", 21, 15),
        ("Refund was 'issued' 10 business days ago", 14, 10),
        ("got the refund email 2 days ago", 2, 2 * 5 / 7),
        ("退款发起都两周了还没到账", 14, 10),
        ("亲 退款都10个工作日了还没到", 14, 10),
        ("退款昨天显示已发起", 1, 1),
    ],
)
def test_elapsed_time_in_calendar_and_business_days(message: str, days: float, business: float) -> None:
    situation = read_situation(message)
    assert situation.days == pytest.approx(days) and situation.business_days == pytest.approx(business)


@pytest.mark.parametrize(
    ("message", "measures"),
    [
        ("does the M fit someone 175cm?", {"height": 175}),
        ("182cm, chest 105cm. which size", {"height": 182, "chest": 105}),
        ("身高182 胸围105 冲锋衣穿什么码", {"height": 182, "chest": 105}),
        ("我172，但是胸围104，选M还是L？", {"height": 172, "chest": 104}),
        ("女生 163 胸围88 打底衣穿什么码呀", {"height": 163, "chest": 88}),  # 163 is no chest
        ("im 193cm with a 88cm waist", {"height": 193, "waist": 88}),
        ("need cascade pants, measured 84 round the waist and 100 at the hips", {"waist": 84, "hip": 100}),
        ("my foot measures 26.2 cm heel to toe", {"foot": 26.2}),
        ("I wear EU 43 in trainers", {"eu": 43}),
        ("order A2231907 was 120 dollars, 30% off", {}),
    ],
)
def test_measurements_go_to_the_body_part_named_beside_them(message: str, measures: dict[str, float]) -> None:
    assert read_situation(message).measures == measures


def test_amounts_and_clock_times() -> None:
    assert read_situation("cart is $58 before the 20% comes off").amounts == (58.0,)
    assert read_situation("买了¥650的东西").amounts == (650.0,)
    assert [read_hour(t) for t in ("order at 4pm eastern", "10am ET", "下午4点付款", "at 16:30", "3 weeks ago")] == [
        16,
        10,
        16,
        16.5,
        None,
    ]
