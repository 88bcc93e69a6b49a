"""What the customer says about their own case, read from the message: how long they have waited (a duration,
or a date counted to `today`), how much they spent, where their order is, their measurements. Pure and
deterministic; nothing here is a fact about the store."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import NamedTuple

WEEK_DAYS = 7
BUSINESS_PER_WEEK = 5
_ZH_NUMBER = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_NUM = r"(\d+(?:\.\d+)?|[一两二三四五六七八九十]+|a|an|one|two|three|four|five|six)"
_EN_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_DURATION = re.compile(
    r"(?<![a-z])" + _NUM + r"\s*(?:个)?\s*(business days?|working days?|工作日|days?|天|weeks?|wks?|周|星期|个?礼拜"
    r"|months?|(?<=个)月|years?|年(?![\d一二三四五六七八九十]+月)|hours?|hrs?|小时|minutes?|mins?|分钟)(?![a-z])",
    re.IGNORECASE,
)
"""A duration, its number and unit whole words: "delaminates" states no minute."""
_YESTERDAY = re.compile(r"\byesterday\b|昨天", re.IGNORECASE)
_JUST_NOW = re.compile(r"\bthis morning\b|\bjust now\b|今天早上|今早|今天上午|刚刚|刚才", re.IGNORECASE)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?"
    r"|nov(?:ember)?|dec(?:ember)?)\b\.?"
)
"""A month's name or its abbreviation, whole: "marked 3" and "decided 2" name no month."""
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ZH_WEEKDAYS = "一二三四五六日"
_DATES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        ("month_day", r"\b" + _MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s*((?:19|20)\d\d)\b)?"),
        ("day_month", r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"(?:\s*,?\s*((?:19|20)\d\d)\b)?"),
        ("month_year", r"\b" + _MONTH + r"\s+((?:19|20)\d\d)\b"),
        ("zh_date", r"(?:((?:19|20)\d\d)年)?(\d{1,2})月(\d{1,2})[日号]"),
        ("zh_day", r"(?<![\d月])(\d{1,2})号(?![楼线码鞋])"),
        ("zh_month", r"(?:((?:19|20)\d\d)年)?(?<![\d个])(\d{1,2})月(?:份)?(?![\d个])"),
        ("last_weekday", r"\b(?:last|on|this past)\s+(mon|tues|wednes|thurs|fri|satur|sun)day\b"),
        ("zh_last_week", r"上(?:个)?(?:周|星期|礼拜)([一二三四五六日天])"),
    )
)
"""A date the customer names, each read by `_date`."""
_AHEAD = timedelta(days=183)
"""A date without a year up to this far ahead is a date to come ("arrives by Dec 5"), not last year's."""
_MID_MONTH = 15
"""The day a month named without one counts from ("bought it in January 2025")."""
_MAX_YEARS = 100
"""A number of years at least this large is a year ("2026年"), not a duration."""
STATES = ("processing", "packed", "shipped", "delivered")
"""Where an order is, in the order it gets there; a situation holds the range of these it can be in."""
_STATE_WORDS: tuple[tuple[tuple[int, int], re.Pattern[str]], ...] = tuple(
    (stages, re.compile(pattern, re.IGNORECASE))
    for stages, pattern in (
        ((3, 3), r"\bdelivered\b|\barrived\b|已签收|签收了|显示签收|收到了|收到货"),
        ((2, 3), r"\bshipped\b|\bin transit\b|\bon its way\b|已发货|发货了|已经发出|已发出|发出了|快递已经"),
        ((1, 1), r"\bpacked\b|已打包|打包了"),
        ((0, 0), r"\bprocessing\b|处理中"),
        ((0, 1), r"未发货|没发货|没有发货"),
    )
)
STAGE_CONDITIONS: tuple[tuple[re.Pattern[str], tuple[int, int]], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), stages)
    for pattern, stages in (
        (r"while (?:its|the|the order's) status is processing|while the order is in processing", (0, 0)),
        (r'处理中"?(?:状态)?时', (0, 0)),
        (r'(?:if|once) the order is already packed|已经是"?已打包', (1, 1)),
        (r'status moves to packed|once the order is packed|变为"?已打包|进入"?已打包"?状态后', (1, 3)),
        (r"(?:once|if) (?:an|the|your) (?:order|parcel) has (?:already )?(?:shipped|left)", (2, 3)),
        (r"has left our warehouse|包裹发出后|已经发出的订单|已发货的订单", (2, 3)),
        (r"hasn't shipped yet|发货前|还没发货|未发货", (0, 1)),
        (r"\bbefore (?:it |the order |your order )?(?:ships|shipping|shipped)\b", (0, 1)),
        (
            r"\b(?:after|once) (?:it |the order |your order )?(?:ships|shipping|shipped)\b|has already shipped"
            r"|发货后|已经发货|订单已发货",
            (2, 3),
        ),
        (r"\bshows delivered\b|显示已签收", (3, 3)),
    )
)
"""Conditions on where the order is (STATES positions, first and last), as a section heading or a sentence
states them ("Changing the address after shipping", "While the status is Processing"); most specific first."""
_NEGATION = re.compile(r"(?:n'?t|\bnot|\bnever|没有?|未|还没)\s*(?:yet\s+|been\s+)?$", re.IGNORECASE)
"""Before a state word, a denial: "hasn't shipped", "还没收到" place the order before that state."""
_AMOUNT = re.compile(
    r"(?:[$¥￥]\s*(\d+(?:,\d{3})*(?:\.\d+)?))|(?<![\d.])(\d+(?:\.\d+)?)\s*(?:元|块|dollars|usd)", re.IGNORECASE
)
_MEASURE_WORDS: dict[str, tuple[str, ...]] = {
    "chest": ("chest", "胸围", "胸"),
    "waist": ("waist", "腰围", "腰"),
    "hip": ("hip", "臀围", "臀"),
    "foot": ("foot", "feet", "脚长", "脚"),
    "height": ("tall", "height", "身高", "i'm", "im", "i am", "我"),
}
_CM = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d)?)(?![\d.])(?:\s*(cm|厘米))?", re.IGNORECASE)
_SHOE = re.compile(r"\b(EU|US)\s*(?:size\s*)?(\d{1,2}(?:\.5)?)\b", re.IGNORECASE)
_CLOCK = re.compile(
    r"(上午|中午|下午|晚上|傍晚|早上)?\s*(?<![\d.:])(\d{1,2}|[一两二三四五六七八九十]{1,3}(?=点))"
    r"(?:[:：](\d\d)|点半?)?\s*(am|pm|a\.m\.|p\.m\.)?(?![\d.%])",
    re.IGNORECASE,
)
MIN_HEIGHT, MAX_HEIGHT = 140, 220
PLAUSIBLE = {
    "chest": (60.0, 150.0),
    "waist": (50.0, 140.0),
    "hip": (60.0, 150.0),
    "foot": (18.0, 35.0),
    "height": (float(MIN_HEIGHT), float(MAX_HEIGHT)),
}
"""The cm values each body part can take: "163 胸围88" is a height and a chest, not a chest of 163."""
_WORD_NEAR = 20
"""A measurement belongs to the body part named within this many characters before or after it."""


EVENTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        (
            "charged_twice",
            r"charged (?:me )?twice|double[- ]charged|two charges|charged 2x|扣了?我?(?:两|2)次|重复扣款|多扣",
        ),
        (
            "damaged",
            r"damaged|broken|cracked|torn|defective|faulty|doesn'?t work|won'?t (?:charge|turn on|power)"
            r"|stopped working|破损|坏了|损坏|裂了|开胶|脱落|崩开|不能用|充不进电|开不了机",
        ),
        (
            "wrong_item",
            r"wrong (?:item|size|colou?r|product)|missing from|is missing|got the wrong|发错|少了一件|漏发|少发",
        ),
        (
            "late",
            r"still (?:no|not|nothing|waiting|hasn'?t)|haven'?t (?:received|got)|hasn'?t (?:arrived|come)|not arrived"
            r"|delayed|where(?:'s| is) my|late\b|还没到|还没收到|没到账|迟迟|延迟|太慢|还没发货|没动",
        ),
    )
)
"""What happened to the customer, most specific first: the acknowledgement a draft opens with names it."""
_SITE_FAULT = re.compile(
    r"\b(?:button|code|coupon|voucher|app|website|site|page|link|checkout|login|password|payment|card|cart)s?"
    r"(?:\s+\S+){0,2}?\s+(?:doesn'?t|does not|isn'?t|won'?t|is|stopped)\s*(?:work(?:ing)?|broken)\b",
    re.IGNORECASE,
)
"""A fault of the shop's website or app ("the apple pay button doesnt work", "checkout page is broken"): no
damaged item, so no "sorry about the faulty item"."""


