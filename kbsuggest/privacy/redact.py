"""Mask personal data in customer messages before they are logged, indexed or sent to a model.

Detected, in English and Chinese text (no spaces needed around numbers, full-width digits accepted):

- `email`: addresses like ``zhang.wei@163.com``.
- `phone`: mainland-China mobiles (``1[3-9]`` + 9 digits, optional ``+86``/``86``, spaces or dashes:
  ``138 0013 8000``) and landlines with an area code (``010-62345678``) by rules of their own; every other number
  is judged by the `phonenumbers` library (Google's libphonenumber metadata): after ``+`` any number of possible
  length for its country (``+44 20 7946 0958``; unassigned ranges too), after ``00`` a valid one
  (``0044 7911 123456``), otherwise a valid number of a `PHONE_REGIONS` region written with its trunk prefix and
  grouped as that region writes numbers (``07911 123456``, ``020 7946 0958``, ``06 12 34 56 78``,
  ``0412 345 678``, ``(415) 555-0142``, bare ``4155550142``; not ``0791 112 3456``, nor sizes ``34 36 38 40 42``).
  A run of digit groups is read as numbers only if each group of 3+ digits belongs to one, so a count or an hour
  beside a number stays (``+1 (646) 734-0162 3 times``) and no number is cut out of a tracking or card number.
  A text that would need more than `_PHONE_CHECKS` library checks (a wall of numbers, not a message) has its
  remaining phone-shaped candidates masked unchecked.
- `card`: 13-19 digits, unbroken or in blocks of 3-6 split by spaces, dots or dashes, that pass the Luhn check and
  start with a known card-network prefix for that length. A standalone Luhn-valid 16-digit number is masked
  whatever its prefix, so none survives redaction.
- `id_number`: mainland-China resident ID numbers, 18 characters (last may be X), with a known province code,
  a real calendar birth date (1900-2099) and a valid ISO 7064 MOD 11-2 check character; and a letter-prefixed
  code of 6+ digits after a passport or identity-card label ("passport E12345678", "HKID A123456(7)",
  "护照号", "身份证", "通行证"): it has the shape of an order code and would otherwise be read as one.
- `iban`: country code, check digits and the country's BBAN length, compact or in groups of four, passing mod-97.
- `order` (kept by default): a 1-3 letter prefix plus 6-12 digits (``A1048321``, carrier tracking prefixes such
  as SF/YT excluded), or any code of 6+ digits after "order #", "order number" or "订单号".

Precedence where candidates overlap: email, then the checksum kinds (IBAN, ID, card), then phone numbers written
with a +, brackets or separators, then an explicitly labelled order number ("订单号 13800138000" is the
customer's order, not a phone; "order 020-7946-0958" is a phone), then bare-digit phones, then a bare
letter-prefixed order number. Candidates touching other letters or digits are not phones, so codes such as
``A13800138000`` or tracking numbers like ``1Z999AA10123456784`` stay intact. Prices, dates, times, sizes and
short numbers are not phones. Redaction repeats on its own output until nothing new is found, so it is
idempotent.

Order numbers are the only values a caller may echo (`kbsuggest.analysis` takes a message's order ids from the
`order` spans here), so a number classified as anything else never becomes one.

Not detected, deliberately: names, street addresses, postcodes, 15-digit (pre-1999) ID numbers, all-digit or
unlabelled passport numbers, US social security numbers, national-format numbers of regions outside
`PHONE_REGIONS` and mainland China (``9123 4567`` in Hong Kong; written with ``+852`` they are found), country
codes without + or 00 (``447911123456``), numbers spelled out in words. Names and addresses need a trained NER
model; mask them elsewhere if required.

Measured with benchmarks/bench_redact.py on tests/data/pii_cases.jsonl (320 templated English/Chinese/French
customer messages, 329 labelled spans, exact span match, hard negatives included: prices, dates, times, sizes,
tracking and order numbers): precision and recall 1.00 for card (53), id_number (27), email (46), phone (111) and
iban (24); order precision 1.00, recall 0.97 (a number given a sentence after the "订单号" label is missed).
About 0.1-0.15 ms a message (was 0.05), most of it in `phonenumbers`. The cases were written alongside these rules,
so read the figures as a regression check, not as expected accuracy on real traffic.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator
from datetime import date
from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict

PiiKind = Literal["email", "phone", "card", "id_number", "iban", "order"]

PHONE_REGIONS: dict[str, str] = {"US": "", "GB": "0", "FR": "0", "AU": "0"}
"""Numbers written the national way (no + or 00) are phones when valid in one of these regions and written with
its trunk prefix ('07911 123456', not '7911 123456'); international ones in any country. Mainland China has rules
of its own. Left out: regions whose numbers are a bare 8 digits (HK, SG) and DE, where almost any digit group is
valid: they would mask order and reference numbers."""

PLACEHOLDERS: dict[PiiKind, str] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "card": "[CARD]",
    "id_number": "[ID_NUMBER]",
    "iban": "[IBAN]",
    "order": "[ORDER]",
}


class PiiSpan(BaseModel):
    """One masked stretch of the original text: `text[start:end]` was replaced by the kind's placeholder."""

    model_config = ConfigDict(frozen=True)

    kind: PiiKind
    start: int
    end: int


