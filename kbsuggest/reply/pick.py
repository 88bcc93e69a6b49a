"""The sentences of a section that answer this customer: the branch whose condition their situation meets
("If fewer than 7 business days have passed" vs "After 7 business days", "While the status is Processing" vs
"Once an order has shipped"), the table row that fits their measurements or their amount ("满¥300" / "满¥600"),
the side of a table cell they meet ("Free on orders over $49" of "..., otherwise $5.95"), and table rows
rendered as sentences. Every sentence returned is a sentence of the section, a clause of one, or a rendering of
one of its rows (`renderings`), so `trace` can check a draft against its cited sections."""

from __future__ import annotations

import itertools
import re
from collections.abc import Set
from dataclasses import dataclass
from functools import lru_cache

from kbsuggest.retrieval.snippet import best_sentences, sentences
from kbsuggest.text.situation import Situation, condition_holds, decide
from kbsuggest.text.tokenize import tokenize

_SPANS: tuple[tuple[re.Pattern[str], float | None], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), upper)
    for pattern, upper in (
        (r"\ba day or two\b|一两天", 2.0),
        (r"\b\d+\s*(?:[-–—]|to|or)\s*(\d+)\s*((?:business |working )?)days?\b", None),
        (r"\d+\s*[-–—~到至]\s*(\d+)\s*(个工作日|天)", None),
    )
)
"""A span of time a sentence states without a condition ("Tracking can pause for a day or two", "3–5 business
days"): its upper end in calendar days, or None when the match gives it (group 1) and its unit (group 2)."""
_CHANGE_OF_MIND = re.compile(r"change-of-mind|无理由退货", re.IGNORECASE)
"""The kind of return that a fault is not: its fee is the other branch for a customer reporting one."""
FAULTS = ("damaged", "wrong_item")
"""Events (`situation.EVENTS`) that make a return a fault, not a change of mind."""
_OTHERWISE = re.compile(r",\s*otherwise\s+|，\s*否则")
"""Inside a table cell, between what applies when its condition holds and what applies when it does not."""
_LOWER = re.compile(r"under|below|less than|不足|未满", re.IGNORECASE)
"""A tier keyed by an upper limit ("under $50"): the strictest met is the smallest limit, not the largest."""
_OPENS_WITH_CONDITION = re.compile(r"^(?:亲，)?(?:if|after|once|while|orders placed|如果|若|超过)", re.IGNORECASE)
_REFERS_BACK = re.compile(
    r"^(?:亲，)?(?:(?:this|that|these|those|it|they)\b(?!\s+(?:is|are)\s+(?:why|how|where)\b)|这(?!里)|此|上述|以上)"
    r"|^(?:亲，)?(?:(?:or|and|but|otherwise|either way|instead)\b|或者|否则|但|不过)"
    r"|\bthan (?:that|this)\b|\b(?:that|this|the same) (?:date|day|time|period|amount)\b|(?:该|那个|这个)(?:日期|时间)",
    re.IGNORECASE,
)
"""A sentence that leans on the one before it: "It costs $39", "This is a temporary hold", "later than that",
"since that date", "这次退货按…", and one that continues it ("Or accept it and ...", "Either way, ...", "否则…")."""
_EXAMPLE = re.compile(r"^(?:亲，)?(?:example|for example|e\.g\.|例如|比如|举个例子)", re.IGNORECASE)
"""A worked example ("Example: 175 cm tall with a 96 cm chest is an M"): not quoted once the customer's own
measurements found their row."""
_KIND = re.compile(r"(?:\btype|\bcategory|\bkind|\boption|\bmethod|\bchannel|类型|类别|种类|方式|渠道)$", re.IGNORECASE)
"""A header that only says its cells are kinds of something ("Product type", "Option", "配送方式"): "Size M" needs
its header, "Electronics (headlamp, ...)" does not ("Product type Electronics")."""
_ITEM = re.compile(r"^\s*[-*•]\s")
_CLAUSE = re.compile(r"(?<=[，；;])")
_PART = re.compile(r"(?<=[；;])\s*")
_LEAD = re.compile(r"^[^:：]*[:：]\s*")
_ROW = re.compile(r"^[^:;\n]+: [^;\n]+(?:; [^:;\n]+: [^;\n]+)+$")
_RANGE = re.compile(r"^(\d+(?:\.\d+)?)\s*[-–—~]\s*(\d+(?:\.\d+)?)$")
_UNIT = re.compile(r"\s*\((cm|kg|mm|in)\)$|\s+(cm|kg|mm|in)$", re.IGNORECASE)
DIMENSIONS: dict[str, tuple[str, ...]] = {  # measure -> words naming its table column; most decisive first
    "chest": ("chest", "胸围"),
    "waist": ("waist", "腰围"),
    "foot": ("foot length", "脚长"),
    "eu": ("eu ", "欧码"),
    "us": ("us ", "美码"),
    "hip": ("hip", "臀围"),
    "height": ("height", "身高"),
}