@dataclass(frozen=True)
class Situation:
    business_days: float | None = None  # elapsed time, in business days (calendar days count 5 in 7)
    days: float | None = None  # elapsed time, in calendar days
    amounts: tuple[float, ...] = ()
    event: str | None = None  # the first of EVENTS the message reports
    hour: float | None = None  # a clock time the customer gives ("4pm", "下午4点"), 0-24
    measures: dict[str, float] = field(default_factory=dict)
    """'height', 'chest', 'waist', 'hip', 'foot' in cm; 'eu', 'us': shoe sizes."""
    stages: tuple[int, int] | None = None
    """The first and last of STATES the order can be in: "Packed" (1, 1), "shipped" (2, 3), "hasn't shipped"
    (0, 1); None when the message does not say."""

    @property
    def known(self) -> bool:
        return (
            self.days is not None
            or self.hour is not None
            or bool(self.amounts)
            or bool(self.measures)
            or self.stages is not None
        )


def _number(text: str) -> float:
    if text.lower() in _EN_WORDS:
        return _EN_WORDS[text.lower()]
    if text[0] in _ZH_NUMBER:
        if text == "十":
            return 10
        if "十" in text:
            tens, _, ones = text.partition("十")
            return _ZH_NUMBER.get(tens, 1) * 10 + _ZH_NUMBER.get(ones, 0)
        return _ZH_NUMBER.get(text, 0)
    return float(text)


def durations(text: str) -> list[tuple[float, float]]:
    """(calendar days, business days) of each duration `text` states: "3 weeks", "10 business days", "1 year",
    "7个工作日", "两个月"; a four-digit number of years is a year ("2026年"), not a duration."""
    found = []
    for value, unit in _DURATION.findall(text):
        n, unit = _number(value), unit.lower()
        if unit.startswith(("hour", "hr", "小时")):
            days = (n / 24, n / 24)
        elif unit.startswith(("min", "分钟")):
            days = (n / 1440, n / 1440)
        elif unit.startswith(("business", "working", "工作")):
            days = (n * WEEK_DAYS / BUSINESS_PER_WEEK, n)
        elif unit.startswith(("week", "wk", "周", "星期")) or "礼拜" in unit:
            days = (n * WEEK_DAYS, n * BUSINESS_PER_WEEK)
        elif unit.startswith("month") or unit.endswith("月"):
            days = (n * 30, n * 30 * BUSINESS_PER_WEEK / WEEK_DAYS)
        elif unit.startswith("year") or unit == "年":
            if n >= _MAX_YEARS:
                continue
            days = (n * 365, n * 365 * BUSINESS_PER_WEEK / WEEK_DAYS)
        else:
            days = (n, n * BUSINESS_PER_WEEK / WEEK_DAYS)
        found.append(days)
    return found


def _elapsed(message: str, today: date | None) -> tuple[float, float] | None:
    """(calendar days, business days) of the longest duration the message states, or since the earliest date
    it names (counted to `today`; without one, dates are not read), or None."""
    best: tuple[float, float] | None = None
    if today is not None:
        for day in _dates(message, today):
            if best is None or (today - day).days > best[0]:
                best = (float((today - day).days), float(_business_days(day, today)))
    for days in durations(message):
        if best is None or days[0] > best[0]:
            best = days
    if best is None and _YESTERDAY.search(message):
        best = (1.0, 1.0)
    if best is None and _JUST_NOW.search(message):
        best = (0.0, 0.0)
    return best


def _business_days(start: date, end: date) -> int:
    """Weekdays after `start`, up to and including `end`."""
    return sum((start + timedelta(days=n)).weekday() < BUSINESS_PER_WEEK for n in range(1, (end - start).days + 1))


def _dates(message: str, today: date) -> list[date]:
    """The past days the message names: "ordered on March 3", "Nov 28", "last Friday", "10号下单", "上周三"."""
    found = []
    for kind, pattern in _DATES:
        for match in pattern.finditer(message):
            day = _date(kind, match.groups(), today)
            if day is not None and day <= today:
                found.append(day)
    return found