class Redaction(BaseModel):
    """`text` with the spans masked; `spans` in order, offsets into the original text, never the raw values."""

    model_config = ConfigDict(frozen=True)

    text: str
    spans: tuple[PiiSpan, ...]


# Full-width ASCII (U+FF01-FF5E), no-break and ideographic spaces scanned as their ASCII forms, one char for one.
_NORMALISE = {**{code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}, 0x00A0: 0x20, 0x3000: 0x20, 0x202F: 0x20}

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}"
    r"(?![A-Za-z0-9])"
)
_DIGIT_CHAIN = re.compile(r"(?<![0-9])[0-9]{3,19}(?:[ .\-][0-9]{3,19})*(?![0-9])")
_DIGIT_RUN = re.compile(r"[0-9]+")
_ID = re.compile(r"(?<![0-9])[1-9][0-9]{5} ?(?:19|20)[0-9]{6} ?[0-9]{3}[0-9Xx](?![0-9])")
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}")
_CN_MOBILE = re.compile(r"(?<![0-9A-Za-z+])(?:\+?86[ \-]?)?1[3-9][0-9](?:[ \-]?[0-9]{4}){2}(?![0-9A-Za-z])")
_PHONE_CHAIN = re.compile(r"(?<![0-9A-Za-z+])\+?\(?[0-9][0-9()\-. ]*")
_PHONE_SEPARATOR = re.compile(r"\)?[ .\-]?\(?")
_MAX_PHONE_GROUPS = 6
"""The most digit groups one number is written in ('+33 6 12 34 56 78'): bounds the work on a long run."""
_PHONE_CHECKS = 100
"""Library checks (~0.1 ms each) per text. A customer's message needs a few; one that needs more is a wall of
numbers, where every candidate of a phone number's shape is masked unchecked: bounded work, nothing leaks."""
_CN_LANDLINE = re.compile(
    r"(?<![0-9A-Za-z])(?:\(0[1-9][0-9]{1,2}\) ?|0[1-9][0-9]{1,2}[ \-])[2-9][0-9]{6,7}(?![0-9A-Za-z])"
)
_ORDER_CODE = re.compile(r"(?<![0-9A-Za-z])([A-Z]{1,3})[0-9]{6,12}(?![0-9A-Za-z])")
_ORDER_LABEL = re.compile(
    r"(?:(?<![A-Za-z])(?i:order)(?:\s*(?i:number|num|no\.?|id|ref))?(?:\s+(?i:is|was))?"
    r"|订单(?:号码|编号|号)?(?:\s*(?:是|为))?)"
    r"\s*[:#]?\s*#?\s*([A-Za-z0-9][A-Za-z0-9\-]{4,}[A-Za-z0-9])(?![A-Za-z0-9])"
)