@dataclass(frozen=True)
class Fit:
    """The table row the customer's measurement falls in: the row's first cell, and the measurement."""

    size: str
    size_header: str
    measure: str
    value: float


@dataclass(frozen=True)
class Picked:
    sentences: tuple[str, ...]
    fit: Fit | None = None


def cells(row: str) -> list[tuple[str, str]] | None:
    """(header, value) pairs of a table row as the splitter writes it ('Size: M; Height (cm): 170–178'), or None."""
    if not _ROW.match(row):
        return None
    return [(h.strip(), v.strip()) for h, _, v in (cell.partition(": ") for cell in row.split("; "))]


def cell_sides(value: str) -> tuple[str, str] | None:
    """The two sides of a cell that states a condition and what applies otherwise ("Free on orders over $49,
    otherwise $5.95" -> "Free on orders over $49", "$5.95"), or None."""
    first, *other = _OTHERWISE.split(value, maxsplit=1)
    return (first, other[0]) if other else None


def _decided(value: str, situation: Situation | None) -> str:
    """A conditional cell cut to its condition when the customer meets it ("Free on orders over $49" for a $62
    cart); whole otherwise, since the threshold tells a $45 cart what would make it free."""
    sides = cell_sides(value)
    if sides is not None and situation is not None and condition_holds(sides[0], situation):
        return sides[0]
    return value


def renderings(row: str, language: str) -> set[str]:
    """Every way `render_row` can render `row`: whole, and with conditional cells cut to their condition."""
    pairs = cells(row)
    if pairs is None:
        return {row}
    options = [(v, sides[0]) if (sides := cell_sides(v)) else (v,) for _, v in pairs]
    headers = [h for h, _ in pairs]
    return {_render(list(zip(headers, values, strict=True)), language) for values in itertools.product(*options)}


def render_row(row: str, language: str, situation: Situation | None = None) -> str:
    """A table row as a sentence, in the header names and units of the table: 'Size M: height 170–178 cm,
    chest 94–102 cm and sleeve length 63 cm.', 'Electronics (headlamp, GPS watch): warranty period 2 years and
    covers ...' (a first cell under a header that only says it is a kind goes without it); a two-column row whose
    first cell is a label: 'label: value.'
    With a `situation` that meets a cell's condition, the cell says only that ("cost Free on orders over $49")."""
    pairs = cells(row)
    if pairs is None:
        return row
    return _render([(h, _decided(v, situation)) for h, v in pairs], language)