def _date(kind: str, groups: tuple[str | None, ...], today: date) -> date | None:
    """The day one `_DATES` match names; a month and day without a year is the latest such day up to `today`."""
    if kind == "last_weekday":
        back = (today.weekday() - _WEEKDAYS.index(str(groups[0]).lower() + "day") - 1) % WEEK_DAYS + 1
        return today - timedelta(days=back)
    if kind == "zh_last_week":
        index = _ZH_WEEKDAYS.index("日" if groups[0] == "天" else str(groups[0]))
        return today - timedelta(days=today.weekday() + WEEK_DAYS - index)
    year: str | None
    if kind == "month_day":
        month, day, year = _MONTHS.index(str(groups[0]).lower()[:3]) + 1, int(str(groups[1])), groups[2]
    elif kind == "day_month":
        month, day, year = _MONTHS.index(str(groups[1]).lower()[:3]) + 1, int(str(groups[0])), groups[2]
    elif kind == "month_year":
        month, day, year = _MONTHS.index(str(groups[0]).lower()[:3]) + 1, _MID_MONTH, groups[1]
    elif kind == "zh_date":
        year, month, day = groups[0], int(str(groups[1])), int(str(groups[2]))
    elif kind == "zh_month":
        year, month, day = groups[0], int(str(groups[1])), _MID_MONTH
    else:  # zh_day: this month, or the last one when the day is still to come
        year, month, day = None, today.month, int(str(groups[0]))
        if day > today.day:
            month = month - 1 or 12
    try:
        found = date(int(year) if year else today.year, month, day)
    except ValueError:
        return None
    if year is None and found > today + _AHEAD:
        found = found.replace(year=found.year - 1)  # "Nov 28" written in January
    return found


def _stages(message: str) -> tuple[int, int] | None:
    """The range of STATES the message places the order in: the furthest state it reports, capped by the
    states it denies ("shipped yesterday but hasn't arrived": shipped, (2, 2))."""
    reached: tuple[int, int] | None = None
    cap: int | None = None
    for (low, high), pattern in _STATE_WORDS:
        for match in pattern.finditer(message):
            if _NEGATION.search(message[max(0, match.start() - 12) : match.start()]):
                cap = min(cap if cap is not None else low - 1, low - 1)
            elif reached is None or low > reached[0]:
                reached = (low, high)
    if cap is not None and cap < 0:
        cap = None
    if reached is None:
        return (0, cap) if cap is not None else None
    return (reached[0], max(reached[0], min(reached[1], cap if cap is not None else reached[1])))


def condition_stages(text: str) -> tuple[int, int] | None:
    """The order states a condition in `text` is about (`STAGE_CONDITIONS`), or None when it states none."""
    return next((stages for pattern, stages in STAGE_CONDITIONS if pattern.search(text)), None)


def _measures(message: str) -> dict[str, float]:
    """Body measurements in cm, each given to the nearest body-part word whose usual range holds it (a word
    before the number wins a tie); a number in the height range with no such word is a height."""
    text = message.lower()
    found: dict[str, float] = {}
    for match in _CM.finditer(text):
        value = float(match.group(1))
        if text[match.end() : match.end() + 1] in tuple("%$元块岁kg折"):
            continue
        window_before = text[max(0, match.start() - _WORD_NEAR) : match.start()]
        window_after = text[match.end() : match.end() + _WORD_NEAR]
        part = None
        nearest = _WORD_NEAR + 1
        for name, words in _MEASURE_WORDS.items():
            low, high = PLAUSIBLE[name]
            if name in found or not low <= value <= high:
                continue
            for word in words:
                before = window_before.rfind(word)
                distance = len(window_before) - before - len(word) if before >= 0 else _WORD_NEAR + 1
                after = window_after.find(word)
                if after >= 0 and after + 1 < distance:
                    distance = after + 1
                if distance < nearest:
                    part, nearest = name, distance
        if part is None and MIN_HEIGHT <= value <= MAX_HEIGHT and (match.group(2) or not found):
            part = "height"
        if part is not None and part not in found:
            found[part] = value
    for system, size in _SHOE.findall(message):
        found.setdefault(system.lower(), float(size))
    return found


def read_hour(text: str) -> float | None:
    """The first clock time in `text` as hours since midnight: "4pm", "10am", "16:30", "下午4点", "下午三点",
    "九点半"."""
    match = next((m for m in _CLOCK.finditer(text) if m.group(3) or m.group(4) or "点" in m.group(0)), None)
    if match is None:
        return None
    when, hour, half = match.group(1) or "", int(_number(match.group(2))), match.group(4)
    minute = 30 if match.group(0).endswith("点半") else int(match.group(3) or 0)
    afternoon = (half or "").lower() == "pm" or when in ("下午", "晚上", "傍晚")
    if afternoon and hour < 12:
        hour += 12
    return hour + minute / 60


