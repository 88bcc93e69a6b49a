"""Answers + analysis -> a reply draft. Deterministic: the same inputs give the same text, and every
sentence is either a template phrase or a sentence of a cited section."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from kbsuggest.analysis import MessageAnalysis
from kbsuggest.articles.templates import Templates, Tone, ToneSet, fill
from kbsuggest.privacy import redact
from kbsuggest.reply.models import Draft
from kbsuggest.retrieval.models import Answer


def _pick(phrases: tuple[str, ...], message: str, slot: str) -> str:
    """One alternative, chosen by the message so replies vary between customers but not between runs."""
    digest = hashlib.blake2b(f"{slot}\0{message}".encode(), digest_size=4).digest()
    return phrases[int.from_bytes(digest, "little") % len(phrases)]


def clarifying_question(templates: Templates, tone: Tone, message: str, options: tuple[str, str]) -> str:
    """The question that asks the customer to choose between two answers' topics."""
    phrase = _pick(templates.tones[tone].clarify, message, "clarify")
    return phrase.replace("{option_a}", options[0]).replace("{option_b}", options[1])


def compose(
    message: str,
    analysis: MessageAnalysis,
    answer: Answer | None,
    *,
    templates: Templates,
    tone: Tone,
    context: Mapping[str, str],
    question: str | None = None,
    handoff: bool = False,
) -> Draft:
    """greeting -> acknowledgement (negative messages) -> answer, or the clarifying `question` (`clarifying_question`)
    -> hand-off or next step -> closing. With no `answer` the draft states no facts."""
    phrases: ToneSet = templates.tones[tone]
    values = {k: redact(v) for k, v in context.items() if v}  # a card or ID number never reaches a draft
    if analysis.order_ids and "order_id" not in values:
        values["order_id"] = analysis.order_ids[0]
    parts: list[str] = []
    greeting = phrases.greeting if values.get("customer_name") else phrases.greeting_no_name
    parts.append(_pick(greeting, message, "greeting"))
    if analysis.sentiment == "negative":
        parts.append(_pick(phrases.acknowledge, message, "acknowledge"))
    citations: tuple[str, ...] = ()
    if question is not None:
        parts.append(question)
    elif answer is not None:
        parts.append(answer.snippet)
        citations = (answer.section_id,)
    if handoff:
        parts.append(_pick(phrases.handoff if values.get("order_id") else phrases.handoff_no_order, message, "next"))
    else:
        parts.append(_pick(phrases.next_step, message, "next"))
    parts.append(_pick(phrases.closing, message, "closing"))
    missing: list[str] = []
    filled = []
    for part in parts:
        text, gaps = fill(part, values)
        filled.append(text)
        missing.extend(gaps)
    separator = "\n\n"
    return Draft(
        text=separator.join(filled),
        language=templates.language,
        tone=tone,
        citations=citations,
        missing_slots=tuple(dict.fromkeys(missing)),
    )