def _render(pairs: list[tuple[str, str]], language: str) -> str:
    (first_header, first), rest = pairs[0], pairs[1:]
    zh = language == "zh"
    space = "" if zh else " "

    def part(header: str, value: str) -> str:
        unit = _UNIT.search(header)
        name = header[: unit.start()] if unit else header
        if not zh and name[1:2].islower():  # "Height" -> "height", but "EU size" stays
            name = name[:1].lower() + name[1:]
        glue = "为" if zh and not re.match(r"[\d¥$]", value) else space  # "保修范围为制造缺陷", "保修期2年"
        return f"{name}{glue}{value}" + (f"{space}{unit.group(1) or unit.group(2)}" if unit else "")

    if len(rest) == 1 and not _number_like(first):
        return f"{first}：{rest[0][1]}。" if zh else f"{first}: {rest[0][1]}."
    head = first if _KIND.search(first_header) else f"{first_header}{space}{first}"
    items = [part(h, v) for h, v in rest]
    if zh:
        return f"{head}：{'，'.join(items)}。"
    listed = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return f"{head}: {listed}."


def _number_like(text: str) -> bool:
    return bool(re.fullmatch(r"[\dA-Z.\s–-]{1,8}", text))


def _fits(value: str, measure: str, wanted: float, values: list[float]) -> bool:
    span = _RANGE.match(value)
    if span:
        return float(span.group(1)) <= wanted <= float(span.group(2))
    try:
        number = float(value)
    except ValueError:
        return False
    if measure == "foot":  # the size whose foot length is equal to or just above the customer's
        above = [v for v in values if v >= wanted]
        return bool(above) and number == min(above)
    return number == wanted


def fitting_row(rows: list[str], situation: Situation) -> tuple[str, Fit] | None:
    """The row of a size table the customer's most decisive measurement falls in."""
    tables = [cells(r) or [] for r in rows]
    headers = [h.casefold() + " " for h, _ in tables[0]]
    for measure, words in DIMENSIONS.items():
        wanted = situation.measures.get(measure)
        column = next((i for i, h in enumerate(headers) if any(w in h for w in words)), None)
        if wanted is None or column is None or (column == 0 and measure not in ("eu", "us")):
            continue
        numbers = [_float(t[column][1]) for t in tables if len(t) > column]
        for row, table in zip(rows, tables, strict=True):
            if len(table) > column and _fits(table[column][1], measure, wanted, [n for n in numbers if n is not None]):
                return row, Fit(table[0][1], table[0][0], measure, wanted)
    return None


def has_fitting_row(text: str, situation: Situation) -> bool:
    """True when `text` holds a size table with a row the customer's measurements fall in."""
    rows = [u for u in sentences(text) if cells(u) is not None]
    return bool(rows) and fitting_row(rows, situation) is not None


def situation_decides(text: str, situation: Situation) -> bool:
    """True when the customer's facts decide something section `text` states: a condition (a sentence or a
    table row), or the size-table row they fit."""
    if not situation.known:
        return False
    units = sentences(text)
    if any(condition_holds(u, situation) is not None for u in units):
        return True
    rows = [u for u in units if cells(u) is not None]
    return bool(rows) and (fitting_row(rows, situation) is not None or tier_row(rows, situation) is not None)


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _named_rows(rows: list[str], message_tokens: Set[str]) -> list[str]:
    """The rows whose first cell names what the message names (size "M", mode "Medium", "登山鞋" in
    "服装与鞋类（冲锋衣、裤子、打底衣、登山鞋）"), when not every row does. Words, not single characters, and
    only words of at most half the rows' first cells ("客服" in most rows of a channel table names none)."""
    keys = [_key_words(row) for row in rows]
    common = {w for w in set().union(*keys) if 2 * sum(w in k for k in keys) > len(keys)} if keys else set()
    named = [row for row, words in zip(rows, keys, strict=True) if (words - common) & message_tokens]
    return named if len(named) < len(rows) else []


@lru_cache(maxsize=4096)
def _key_words(row: str) -> frozenset[str]:
    """The words (not single characters) of a row's first cell, and its `size:` token."""
    key = (cells(row) or [("", "")])[0][1]
    return frozenset({t for t in tokenize(key) if len(t) > 1} | {f"size:{key}"})