def read_situation(message: str, today: date | None = None) -> Situation:
    """The customer's facts; dates ("ordered on March 3", "上周五") are read only with `today`."""
    elapsed = _elapsed(message, today)
    amounts = tuple(float((a or b).replace(",", "")) for a, b in _AMOUNT.findall(message))
    return Situation(
        days=elapsed[0] if elapsed else None,
        business_days=elapsed[1] if elapsed else None,
        amounts=amounts,
        hour=read_hour(message),
        event=next(
            (
                name
                for name, pattern in EVENTS
                if pattern.search(message) and not (name == "damaged" and _SITE_FAULT.search(message))
            ),
            None,
        ),
        measures=_measures(message),
        stages=_stages(message),
    )


_DAYS = r"(\d+)\s*(business |working )?days?"
_CONDITIONS: tuple[tuple[re.Pattern[str], str, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), quantity, op)
    for pattern, quantity, op in (
        (r"(?:fewer|less) than " + _DAYS, "days", "lt"),
        (r"within " + _DAYS, "days", "le"),
        (r"(?:after|more than|over|longer than) (?:the first )?" + _DAYS, "days", "gt"),
        (r"(?:hasn't|has not|haven't|have not) \w+ for " + _DAYS, "days", "ge"),
        (r"until the end of the (next) (business )?day", "days", "le"),
        (r"(?:没|未|不)超过\s*(\d+)\s*(个工作日)", "days", "le"),
        (r"超过[^\d，。；]{0,4}?(\d+)\s*(个工作日|天)", "days", "gt"),
        (r"(\d+)\s*(个工作日|天)(?:之内|以内|内)", "days", "le"),
        (r"before (\d{1,2})\s*(am|pm)", "hour", "lt"),
        (r"after (\d{1,2})\s*(am|pm)", "hour", "ge"),
        (r"(\d{1,2}):00()\s*(?:前|之前|以前)", "hour", "lt"),
        (r"(\d{1,2}):00()\s*(?:后|之后|以后)", "hour", "ge"),
        (r"(?:over|more than|above) \$(\d+)()", "amount", "gt"),
        (r"\$(\d+)() or more", "amount", "ge"),
        (r"(?:under|below|less than) \$(\d+)()", "amount", "lt"),
        (r"满\s*[¥￥]?(\d+)()", "amount", "ge"),
        (r"(?:不足|未满)\s*[¥￥]?(\d+)()", "amount", "lt"),
    )
)


class Verdict(NamedTuple):
    """Whether the customer meets a condition, and its limit; `beyond` when the condition is on being past a
    limit of elapsed time and the customer is ("hasn't updated for 3 business days" to a customer waiting 6)."""

    holds: bool
    limit: float
    beyond: bool = False


def stage_verdict(condition: tuple[int, int] | None, known: tuple[int, int] | None) -> bool | None:
    """Whether an order known to be in states `known` (first and last of STATES) is in those a condition is about:
    True when every known state is, False when none is, None when either is unknown or only some are."""
    if condition is None or known is None:
        return None
    (low, high), (first, last) = condition, known
    if low <= first and last <= high:
        return True
    return False if last < low or first > high else None


def decide(unit: str, situation: Situation) -> Verdict | None:
    """Whether the customer's situation meets the condition `unit` states, and the condition's limit (a
    number of days, an hour, an amount, or the order stage): a `Verdict`; None when it states none the
    situation decides."""
    condition = condition_stages(unit) if situation.stages is not None else None
    held = stage_verdict(condition, situation.stages)
    if condition is not None and held is not None:
        return Verdict(held, float(condition[0]))
    for pattern, quantity, op in _CONDITIONS:
        match = pattern.search(unit)
        if match is None:
            continue
        limit = 1.0 if match.group(1) == "next" else float(match.group(1))
        if quantity == "days":
            business = bool(match.group(2)) and "天" not in match.group(2)
            known = situation.business_days if business else situation.days
        elif quantity == "hour":
            known = situation.hour
            limit += 12 if match.group(2).lower() == "pm" and limit < 12 else 0
        else:
            known = situation.amounts[-1] if situation.amounts else None
        if known is None:
            continue
        holds = {"lt": known < limit, "le": known <= limit, "gt": known > limit, "ge": known >= limit}[op]
        return Verdict(holds, limit, quantity == "days" and op in ("gt", "ge") and holds)
    return None


def states_condition(unit: str) -> bool:
    """Whether `unit` states a condition `decide` reads (on time, hour, amount or order state)."""
    return condition_stages(unit) is not None or any(p.search(unit) for p, _, _ in _CONDITIONS)


def condition_holds(unit: str, situation: Situation) -> bool | None:
    """Whether the customer's situation meets the condition `unit` states; None when it states none the
    situation can decide."""
    verdict = decide(unit, situation)
    return verdict.holds if verdict is not None else None
