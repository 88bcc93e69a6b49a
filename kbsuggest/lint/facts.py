"""Facts stated with numbers (return window, refund times, shipping fees...) and the ones that disagree.

A fact kind is a row of `KINDS`: trigger words in English and Chinese, the units its values come in, and
which sentences it leaves alone. In a sentence, each trigger binds to the nearest number with one of those
units, at most `WINDOW` characters away; a number bound by several triggers takes the nearest one's kind.
Facts of one kind, language and unit ('day', 'business-day', 'month', 'USD', 'CNY') should all agree.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from kbsuggest.lint.models import Finding, Location
from kbsuggest.lint.text import Document

WINDOW = 60
"""How far, in characters, a trigger reaches for its number: about ten English words."""


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True)
class FactKind:
    name: str
    units: frozenset[str]
    triggers: re.Pattern[str]
    before: re.Pattern[str] | None = None  # must match the text just before the number: 'over $49', '满¥99'
    only: re.Pattern[str] | None = None  # the sentence must mention this...
    skip: re.Pattern[str] | None = None  # ...and must not mention this


_DAYS = frozenset({"day"})
_WORKDAYS = frozenset({"business-day", "day"})
_MONTHS = frozenset({"month"})
_CURRENCIES = frozenset({"USD", "CNY"})
_WARRANTY = _re(r"warrant|guarantee|保修|质保")
_APPAREL = r"apparel|footwear|clothing|jacket|boots?\b|pants|服装|鞋|冲锋衣|裤"
_ELECTRONICS = r"electronic|headlamp|watch|power bank|电子|头灯|手表|充电宝"
_ABROAD = r"international|abroad|overseas|国际|海外|境外"

KINDS: tuple[FactKind, ...] = (
    FactKind("return window", frozenset({"day", "month"}), _re(r"\breturn(?:s|ed)?\b|退货|退换")),
    FactKind(
        "refund issue time", _WORKDAYS, _re(r"\brefunds? (?:is |are )?issued|\bissues? (?:the |your )?refund|发起退款")
    ),
    FactKind("refund arrival time", _WORKDAYS, _re(r"\bbanks?\b|到账")),
    FactKind(
        "price-protection period",
        _DAYS,
        _re(r"price protection|price adjustment|\bdrop(?:s|ped)?\b|价保|价格保护|降价|售价下降|差价"),
    ),
    FactKind(
        "damaged-item report window",
        _DAYS,
        _re(r"\breport(?:ed)?\b|反馈"),
        skip=_re(r"delivered|tracking|\blost\b|物流|丢"),
    ),
    FactKind("apparel warranty", _MONTHS, _WARRANTY, only=_re(_APPAREL), skip=_re(_ELECTRONICS)),
    FactKind("electronics warranty", _MONTHS, _WARRANTY, only=_re(_ELECTRONICS), skip=_re(_APPAREL)),
    FactKind("warranty", _MONTHS, _WARRANTY, skip=_re(f"{_APPAREL}|{_ELECTRONICS}")),
    FactKind(
        "free-shipping threshold",
        _CURRENCIES,
        _re(r"free (?:standard )?shipping|ships? free|shipping is free|free on orders|包邮"),
        before=_re(r"(?:over|above|at least|满)\s*$"),
        skip=_re(_ABROAD),
    ),
    FactKind(
        "standard shipping fee",
        _CURRENCIES,
        _re(r"\bstandard\b|\botherwise\b|标准快递|否则"),
        before=_re(r"(?:otherwise|costs?|pays?|fee of|运费)\s*$"),
        skip=_re(rf"express|{_ABROAD}|顺丰|次日达"),
    ),
    FactKind("return label fee", _CURRENCIES, _re(r"return (?:label|shipping) fee|上门取件运费")),
)

_UNITS = {  # regex group: (pattern, unit, factor)
    "workdays": (r"(?:business|working) days?\b|个?工作日", "business-day", 1),
    "days": (r"days?\b|天", "day", 1),
    "weeks": (r"weeks?\b|周|个?星期", "day", 7),
    "months": (r"months?\b|个月", "month", 1),
    "years": (r"years?\b|年(?!\d)", "month", 12),  # not '2025年11月'
}
_DASH = r"\s*(?:-|–|—|~|～|to|至|到)\s*"
_DURATION = _re(  # at most three digits: four are a year
    rf"(?<![\d.,])(?P<low>\d{{1,3}})(?:{_DASH}(?P<high>\d{{1,3}}))?(?:\s*|-)"
    rf"(?:{'|'.join(f'(?P<{group}>{pattern})' for group, (pattern, _, _) in _UNITS.items())})"
)
_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
_MONEY = _re(
    rf"(?P<symbol>US\$|\$|USD ?|¥|￥|CNY ?|RMB ?)(?P<amount>{_NUMBER})"
    rf"|(?P<amount_first>{_NUMBER}) ?(?P<word>USD|CNY|RMB|元|美元|dollars?\b)"
)
_CURRENCY = {"$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "美元": "USD"}
_COMPARED = _re(r"(?:(?:more|fewer|less|longer) than|\bafter(?: the first)?|\bover|超过|超出|不到|不足|多于|少于)\s*$")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[。！？]")


class Fact(BaseModel):
    """A number an article states for a kind of fact: ('return window', 30-30 'day', '30 days', where)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    language: str
    low: float
    high: float
    unit: str
    text: str
    path: str
    line: int


