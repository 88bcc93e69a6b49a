"""The sentences of a section most relevant to a message: the answer inside the section."""

from __future__ import annotations

import re

from kbsuggest.retrieval.tokenize import tokenize

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


def best_sentences(text: str, message: str, limit: int = 3) -> list[str]:
    """Up to `limit` units sharing the most message tokens (ties: earlier first), kept in text order.
    With no overlap at all, the section's opening units."""
    units = sentences(text)
    query = set(tokenize(message))
    unit_tokens = [tokenize(unit) for unit in units]
    scores = [len(query & set(tokens)) / (1 + len(tokens)) ** 0.5 for tokens in unit_tokens]
    ranked = sorted(range(len(units)), key=lambda i: (-scores[i], i))
    chosen = sorted(i for i in ranked[:limit] if scores[i] > 0)
    return [units[i] for i in chosen] or units[:limit]