def tier_row(rows: list[str], situation: Situation) -> tuple[str, list[str]] | None:
    """In a table whose rows are keyed by a condition ("满¥300" / "满¥600", "over $100"), the row the
    customer's situation meets with the strictest limit, and the rows it fails; None when no row is decided."""
    decided = [(row, decide((cells(row) or [("", "")])[0][1], situation)) for row in rows]
    met = [(row, verdict.limit) for row, verdict in decided if verdict is not None and verdict.holds]
    failed = [row for row, verdict in decided if verdict is not None and not verdict.holds]
    if not met:
        return None
    upward = not _LOWER.search((cells(met[0][0]) or [("", "")])[0][1])
    best = max(met, key=lambda item: item[1] if upward else -item[1])[0]
    return best, failed + [row for row, _ in met if row != best]


def pick(text: str, message_tokens: Set[str], situation: Situation, language: str, limit: int = 3) -> Picked:
    """The units of section `text` to quote for this customer, rows rendered, in text order."""
    units = sentences(text)
    rows = [u for u in units if cells(u) is not None]
    chosen = set(best_sentences(text, message_tokens, limit))
    # Topped up with the section's first other units (not table rows): a question sharing few words with the
    # section ("what can't be returned") still gets its core, not one sentence.
    chosen |= set([u for u in units if u not in chosen and u not in rows][: max(0, limit - len(chosen))])
    fit = None
    found = fitting_row(rows, situation) if rows and situation.measures else None
    named = _named_rows(rows, message_tokens)
    tier = tier_row(rows, situation) if rows and situation.amounts else None
    if found is not None or named:
        if found is not None:
            fit = found[1]
        keep = [found[0]] if found is not None else named
        # one unit a line, so no two merge; with the customer's own row found, a worked example would only distract
        prose = "\n".join(u for u in units if u not in rows and not (found is not None and _EXAMPLE.match(u)))
        chosen = {*keep, *best_sentences(prose, message_tokens, max(1, limit - len(keep)))} if prose else set(keep)
    elif tier is not None:  # and no sentence stating a tier the amount fails ("例如…满¥600减¥100" to ¥450)
        failed = {u for u in units if u not in rows and condition_holds(u, situation) is False}
        chosen = (chosen | {tier[0]}) - set(tier[1]) - failed
    elif not situation.amounts:  # an amount short of every tier keeps to the nearest ("现在才¥280": 满¥300)
        chosen = whole_tables(units, set(rows), chosen)
    chosen = with_table(units, set(rows), whole_lists(units, chosen))
    if situation.known:
        chosen = _branches(text, units, chosen, situation)
    if situation.event in FAULTS:  # "if the thing arrived damaged": not the change-of-mind fee
        chosen = {u for u in chosen if not _CHANGE_OF_MIND.search(u)} or chosen
    chosen = with_antecedents(units, chosen)
    out = [render_row(u, language, situation) if u in rows else _holding_clauses(u, situation) for u in units]
    kept = [u in chosen for u in units]
    start = 0
    for run in semicolon_runs(units):  # a shared sentence cut to the part about what the message names
        start = units.index(run[0], start)
        end = start + len(run)
        cut = _named_parts("".join(out[start:end]) if all(kept[start:end]) else "", message_tokens, language)
        if cut:
            out[start:end], kept[start:end] = [cut] + [""] * (len(run) - 1), [True] + [False] * (len(run) - 1)
        start = end
    return Picked(tuple(u for u, keep in zip(out, kept, strict=True) if keep), fit)


def with_antecedents(units: list[str], chosen: Set[str]) -> set[str]:
    """`chosen` with the unit before each chosen one that refers back to it ("It costs $39" needs the product's
    name, "If your order is later than that" the delivery times), repeatedly: a reference may lean on another."""
    out = set(chosen)
    for i in range(len(units) - 1, 0, -1):
        if units[i] in out and _REFERS_BACK.search(units[i].strip()) and not is_item(units[i]):
            out.add(units[i - 1])
    return out


def is_item(unit: str) -> bool:
    """True for an item of a bulleted list ("- PayPal, including ...")."""
    return _ITEM.match(unit) is not None