@dataclass(frozen=True)
class _Quantity:
    start: int
    end: int
    low: float
    high: float
    unit: str


def extract_facts(document: Document) -> list[Fact]:
    """Every fact `KINDS` recognises in the article, in order."""
    facts = []
    for passage in document.passages:
        for offset, sentence in _sentences(passage.text):
            for kind, q in _bind(sentence):
                facts.append(
                    Fact(
                        kind=kind.name,
                        language=document.language,
                        low=q.low,
                        high=q.high,
                        unit=q.unit,
                        text=sentence[q.start : q.end],
                        path=document.path,
                        line=passage.line_at(offset + q.start),
                    )
                )
    return facts


def conflicting_facts(documents: Sequence[Document]) -> list[Finding]:
    """An error at every fact whose value differs from its kind's usual one (the most stated; ties: the first)."""
    groups: dict[tuple[str, str, str], list[Fact]] = defaultdict(list)
    for document in documents:
        for fact in extract_facts(document):
            groups[(fact.kind, fact.language, fact.unit)].append(fact)
    findings: list[Finding] = []
    for facts in groups.values():
        counts = Counter((f.low, f.high) for f in facts)
        usual = max(counts, key=counts.__getitem__)
        reference = next(f for f in facts if (f.low, f.high) == usual)
        others = counts[usual] - 1
        more = f" and {others} other place{'s' * (others > 1)}" if others else ""
        findings.extend(
            Finding(
                severity="error",
                kind="conflicting-fact",
                path=fact.path,
                line=fact.line,
                message=f"{fact.kind} is '{fact.text}' here but '{reference.text}' in "
                f"{reference.path}:{reference.line}{more}",
                fix=f"state the same {fact.kind} everywhere, or reword it if these are different things",
                related=(Location(path=reference.path, line=reference.line),),
            )
            for fact in facts
            if (fact.low, fact.high) != usual
        )
    return findings


def _sentences(text: str) -> Iterator[tuple[int, str]]:
    """(offset, sentence) pairs. Table rows keep their '; ' between cells, so a row stays one sentence."""
    start = 0
    for end in _SENTENCE_END.finditer(text):
        yield start, text[start : end.end()]
        start = end.end()
    if text[start:].strip():
        yield start, text[start:]


def _bind(sentence: str) -> list[tuple[FactKind, _Quantity]]:
    quantities = _quantities(sentence)
    claims: dict[_Quantity, tuple[int, FactKind]] = {}
    for kind in KINDS:
        if (kind.only and not kind.only.search(sentence)) or (kind.skip and kind.skip.search(sentence)):
            continue
        eligible = [
            q
            for q in quantities
            if q.unit in kind.units and (kind.before is None or kind.before.search(sentence[: q.start]))
        ]
        for trigger in kind.triggers.finditer(sentence):
            gaps = [(max(q.start - trigger.end(), trigger.start() - q.end, 0), q) for q in eligible]
            if not gaps:
                break
            gap, nearest = min(gaps, key=lambda pair: pair[0])
            if gap <= WINDOW and (nearest not in claims or gap < claims[nearest][0]):
                claims[nearest] = (gap, kind)
    return sorted(((kind, q) for q, (_, kind) in claims.items()), key=lambda pair: pair[1].start)


def _quantities(sentence: str) -> list[_Quantity]:
    found = []
    for m in _DURATION.finditer(sentence):
        if _COMPARED.search(sentence[: m.start()]):
            continue  # 'more than 30 days', '超过7个工作日': a limit, not the fact itself
        _, unit, factor = _UNITS[str(m.lastgroup)]
        low = float(m["low"]) * factor
        high = float(m["high"]) * factor if m["high"] else low
        found.append(_Quantity(m.start(), m.end(), low, high, unit))
    for m in _MONEY.finditer(sentence):
        currency = _CURRENCY.get((m["symbol"] or m["word"]).strip().lower(), "CNY")  # ¥, ￥, 元, CNY, RMB
        amount = float((m["amount"] or m["amount_first"]).replace(",", ""))
        found.append(_Quantity(m.start(), m.end(), amount, amount, currency))
    return found