_ID_LABEL = re.compile(
    r"(?:(?<![A-Za-z])(?i:passport|hkid|id card|identity card|national id)(?:\s*(?i:number|num|no\.?))?"
    r"(?:\s+(?i:is|was))?|(?:护照|通行证|身份证|证件)(?:号码|号)?(?:\s*(?:是|为))?)"
    r"\s*[:#]?\s*#?\s*([A-Za-z]{1,3}[0-9][A-Za-z0-9\-]{3,}[A-Za-z0-9](?:\([0-9A]\))?)(?![A-Za-z0-9])"
)
_CARRIER_PREFIXES = frozenset({"SF", "YT", "JT", "ZTO", "STO", "YD", "EMS", "DPK", "YZ"})
_PROVINCES = frozenset(
    {
        *(str(n) for n in (*range(11, 16), 21, 22, 23, *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66))),
        "71",
        "81",
        "82",
        "91",
    }
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_IBAN_LENGTHS = {
    **dict.fromkeys(["NO"], 15),
    **dict.fromkeys(["BE"], 16),
    **dict.fromkeys(["DK", "FI", "FO", "GL", "NL"], 18),
    **dict.fromkeys(["MK", "SI"], 19),
    **dict.fromkeys(["AT", "BA", "EE", "KZ", "LT", "LU", "XK"], 20),
    **dict.fromkeys(["CH", "HR", "LI", "LV"], 21),
    **dict.fromkeys(["BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA"], 22),
    **dict.fromkeys(["AE", "GI", "IL", "IQ", "TL"], 23),
    **dict.fromkeys(["AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG"], 24),
    **dict.fromkeys(["PT", "ST"], 25),
    **dict.fromkeys(["IS", "TR"], 26),
    **dict.fromkeys(["FR", "GR", "IT", "MC", "MR", "SM"], 27),
    **dict.fromkeys(["AL", "AZ", "BY", "CY", "DO", "GT", "HU", "LB", "PL", "SV"], 28),
    **dict.fromkeys(["BR", "EG", "PS", "QA", "UA"], 29),
    **dict.fromkeys(["JO", "KW", "MU"], 30),
    **dict.fromkeys(["MT", "SC"], 31),
    **dict.fromkeys(["LC"], 32),
}
# (first digits low, high, allowed lengths): Visa, Mastercard, Mir, Amex, Discover, UnionPay, JCB, Diners, Maestro.
_CARD_RANGES: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({13, 16, 19})),
    ("51", "55", frozenset({16})),
    ("2221", "2720", frozenset({16})),
    ("2200", "2204", frozenset({16})),
    ("34", "34", frozenset({15})),
    ("37", "37", frozenset({15})),
    ("6011", "6011", frozenset(range(16, 20))),
    ("644", "649", frozenset(range(16, 20))),
    ("65", "65", frozenset(range(16, 20))),
    ("62", "62", frozenset(range(16, 20))),
    ("3528", "3589", frozenset(range(16, 20))),
    ("300", "305", frozenset({14})),
    ("36", "36", frozenset({14})),
    ("38", "39", frozenset({14})),
    *((prefix, prefix, frozenset(range(13, 20))) for prefix in ("5018", "5020", "5038", "5893", "6304", "6759")),
    ("6761", "6763", frozenset(range(13, 20))),
)

_Candidate = tuple[PiiKind, int, int]