def is_lead_in(unit: str) -> bool:
    """True for a unit that introduces what follows it ("We accept:", "Before you do:")."""
    return unit.rstrip().endswith((":", "："))


def whole_lists(units: list[str], chosen: Set[str]) -> set[str]:
    """`chosen` with every bulleted list (with the lead-in right before it, if any) quoted whole when any part of
    it is: "We accept:" says nothing without its items, and some items alone read as the whole list ("We accept:
    PayPal", three of the five things that can't be returned). A situation's branches are read afterwards, so an
    item whose condition the customer fails still goes."""
    out = set(chosen)
    start = 0
    while start < len(units):
        end = start + 1 if is_lead_in(units[start]) and not is_item(units[start]) else start
        end += sum(1 for _ in itertools.takewhile(is_item, units[end:]))
        run = units[start:end] if any(is_item(u) for u in units[start:end]) else []
        if any(u in chosen for u in run):
            out.update(run)
        start = max(end, start + 1)
    return out


def whole_tables(units: list[str], rows: Set[str], chosen: Set[str]) -> set[str]:
    """`chosen` with every row of each table any of whose rows is chosen: when the customer's facts pick no row, the
    rows are the options ("how long does delivery take": Standard and Express), and one alone reads as the only
    one."""
    out = set(chosen)
    for is_row, run in itertools.groupby(units, key=lambda u: u in rows):
        table = list(run)
        if is_row and out & set(table):
            out.update(table)
    return out


def with_table(units: list[str], rows: Set[str], chosen: Set[str]) -> set[str]:
    """`chosen` with the rows of each table whose lead-in is chosen and none of its rows: "全场商品参与满减："
    says nothing without its tiers; and each chosen lead-in with the numbered steps it introduces, and those steps
    with it ("check these common causes:" and "1. The code has expired ...\n2. ...")."""
    out = set(chosen)
    for i, unit in enumerate(units[:-1]):
        if not is_lead_in(unit):
            continue
        if unit in chosen and units[i + 1] in rows:
            table = list(itertools.takewhile(lambda u: u in rows, units[i + 1 :]))
            if not out & set(table):
                out.update(table)
        elif "\n" in units[i + 1] and {unit, units[i + 1]} & chosen:
            out.update((unit, units[i + 1]))
    return out


def semicolon_runs(units: list[str]) -> list[list[str]]:
    """Runs of units that are one sentence cut at its semicolons ("…选大一码；", "…选小一码；", "…选大半码。"), and
    single units holding a semicolon ("On the TrailPulse ...; on the Lumen 400 ...")."""
    runs: list[list[str]] = []
    current: list[str] = []
    for unit in units:
        current.append(unit)
        if not unit.rstrip().endswith((";", "；")):
            if len(current) > 1 or _PART.search(unit.rstrip()[:-1]):
                runs.append(current)
            current = []
    return runs


def shared_parts(unit: str) -> tuple[str, list[str]] | None:
    """A sentence whose parts, split at semicolons, say the same thing of different items ("On the TrailPulse it
    is ...; on the Lumen 400 it is ...", "手表的序列号…；头灯的序列号…"): its lead-in up to a colon ("" without one),
    and each part as a sentence of its own; None for a list, a sentence of one part, or parts that are not
    parallel (opening with the same word, or each with its own subject: "it isn't offered ..." continues)."""
    if "\n" in unit:
        return None
    lead = _LEAD.match(unit)
    if lead is not None and _PART.search(lead.group(0)):
        lead = None  # a colon after the first semicolon belongs to a part
    head = lead.group(0) if lead is not None else ""
    parts = [p for p in _PART.split(unit[len(head) :]) if p.strip()]
    if len(parts) < 2:
        return None
    openings = {p.split()[0].casefold() for p in parts}
    if len(openings) > 1 and not all(p.casefold().startswith(_subject(p) or "\0") for p in parts):
        return None
    return head.strip(), [_sentence(p) for p in parts]


