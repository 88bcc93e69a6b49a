"""What the customer says about their own case, read from the message: how long they have waited, how much
they spent, their measurements. Pure and deterministic; nothing here is a fact about the store."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

WEEK_DAYS = 7
BUSINESS_PER_WEEK = 5
_ZH_NUMBER = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_NUM = r"(\d+(?:\.\d+)?|[一两二三四五六七八九十]+|a|an|one|two|three|four|five|six)"
_EN_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_DURATION = re.compile(
    _NUM + r"\s*(?:个)?\s*(business days?|working days?|工作日|days?|天|weeks?|wks?|周|星期|个?礼拜|months?|个?月)",
    re.IGNORECASE,
)
_YESTERDAY = re.compile(r"\byesterday\b|昨天", re.IGNORECASE)
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
    r"(上午|中午|下午|晚上|傍晚)?\s*(?<![\d.:])(\d{1,2})(?:[:：](\d\d)|点)?\s*(am|pm|a\.m\.|p\.m\.)?(?![\d.%])",
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


@dataclass(frozen=True)
class Situation:
    business_days: float | None = None  # elapsed time, in business days (calendar days count 5 in 7)
    days: float | None = None  # elapsed time, in calendar days
    amounts: tuple[float, ...] = ()
    event: str | None = None  # the first of EVENTS the message reports
    hour: float | None = None  # a clock time the customer gives ("4pm", "下午4点"), 0-24
    measures: dict[str, float] = field(default_factory=dict)
    """'height', 'chest', 'waist', 'hip', 'foot' in cm; 'eu', 'us': shoe sizes."""

    @property
    def known(self) -> bool:
        return self.days is not None or self.hour is not None or bool(self.amounts) or bool(self.measures)


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


def _elapsed(message: str) -> tuple[float, float] | None:
    """(calendar days, business days) of the longest duration the message states, or None."""
    best: tuple[float, float] | None = None
    for value, unit in _DURATION.findall(message):
        n, unit = _number(value), unit.lower()
        if unit.startswith(("business", "working", "工作")):
            days = (n * WEEK_DAYS / BUSINESS_PER_WEEK, n)
        elif unit.startswith(("week", "wk", "周", "星期")) or "礼拜" in unit:
            days = (n * WEEK_DAYS, n * BUSINESS_PER_WEEK)
        elif unit.startswith("month") or unit.endswith("月"):
            days = (n * 30, n * 30 * BUSINESS_PER_WEEK / WEEK_DAYS)
        else:
            days = (n, n * BUSINESS_PER_WEEK / WEEK_DAYS)
        if best is None or days[0] > best[0]:
            best = days
    if best is None and _YESTERDAY.search(message):
        best = (1.0, 1.0)
    return best


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
    """The first clock time in `text` as hours since midnight: "4pm", "10am", "16:30", "下午4点"."""
    match = next((m for m in _CLOCK.finditer(text) if m.group(3) or m.group(4) or "点" in m.group(0)), None)
    if match is None:
        return None
    when, hour, minute, half = match.group(1) or "", int(match.group(2)), int(match.group(3) or 0), match.group(4)
    afternoon = (half or "").lower() == "pm" or when in ("下午", "晚上", "傍晚")
    if afternoon and hour < 12:
        hour += 12
    return hour + minute / 60


def read_situation(message: str) -> Situation:
    elapsed = _elapsed(message)
    amounts = tuple(float((a or b).replace(",", "")) for a, b in _AMOUNT.findall(message))
    return Situation(
        days=elapsed[0] if elapsed else None,
        business_days=elapsed[1] if elapsed else None,
        amounts=amounts,
        hour=read_hour(message),
        event=next((name for name, pattern in EVENTS if pattern.search(message)), None),
        measures=_measures(message),
    )
