"""The sentences of a section most relevant to a message: the answer inside the section."""

from __future__ import annotations

import re
from collections.abc import Set
from functools import lru_cache

from kbsuggest.retrieval.tokenize import tokenize

UNIT_CACHE_SIZE = 8192
"""Sections whose units and tokens stay cached: answers repeat, and segmenting Chinese costs ~2 ms each."""

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


def best_sentences(text: str, message_tokens: Set[str], limit: int = 3) -> list[str]:
    """Up to `limit` units sharing the most message tokens (`tokenize` of the message; ties: earlier
    first), kept in text order. With no overlap at all, the section's opening units."""
    units = _tokenized_units(text)
    scores = [len(message_tokens & tokens) / (1 + length) ** 0.5 for _, tokens, length in units]
    ranked = sorted(range(len(units)), key=lambda i: (-scores[i], i))
    chosen = sorted(i for i in ranked[:limit] if scores[i] > 0)
    return [units[i][0] for i in chosen] or [unit for unit, _, _ in units[:limit]]


@lru_cache(maxsize=UNIT_CACHE_SIZE)
def _tokenized_units(text: str) -> tuple[tuple[str, frozenset[str], int], ...]:
    """Each unit of `text` with its distinct tokens and its token count."""
    return tuple((unit, frozenset(tokens), len(tokens)) for unit in sentences(text) for tokens in [tokenize(unit)])
