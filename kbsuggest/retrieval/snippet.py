"""The sentences of a section most relevant to a message: the answer inside the section."""

from __future__ import annotations

import re
from collections.abc import Set
from functools import lru_cache

from kbsuggest.text.tokenize import tokenize

UNIT_CACHE_SIZE = 8192
"""Sections whose units and tokens stay cached: answers repeat, and segmenting Chinese costs ~2 ms each."""

MAX_RANGE = 200
"""Ranges wider than this many whole numbers ("1-1000 orders") are not matched value by value."""

_SIZE = re.compile(r"(?<![A-Za-z0-9])(?:X{0,3}S|M|X{0,3}L|[2-5]XL)(?![A-Za-z0-9])")
_RANGE = re.compile(r"(?<![\d.])(\d{1,4})\s*(?:-|–|—|~|to)\s*(\d{1,4})(?![\d.])")
_NUMBER = re.compile(r"(?<![\d.])\d{1,4}(?![\d.])")
_SENTENCE_END = re.compile(r"(?<=\S[.!?])\s+(?=[A-Z0-9(\"'])|(?<=[。！？；])")
_STEP = re.compile(r"^\s*\d+\.\s")


def sentences(text: str) -> list[str]:
    """Sentences and bullet items of a section, in order; a numbered list of steps stays one unit."""
    units: list[str] = []
    steps: list[str] = []
    for line in text.splitlines():
        if _STEP.match(line) or (steps and line.startswith("  ")):
            steps.append(line)
            continue
        if steps:
            units.append("\n".join(steps))
            steps = []
        units.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    if steps:
        units.append("\n".join(steps))
    return units


def measures(text: str, *, ranges: bool = False) -> frozenset[str]:
    """Clothing sizes (`size:M`) and whole numbers (`number:175`, also out of "175cm") in `text`, which
    `tokenize` drops or glues to their unit; with `ranges`, every number inside a range such as "170–180"
    too. Added to both sides of `best_sentences`, they pick the row of a size table that answers "does
    the M fit someone 175cm?"."""
    found = {f"size:{label}" for label in _SIZE.findall(text)}
    found.update(f"number:{int(n)}" for n in _NUMBER.findall(text))
    if ranges:
        for low, high in ((int(a), int(b)) for a, b in _RANGE.findall(text)):
            if 0 < high - low <= MAX_RANGE:
                found.update(f"number:{n}" for n in range(low, high + 1))
    return frozenset(found)


def best_sentences(text: str, message_tokens: Set[str], limit: int = 3) -> list[str]:
    """Up to `limit` units sharing the most message tokens (`tokenize` of the message, with its `measures`;
    ties: earlier first), kept in text order. With no overlap at all, the section's opening units."""
    units = _tokenized_units(text)
    scores = [len(message_tokens & tokens) / (1 + length) ** 0.5 for _, tokens, length in units]
    ranked = sorted(range(len(units)), key=lambda i: (-scores[i], i))
    chosen = sorted(i for i in ranked[:limit] if scores[i] > 0)
    return [units[i][0] for i in chosen] or [unit for unit, _, _ in units[:limit]]


@lru_cache(maxsize=UNIT_CACHE_SIZE)
def _tokenized_units(text: str) -> tuple[tuple[str, frozenset[str], int], ...]:
    """Each unit of `text` with its distinct tokens and measures, and its token count."""
    return tuple(
        (unit, frozenset(tokens) | measures(unit, ranges=True), len(tokens))
        for unit in sentences(text)
        for tokens in [tokenize(unit)]
    )
