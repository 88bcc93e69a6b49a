"""A message that asks two things, split into its two questions, in the customer's order."""

from __future__ import annotations

import re

from kbsuggest.text.tokenize import Language, tokenize

_QUESTION_WORD = (
    r"(?:what|what's|whats|how|can|could|do|does|did|is|are|will|would|where|why|when|which|should|any|"
    r"who|also|is there|are there)\b"
)
_EN_SPLIT = re.compile(
    r"\?+\s*(?:and\s+|also\s+|\+\s*)?(?=\S)|[,;]?\s+(?:and|also|\+|plus)\s+(?=" + _QUESTION_WORD + r")"
    r"|\.\s+also\s+|\s+\+\s+|[,;]\s*also\s+",
    re.IGNORECASE,
)
_ZH_SPLIT = re.compile(
    r"[？?]+[，,\s]*(?:另外|还有|而且|以及)?(?=\S)|[，,。；;\s]+(?:另外|还有|而且|以及|顺便问下)[，,]?"
    r"|(?<=[吗呢办久少么事])[\s，,]+"
)
_EN_QUESTION = re.compile(r"\?\s*$|^" + _QUESTION_WORD, re.IGNORECASE)
_ZH_QUESTION = re.compile(r"[？?吗呢]\s*$|多久|多少|怎么|什么|可以|能|几|哪|谁|要钱|(\S)不\1")
MIN_ZH_CHARS = 4
"""A Chinese part this short ("要多久", "打几折") is not a question of its own: the message stays whole."""


def split_questions(message: str, language: Language) -> tuple[str, ...]:
    """The two questions of `message`, or the message alone when it asks one thing. A third question stays
    with the second."""
    pattern = _ZH_SPLIT if language == "zh" else _EN_SPLIT
    match = pattern.search(message.strip())
    if match is None:
        return (message,)
    first, second = message.strip()[: match.start()].strip(), message.strip()[match.end() :].strip()
    if not (tokenize(first) and tokenize(second)) or (language == "zh" and min(len(first), len(second)) < MIN_ZH_CHARS):
        return (message,)
    asks = _ZH_QUESTION if language == "zh" else _EN_QUESTION
    if not asks.search(second):  # "can I still cancel? placed it 2 hours ago": one question and its facts
        return (message,)
    return first, second