def _sentence(part: str) -> str:
    """A part of a sentence as a sentence of its own: capitalised, ending in a full stop."""
    part = part.strip()
    if part[-1] in ";；":
        part = part[:-1] + ("。" if part[-1] == "；" else ".")
    return part[:1].upper() + part[1:]


def _subject(part: str) -> str | None:
    return next((t for t in tokenize(part) if len(t) > 1), None)


def _named_parts(unit: str, message_tokens: Set[str], language: str) -> str | None:
    """A shared sentence (`shared_parts`) cut to the parts whose subject (first word) the message names ("where's
    the serial on the trailpulse"), when it names some but not all; None otherwise."""
    split = shared_parts(unit) if unit else None
    if split is None:
        return None
    head, parts = split
    subjects = [_subject(p) for p in parts]
    if None in subjects or len(set(subjects)) < len(subjects):
        return None
    named = [p for p, subject in zip(parts, subjects, strict=True) if subject in message_tokens]
    if not named or len(named) == len(parts):
        return None
    joiner = "" if language == "zh" else " "
    return joiner.join([head, *named] if head else named)


def clauses(unit: str) -> list[str]:
    """The clauses of a sentence, split after '，', '；' and ';' (each keeps its punctuation)."""
    return [c for c in _CLAUSE.split(unit) if c]


def _holding_clauses(unit: str, situation: Situation) -> str:
    """A sentence that states both branches ("14:00前付款的订单当天发货，14:00以后付款的订单第二天发货") without
    the clauses whose condition the situation fails; other sentences unchanged."""
    parts = clauses(unit)
    verdicts = [condition_holds(c, situation) for c in parts]
    if True not in verdicts or False not in verdicts:
        return unit
    return "".join(c for c, v in zip(parts, verdicts, strict=True) if v is not False)


def _waited_past(unit: str, situation: Situation) -> bool:
    """True when `unit` states a span of time ("can pause for a day or two", "一两天") the customer has already
    waited past: in a section with a branch for those past a limit, the span is the other branch."""
    waited = []  # (the span's upper end, how long the customer has waited in its unit)
    for pattern, upper in _SPANS:
        for match in pattern.finditer(unit):
            business = upper is None and match.group(2).strip() in ("business", "working", "个工作日")
            known = situation.business_days if business else situation.days
            waited.append((upper if upper is not None else float(match.group(1)), known))
    return bool(waited) and all(known is not None and known > upper for upper, known in waited)


def _branches(text: str, units: list[str], chosen: set[str], situation: Situation) -> set[str]:
    """`chosen` with the branches the situation meets added and the branches it fails removed; a branch is a
    sentence stating a condition and the unconditional sentences after it in its paragraph. When the section
    states no branch the customer meets, only a sentence that opens with its condition ("If your tracking
    hasn't updated for 3 business days, ...") is a branch ("we reply within 2 business days" is a promise), and
    not when it opens the section: the rest would not make sense alone."""
    decided = [None if cells(u) else decide(u, situation) for u in units]
    verdicts = [None if v is None else v.holds for v in decided]
    if any(v is not None and v.beyond for v in decided):
        chosen = {u for u in chosen if not _waited_past(u, situation)}
    if True not in verdicts:
        if verdicts and verdicts[0] is not None:
            return chosen
        verdicts = [
            v if v is None or _OPENS_WITH_CONDITION.match(u) else None for u, v in zip(units, verdicts, strict=True)
        ]
    if False not in verdicts and True not in verdicts:
        return chosen
    out = set(chosen)
    current: bool | None = None
    position = 0
    for unit, verdict in zip(units, verdicts, strict=True):
        start = text.find(unit, position)
        if start < 0 or "\n" in text[position:start]:
            current = None  # a new paragraph ends the branch
        position = max(position, start + len(unit))
        if verdict is not None:
            current = verdict
        if current is True:
            out.add(unit)
        elif current is False:
            out.discard(unit)
    return out or chosen
