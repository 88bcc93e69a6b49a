"""Facts the customer states about their own case."""

from __future__ import annotations

from datetime import date

import pytest

from kbsuggest.text.situation import condition_stages, durations, read_hour, read_situation


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


TODAY = date(2026, 12, 1)  # a Tuesday


@pytest.mark.parametrize(
    ("message", "days", "business"),
    [
        ("refund email is dated November 9 and my card still shows nothing", 22, 16),
        ("you issued my refund last Friday", 4, 2),
        ("the refund went out on the 28th of November", 3, 2),
        ("ordered on March 3", 273, 195),
        ("bought my trailpulse in January 2025", 685, 489),
        ("11月10号申请的退款，到现在还没到账", 21, 15),
        ("10号下单的，还没发货", 21, 15),  # the 10th is still to come this month: last month's
        ("退款是上周五发起的", 4, 2),
        ("物流从上周三到现在一直没更新", 6, 4),
        ("placed it about 2 hours ago", 2 / 24, 2 / 24),
        ("物流今天早上开始就没动了", 0, 0),
    ],
)
def test_dates_are_counted_to_today(message: str, days: float, business: float) -> None:
    situation = read_situation(message, TODAY)
    assert situation.days == pytest.approx(days) and situation.business_days == pytest.approx(business)


@pytest.mark.parametrize(
    ("message", "days"),
    [
        ("will it arrive by Dec 5?", None),  # a date to come
        ("双十二12月12日结束吗", None),
        ("order A1048321, size 10", None),
        ("marked 3 days ago", 3),  # "marked" is no March
        ("I decided 2 weeks ago", 14),
        ("住在3号楼", None),
        ("买了3个月了", 90),  # "3个月" is three months, "3月" would be March
        ("3月份买的", 261),
    ],
)
def test_dates_to_come_and_non_dates_are_not_elapsed_time(message: str, days: float | None) -> None:
    assert read_situation(message, TODAY).days == days
    assert read_situation("ordered on March 3").days is None  # without today no date is read


@pytest.mark.parametrize(
    ("message", "stages"),
    [
        ("my order status is still Processing", (0, 0)),
        ("status says Packed and the ZIP is wrong", (1, 1)),
        ("it shipped on Friday", (2, 3)),
        ("shipped on monday but hasn't arrived", (2, 2)),
        ("I cancelled it an hour after placing it (it never shipped)", (0, 1)),
        ("tracking said delivered but I never got it", (3, 3)),
        ("订单还在处理中", (0, 0)),
        ("订单已打包了", (1, 1)),
        ("快递已经发出了", (2, 3)),
        ("还没发货呢", (0, 1)),
        ("物流显示已签收", (3, 3)),
        ("银行卡还没收到钱", None),
        ("how long does shipping take", None),
    ],
)
def test_order_states_as_a_range(message: str, stages: tuple[int, int] | None) -> None:
    assert read_situation(message).stages == stages


def test_chinese_clock_times_in_words() -> None:
    assert [read_hour(t) for t in ("今天下午三点付的款", "早上九点半付的款", "10:15 this morning", "5:30 pm")] == [
        15,
        9.5,
        10.25,
        17.5,
    ]


@pytest.mark.parametrize(
    ("heading", "stages"),
    [
        ("Changing the address before shipping", (0, 1)),
        ("Changing the address after shipping", (2, 3)),
        ("If the order has already shipped", (2, 3)),
        ("Parcel shows delivered but didn't arrive", (3, 3)),
        ("发货前修改地址", (0, 1)),
        ("发货后修改地址", (2, 3)),
        ("订单已经发货", (2, 3)),
        ("显示已签收但没收到", (3, 3)),
        ("A wrong or incomplete address", None),
        ("地址填写错误或不完整", None),
    ],
)
def test_a_heading_states_the_order_states_it_is_about(heading: str, stages: tuple[int, int] | None) -> None:
    assert condition_stages(heading) == stages


def test_durations_read_years_and_whole_words_only() -> None:
    assert [days for days, _ in durations("1 year for apparel, 2 years for electronics, 两年")] == [365, 730, 730]
    assert durations("a seam that delaminates") == []  # "a" + "min" inside a word is no minute
    assert durations("2026年11月") == []  # a year, not 2026 years
    assert read_situation("seam peeling after 14 months").days == 420


@pytest.mark.parametrize(
    ("message", "event"),
    [
        ("apple pay button doesnt work", None),
        ("the promo code doesn't work at checkout", None),
        ("checkout page is broken", None),
        ("my watch doesnt work anymore", "damaged"),
        ("zipper is broken on my jacket", "damaged"),
        ("头灯坏了", "damaged"),
    ],
)
def test_a_fault_of_the_website_or_app_is_no_damaged_item(message: str, event: str | None) -> None:
    assert read_situation(message).event == event