def luhn_valid(digits: str) -> bool:
    """True if the digit string passes the Luhn (mod 10) check used by payment cards."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char) * (2 if i % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _known_card_prefix(digits: str) -> bool:
    return any(len(digits) in lengths and low <= digits[: len(low)] <= high for low, high, lengths in _CARD_RANGES)


def id_number_valid(value: str) -> bool:
    """True for an 18-character mainland-China resident ID: province code, real birth date, MOD 11-2 check."""
    value = value.replace(" ", "").upper()
    if len(value) != 18 or not value[:17].isdigit() or value[:2] not in _PROVINCES:
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if not 1900 <= born.year <= 2099:
        return False
    return _ID_CHECK[sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True)) % 11] == value[17]


def iban_valid(value: str) -> bool:
    """True if the IBAN (spaces allowed) has its country's length and passes the ISO 13616 mod-97 check."""
    value = value.replace(" ", "").upper()
    if _IBAN_LENGTHS.get(value[:2]) != len(value) or not value.isascii() or not value.isalnum():
        return False
    if not value[2:4].isdigit():
        return False
    rearranged = value[4:] + value[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _emails(text: str) -> Iterator[_Candidate]:
    for match in _EMAIL.finditer(text):
        yield "email", match.start(), match.end()


def _cards(text: str) -> Iterator[_Candidate]:
    for chain in _DIGIT_CHAIN.finditer(text):
        groups = [(chain.start() + m.start(), chain.start() + m.end()) for m in _DIGIT_RUN.finditer(chain.group())]
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += text[groups[last][0] : groups[last][1]]
                # Grouped card numbers are written in blocks of 3-6 digits (4-4-4-4, 4-6-5, 4-4-4-4-3).
                grouped = last > first
                if len(digits) > 19 or (grouped and not all(3 <= b - a <= 6 for a, b in groups[first : last + 1])):
                    break
                whole_chain = first == 0 and last == len(groups) - 1
                if (
                    len(digits) >= 13
                    and luhn_valid(digits)
                    and (_known_card_prefix(digits) or (len(digits) == 16 and whole_chain))
                ):
                    yield "card", groups[first][0], groups[last][1]


def _id_numbers(text: str) -> Iterator[_Candidate]:
    for match in _ID.finditer(text):
        if id_number_valid(match.group()):
            yield "id_number", match.start(), match.end()


def _iban_end(text: str, pos: int, needed: int) -> int | None:
    """End of an IBAN body of `needed` characters from `pos`, compact or in space-separated groups of four."""

    def alnum(chunk: str) -> bool:
        return chunk.isascii() and chunk.isalnum()

    def boundary(end: int) -> bool:
        return end == len(text) or not alnum(text[end])

    if len(text) >= pos + needed and alnum(text[pos : pos + needed]) and boundary(pos + needed):
        return pos + needed
    got = 0
    while got < needed:
        take = min(4, needed - got)
        if text[pos : pos + 1] != " " or len(text) < pos + 1 + take or not alnum(text[pos + 1 : pos + 1 + take]):
            return None
        pos += 1 + take
        got += take
    return pos if boundary(pos) else None


def _ibans(text: str) -> Iterator[_Candidate]:
    for match in _IBAN_START.finditer(text):
        needed = _IBAN_LENGTHS.get(match.group()[:2].upper())
        if needed is None:
            continue
        end = _iban_end(text, match.end(), needed - 4)
        if end is not None and iban_valid(text[match.start() : end]):
            yield "iban", match.start(), end


def _phone_shaped(candidate: str) -> bool:
    """Cheap first test: after + or 00 any length (the caller keeps to 7-17 digits), otherwise the length and
    trunk prefix of a national number of one of `PHONE_REGIONS`."""
    digits = "".join(char for char in candidate if char.isdigit())
    international = candidate.startswith("+") or digits.startswith("00")
    return international or any(_national_shape(digits, region) for region in PHONE_REGIONS)


def _national_shape(digits: str, region: str) -> bool:
    return digits.startswith(PHONE_REGIONS[region]) and len(digits) in _national_lengths(region)


@functools.cache
def _national_lengths(region: str) -> frozenset[int]:
    """How many digits a number of `region` has when written nationally, trunk prefix or not."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert metadata is not None and metadata.general_desc is not None
    lengths = metadata.general_desc.possible_length
    return frozenset({*lengths, *(n + len(metadata.national_prefix or "") for n in lengths)})


@functools.lru_cache(maxsize=1024)
def _is_phone_number(candidate: str) -> bool:
    """After + a number of possible length in its country (new and reserved ranges are phones too), after 00 a
    valid one; otherwise a valid number of one of `PHONE_REGIONS`, written with its trunk prefix and grouped the
    way that region writes numbers ('06 12 34 56 78' in France, never '34 36 38 40 42' in the US)."""
    digits = "".join(char for char in candidate if char.isdigit())
    if candidate.startswith("+") or digits.startswith("00"):
        written = candidate if candidate.startswith("+") else "+" + candidate[candidate.index("00") + 2 :]
        try:
            number = phonenumbers.parse(written)
        except phonenumbers.NumberParseException:
            return False
        return phonenumbers.is_possible_number(number) if written is candidate else phonenumbers.is_valid_number(number)
    return any(_national_shape(digits, region) and _national_number(candidate, region) for region in PHONE_REGIONS)


def _national_number(candidate: str, region: str) -> bool:
    try:
        valid = phonenumbers.is_valid_number(phonenumbers.parse(candidate, region))
    except phonenumbers.NumberParseException:
        return False
    grouping = phonenumbers.Leniency.STRICT_GROUPING
    return valid and any(
        match.start == 0 and match.end == len(candidate)
        for match in phonenumbers.PhoneNumberMatcher(candidate, region, leniency=grouping)
    )


def _library_phones(text: str) -> Iterator[_Candidate]:
    """Numbers that `phonenumbers` accepts, read off runs of digit groups (see `_read_numbers`)."""
    checks = [_PHONE_CHECKS]
    for chain in _PHONE_CHAIN.finditer(text):
        offset = chain.start()
        groups = [(offset + m.start(), offset + m.end()) for m in _DIGIT_RUN.finditer(chain.group())]
        run: list[tuple[int, int]] = []
        for group in groups:
            if run and not _PHONE_SEPARATOR.fullmatch(text[run[-1][1] : group[0]]):
                yield from _read_numbers(text, run, checks)
                run = []
            run.append(group)
        yield from _read_numbers(text, run, checks)


def _read_numbers(text: str, groups: list[tuple[int, int]], checks: list[int]) -> list[_Candidate]:
    """Phone numbers that explain a run of digit groups, longest first, or none if some group of 3+ digits fits
    no number: '07911 123456 020 7946 0958' is two numbers, '+1 (646) 734-0162 3 times' one and a count, and
    no number is cut out of a tracking or card number. Groups joined by '-' or '.' stay in one number.
    `checks` counts down the library checks left for the text; when none are left, a candidate of a phone
    number's shape counts as one unchecked."""

    def joined(left: int) -> bool:
        return left + 1 < len(groups) and any(char in "-." for char in text[groups[left][1] : groups[left + 1][0]])

    digits_before = [0, *itertools.accumulate(b - a for a, b in groups)]
    # readings[i]: the numbers in groups[i:], or None when they cannot all be read.
    readings: list[list[_Candidate] | None] = [None] * len(groups) + [[]]
    for first in range(len(groups) - 1, -1, -1):
        for last in range(min(first + _MAX_PHONE_GROUPS, len(groups)) - 1, first - 1, -1):
            rest = readings[last + 1]
            if rest is None or joined(last) or not 7 <= digits_before[last + 1] - digits_before[first] <= 17:
                continue
            start, end = _widen(text, groups[first][0], groups[last][1])
            after = text[end : end + 2]
            if (after[:1].isascii() and after[:1].isalpha()) or (after[:1] == ":" and after[1:].isdigit()):
                continue  # a code ('0958AB') or a time ('10:30') goes on here
            if not _phone_shaped(text[start:end]):
                continue
            checks[0] -= 1
            if checks[0] < 0 or _is_phone_number(text[start:end]):
                readings[first] = [("phone", start, end), *rest]
                break
        short = groups[first][1] - groups[first][0] <= 2
        if readings[first] is None and short and not joined(first):
            readings[first] = readings[first + 1]
    return readings[0] or []


def _widen(text: str, start: int, end: int) -> tuple[int, int]:
    """The number's own brackets and leading + belong to it."""
    if start and text[start - 1] == "(":
        start -= 1
    if start and text[start - 1] == "+":
        start -= 1
    if text.count("(", start, end) > text.count(")", start, end) and text[end : end + 1] == ")":
        end += 1
    return start, end


def _phones(text: str) -> Iterator[_Candidate]:
    for pattern, digit_range in ((_CN_MOBILE, (11, 13)), (_CN_LANDLINE, (10, 12))):
        for match in pattern.finditer(text):
            if digit_range[0] <= sum(char.isdigit() for char in match.group()) <= digit_range[1]:
                yield "phone", match.start(), match.end()
    yield from _library_phones(text)


def _labelled(text: str, label: re.Pattern[str], kind: PiiKind) -> Iterator[_Candidate]:
    """The code (6+ digits) that `label` names."""
    for match in label.finditer(text):
        if sum(char.isdigit() for char in match.group(1)) >= 6:
            yield kind, match.start(1), match.end(1)


def _coded_orders(text: str) -> Iterator[_Candidate]:
    for match in _ORDER_CODE.finditer(text):
        if match.group(1) not in _CARRIER_PREFIXES:
            yield "order", match.start(), match.end()


def _scan(text: str) -> list[_Candidate]:
    """All non-overlapping detections in `text`, including order numbers, chosen tier by tier."""
    phones = list(_phones(text))
    tiers = (
        list(_emails(text)),
        [*_ibans(text), *_id_numbers(text), *_labelled(text, _ID_LABEL, "id_number"), *_cards(text)],
        [phone for phone in phones if not text[phone[1] : phone[2]].isdigit()],
        list(_labelled(text, _ORDER_LABEL, "order")),
        [phone for phone in phones if text[phone[1] : phone[2]].isdigit()],
        list(_coded_orders(text)),
    )
    chosen: list[_Candidate] = []
    for tier in tiers:
        for candidate in sorted(tier, key=lambda c: (c[1] - c[2], c[1])):
            if all(candidate[2] <= start or candidate[1] >= end for _, start, end in chosen):
                chosen.append(candidate)
    return sorted(chosen, key=lambda c: c[1])


def _render(text: str, spans: list[PiiSpan]) -> tuple[str, list[tuple[int, int, int]]]:
    """`text` with `spans` (sorted) masked, and each placeholder's (start, end, shift) in the masked text."""
    parts: list[str] = []
    placed: list[tuple[int, int, int]] = []
    cursor = length = 0
    for span in spans:
        parts.append(text[cursor : span.start])
        length += span.start - cursor
        placeholder = PLACEHOLDERS[span.kind]
        shift = span.end - span.start - len(placeholder)
        placed.append((length, length + len(placeholder), shift))
        parts.append(placeholder)
        length += len(placeholder)
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts), placed


def find_pii(text: str, *, keep_order_numbers: bool = True) -> Redaction:
    """Masked text and the masked spans (kind and original offsets). Order numbers are kept unless asked; the
    other spans are the same either way, so an order number kept in one text is never masked in another."""
    spans = [span for span in _spans(text) if not (keep_order_numbers and span.kind == "order")]
    masked, _ = _render(text, spans)
    return Redaction(text=masked, spans=tuple(spans))


@functools.lru_cache(maxsize=256)
def _spans(text: str) -> tuple[PiiSpan, ...]:
    """Every detection, order numbers included, scanning until nothing new is found. Cached: the analysis and
    the suggestion both redact the same message."""
    spans: list[PiiSpan] = []
    masked = text
    while True:
        if not any(char.isdigit() or char in "@＠" for char in masked):
            break
        placed: list[tuple[int, int, int]] = []
        if spans:
            masked, placed = _render(text, spans)
        found = [
            c
            for c in _scan(masked.translate(_NORMALISE))
            if all(c[2] <= start or c[1] >= end for start, end, _ in placed)
        ]
        if not found:
            break
        for kind, start, end in found:
            shift = sum(s for _, placeholder_end, s in placed if placeholder_end <= start)
            spans.append(PiiSpan(kind=kind, start=start + shift, end=end + shift))
        spans.sort(key=lambda span: span.start)
    return tuple(spans)


def redact(text: str, *, keep_order_numbers: bool = True) -> str:
    """`text` with emails, phones, cards, ID numbers and IBANs (and order numbers if asked) masked."""
    return find_pii(text, keep_order_numbers=keep_order_numbers).text
