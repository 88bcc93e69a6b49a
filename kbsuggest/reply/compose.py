"""Answers + analysis -> a reply draft. Deterministic: the same inputs give the same text, and every
sentence is either a template phrase or a sentence (or rendered table row) of a cited section
(`reply.trace` checks it)."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

from kbsuggest.analysis import MessageAnalysis
from kbsuggest.articles.split import slugify
from kbsuggest.articles.templates import Templates, Tone, ToneSet, fill
from kbsuggest.privacy import redact
from kbsuggest.reply.models import Draft
from kbsuggest.reply.pick import Fit, is_item, is_lead_in, pick
from kbsuggest.reply.promotions import Promotion, Running
from kbsuggest.retrieval.models import Answer
from kbsuggest.retrieval.snippet import best_sentences, measures, sentences
from kbsuggest.text.situation import Situation, read_situation
from kbsuggest.text.tokenize import normalize_query, tokenize

SENTENCES = {"friendly": 4, "formal": 4, "concise": 2}
"""Sentences quoted per answer, by tone: a concise reply quotes less."""
_EN_MEASURE = {
    "height": "a height of {} cm",
    "chest": "a {} cm chest",
    "waist": "a {} cm waist",
    "hip": "{} cm hips",
    "foot": "a foot length of {} cm",
    "eu": "EU size {}",
    "us": "US size {}",
}
_ZH_MEASURE = {
    "height": "身高{}cm",
    "chest": "胸围{}cm",
    "waist": "腰围{}cm",
    "hip": "臀围{}cm",
    "foot": "脚长{}cm",
    "eu": "欧码{}",
    "us": "美码{}",
}
_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class Block:
    """One answer of the draft: the question it answers and the section (or promotion out of its dates, or the
    promotion running instead) answering it."""

    question: str
    source: Answer | Promotion | Running


_VOCATIVE = re.compile(r"^(?:亲亲|亲)[，,～~]\s*")
"""How a Chinese article sentence may address the reader ("亲，签收后30天内…"): the draft's greeting addresses the
customer in the tone's register, so a quoted sentence drops it (no "亲，您好～ 亲，…", no "亲" in a formal reply)."""


def unaddressed(sentence: str) -> str:
    """`sentence` without the form of address it opens with (`_VOCATIVE`)."""
    return _VOCATIVE.sub("", sentence, count=1)


_PARTICLE = re.compile(r"(?:哦|噢|啦|呀|～|~)+(?=[。！!，,]|$)|(?<=的)亲(?=[，,])", re.MULTILINE)
"""A chatty particle closing a Chinese sentence or clause ("不能修改哦。", "就可以申请哦，"), or the reader addressed
inside one ("拿不准尺码的亲，"): friendly, out of place in a formal reply."""


def plain(sentence: str) -> str:
    """`sentence` without its chatty particles (`_PARTICLE`): how a formal reply quotes it."""
    return _PARTICLE.sub("", sentence)


def quoted(sentence: str, tone: Tone) -> str:
    """A section's sentence as the draft quotes it: without its form of address, and in a formal reply without
    its chatty particles."""
    sentence = unaddressed(sentence)
    return plain(sentence) if tone == "formal" else sentence


_SLOT = re.compile(r"\\\{[A-Za-z_][A-Za-z0-9_]*\\\}")


@cache
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """`phrase` as a pattern in which each {slot} matches any text: finds it filled in a draft or a turn."""
    return re.compile(_SLOT.sub(lambda _: ".+?", re.escape(phrase)), re.DOTALL)


def unused(phrases: tuple[str, ...], said: Sequence[str]) -> tuple[str, ...]:
    """The alternatives no earlier agent turn (`said`) contains, filled or not."""
    return tuple(p for p in phrases if not any(phrase_pattern(p).search(turn) for turn in said))


def _pick(phrases: tuple[str, ...], message: str, slot: str, said: Sequence[str] = ()) -> str:
    """One alternative, chosen by the message so replies vary between customers but not between runs; one the
    agent has not yet used in this conversation (`said`: its earlier turns) while there is one."""
    phrases = unused(phrases, said) or phrases
    digest = hashlib.blake2b(f"{slot}\0{message}".encode(), digest_size=4).digest()
    return phrases[int.from_bytes(digest, "little") % len(phrases)]


def clarifying_question(templates: Templates, tone: Tone, message: str, options: tuple[str, str]) -> str:
    """The question that asks the customer to choose between two answers' topics."""
    phrase = _pick(templates.tones[tone].clarify, message, "clarify")
    return phrase.replace("{option_a}", options[0]).replace("{option_b}", options[1])


def clarify_lead(templates: Templates, tone: Tone, message: str, option: str) -> str | None:
    """The phrase that introduces the answer to the question's first option ("In case it's about X, ..."); None
    when the templates have no `clarify_answer` (the answer then follows the question without one)."""
    phrases = templates.tones[tone].clarify_answer
    return _pick(phrases, message, "clarify_answer").replace("{option_a}", option) if phrases else None


def format_date(day: date, language: str) -> str:
    return (
        f"{day.year}年{day.month}月{day.day}日"
        if language == "zh"
        else f"{_EN_MONTHS[day.month - 1]} {day.day}, {day.year}"
    )


def states_day(text: str, day: date, language: str) -> bool:
    """True when `text` gives `day` by its month and day, with or without the year ("December 2", "12月2日")."""
    if language == "zh":
        return re.search(rf"(?<!\d){day.month}月{day.day}[日号]", text) is not None
    return re.search(rf"\b{_EN_MONTHS[day.month - 1]} {day.day}(?!\d)", text) is not None


def _slots(phrase: str, values: Mapping[str, str]) -> str:
    """`phrase` with the given slot names replaced (fixed names only; never `str.format`)."""
    for name, value in values.items():
        phrase = phrase.replace("{" + name + "}", value)
    return phrase


def fit_values(fit: Fit, language: str) -> dict[str, str]:
    """The {size} and {measure} of the `fit` phrase: 'size L' / 'L码', 'a 104 cm chest' / '胸围104cm'."""
    value = f"{fit.value:g}"
    if language == "zh":
        size = f"{fit.size}码" if fit.size_header == "尺码" else f"{fit.size_header}{fit.size}"
        return {"size": size, "measure": _ZH_MEASURE[fit.measure].format(value)}
    header = fit.size_header if fit.size_header[1:2].isupper() else fit.size_header.lower()
    return {"size": f"{header} {fit.size}", "measure": _EN_MEASURE[fit.measure].format(value)}


def answer_parts(block: Block, phrases: ToneSet, situation: Situation, language: str, tone: Tone) -> list[str]:
    """The paragraphs that answer one block, and nothing when there is nothing to say."""
    source = block.source
    text = normalize_query(block.question)
    tokens = frozenset(tokenize(text)) | measures(text)
    if isinstance(source, Promotion):
        parts = []
        # quoted like an answer, at the tone's count with the phrase about its dates as one of them
        sentences = [quoted(s, tone) for s in best_sentences(source.text, tokens, SENTENCES[tone] - 1)]
        day = source.end if source.ended else source.start
        said_already = day is not None and any(format_date(day, language) in t for t in sentences)
        if not source.ended:
            phrase_list = phrases.not_started
        elif source.start is None:
            phrase_list = () if said_already else phrases.ended_on or phrases.ended
        else:  # a quoted sentence that says when it ended leaves when it began to say
            phrase_list = phrases.ran if said_already else phrases.ended
        if phrase_list and day is not None:
            start = format_date(source.start, language) if source.start is not None else ""
            values = {"promotion": source.name, "start": start, "end": format_date(day, language)}
            parts.append(_slots(_pick(phrase_list, block.question, "promotion"), values))
        if sentences:
            parts.append(("" if language == "zh" else " ").join(sentences))
        return parts
    parts = []
    picked = pick(source.text, tokens, situation, language, SENTENCES[tone])
    if isinstance(source, Running) and source.end is not None and phrases.running:
        # its end said once: a quoted sentence that gives it ("The sale ends ... on December 2") leaves it out
        said = any(states_day(s, source.end, language) for s in picked.sentences) and phrases.running_now
        values = {"promotion": source.name, "end": format_date(source.end, language)}
        parts.append(_slots(_pick(phrases.running_now if said else phrases.running, block.question, "running"), values))
    lead = heading_lead(source, picked.sentences, language) if isinstance(source, Answer) else None
    parts += _paragraphs([*([lead] if lead else []), *(quoted(s, tone) for s in picked.sentences)], language)
    if picked.fit is not None and phrases.fit:
        parts.append(_slots(_pick(phrases.fit, block.question, "fit"), fit_values(picked.fit, language)))
    return parts


def heading_lead(answer: Answer, picked: Sequence[str], language: str) -> str | None:
    """The section's heading as the lead-in of the list it opens with, when the draft quotes that list: "What the
    warranty doesn't cover:", "不参与价保的情况：" (without it the list reads as what is covered). None when the heading
    is not the one its anchor was made from (`trace` finds the heading by the cited anchor)."""
    heading = answer.heading_path[-1] if answer.heading_path else ""
    units = sentences(answer.text)
    if not (picked and units and is_item(picked[0]) and picked[0] == units[0] and slugify(heading) == answer.anchor):
        return None
    return heading + ("：" if language == "zh" else ":")


def _paragraphs(sentences: Sequence[str], language: str) -> list[str]:
    """Sentences joined into paragraphs; a list of numbered steps, and a bulleted list with its lead-in, each a
    paragraph of its own lines; a lead-in ends its line ("...按身高和胸围选择：\n尺码L：身高178–185cm，…", not two
    colons in one run)."""
    out: list[tuple[str, list[str]]] = [("prose", [])]
    for i, sentence in enumerate(sentences):
        lead_in = is_lead_in(sentence) and i + 1 < len(sentences) and is_item(sentences[i + 1])
        if "\n" in sentence:
            out.append(("steps", [sentence]))
        elif lead_in or (is_item(sentence) and out[-1][0] != "list"):
            out += [("list", [sentence])]
        elif is_item(sentence):
            out[-1][1].append(sentence)
        else:
            if out[-1][0] != "prose":
                out.append(("prose", []))
            out[-1][1].append(sentence)
    prose = "" if language == "zh" else " "
    paragraphs = []
    for kind, lines in out:
        if lines:
            text = lines[0]
            for before, line in itertools.pairwise(lines):
                text += ("\n" if kind != "prose" or is_lead_in(before) else prose) + line
            paragraphs.append(text)
    return paragraphs


_OWN_SLIP = re.compile(
    r"\bI (?:typed|entered|put|picked|chose|ordered|selected|bought|gave)(?: in)? (?:the |a )?wrong\b"
    r"|\bmy (?:mistake|bad|fault)\b|\btypo\b|\bby mistake\b|\bmistyped\b|(?:下|写|填|选|拍|输|买)错",
    re.IGNORECASE,
)
_STORE = re.compile(
    r"\byou(?: guys)? (?:sent|shipped|charged|wrote|put|typed|entered|gave|made|messed|mixed)\b"
    r"|(?:你们|商家|客服|仓库).{0,4}错",
    re.IGNORECASE,
)
"""A customer telling of their own slip ("I typed the wrong address", "下错了", "发票抬头写错了") and not of the
store's: nothing the store did went wrong, so the draft does not apologise for it."""


_ASKS_ORDER = re.compile(
    r"\b(?:send|give|tell|contact|email|message|chat with)(?: us| our team)?(?: with| in chat with)? "
    r"(?:your|the) order number|提供(?:您的)?订单号|订单号(?:发|告诉)",
    re.IGNORECASE,
)
"""A quoted sentence asking for the order number ("contact us with your order number", "请提供订单号"): when the
message gave it, the draft says it has it (`order_known`), rather than leave the customer to send it again."""


def own_slip(message: str) -> bool:
    """True when the message tells of the customer's own slip (`_OWN_SLIP`) and of no slip of the store's."""
    return _OWN_SLIP.search(message) is not None and _STORE.search(message) is None


def acknowledgement(phrases: ToneSet, event: str | None, negative: bool, slip: bool = False) -> tuple[str, ...]:
    """The phrases that acknowledge what happened (late, damaged, charged twice, wrong item), else the general
    apology for an unhappy message, else none; none either for a customer's own slip (`own_slip`: "I ordered the
    wrong size" is no wrong item of ours)."""
    if slip and event in (None, "wrong_item"):
        return ()
    specific = {
        "late": phrases.acknowledge_late,
        "damaged": phrases.acknowledge_damaged,
        "charged_twice": phrases.acknowledge_charged_twice,
        "wrong_item": phrases.acknowledge_wrong_item,
    }.get(event or "", ())
    return specific or (phrases.acknowledge if negative else ())


def compose(
    message: str,
    analysis: MessageAnalysis,
    blocks: Sequence[Block],
    *,
    templates: Templates,
    tone: Tone,
    context: Mapping[str, str],
    question: str | None = None,
    lead: str | None = None,
    handoff: bool = False,
    situation: Situation | None = None,
    said: Sequence[str] = (),
) -> Draft:
    """greeting -> acknowledgement (of what happened, or of an unhappy message) -> the clarifying `question`
    (`clarifying_question`) and the `lead` into the answer to its first option (`clarify_lead`), when asked ->
    one answer per block, in the customer's order -> hand-off or next step -> closing.
    With no blocks the draft states no facts. `situation`: `read_situation(message)`, when the caller has read it.
    `said`: the agent's earlier turns in this conversation; the greeting, acknowledgement, next step and closing
    take an alternative they do not contain, and an acknowledgement whose every alternative was said is left out
    (an apology repeated word for word reads canned)."""
    phrases: ToneSet = templates.tones[tone]
    values = {k: redact(v) for k, v in context.items() if v}  # a card or ID number never reaches a draft
    if analysis.order_ids and "order_id" not in values:
        values["order_id"] = analysis.order_ids[0]
    parts: list[str] = []
    greeting = phrases.greeting if values.get("customer_name") else phrases.greeting_no_name
    parts.append(_pick(greeting, message, "greeting", said))
    situation = situation if situation is not None else read_situation(message)
    slip = own_slip(message)
    apology = unused(acknowledgement(phrases, situation.event, analysis.sentiment == "negative", slip), said)
    if apology:
        parts.append(_pick(apology, message, "acknowledge"))
    citations: list[str] = []
    answers: list[str] = []
    parts.extend(p for p in (question, lead) if p is not None)
    for block in blocks:
        answered = answer_parts(block, phrases, situation, templates.language, tone)
        answers.extend(p for p in answered if p)
        cited = block.source.section_id
        if answered and cited is not None and cited not in citations:
            citations.append(cited)
    if analysis.order_ids and phrases.order_known and any(_ASKS_ORDER.search(a) for a in answers):
        answers.append(_slots(_pick(phrases.order_known, message, "order_known"), {"order_id": analysis.order_ids[0]}))
    if handoff:
        next_step = phrases.handoff if values.get("order_id") else phrases.handoff_no_order
    else:
        next_step = phrases.next_step
    parts.append(_pick(next_step, message, "next", said))
    parts.append(_pick(phrases.closing, message, "closing", said))
    missing: list[str] = []
    filled = []
    for part in parts:
        text, gaps = fill(part, values)
        filled.append(text)
        missing.extend(gaps)
    filled[-2:-2] = answers  # answer text is never filled: a section may contain braces
    separator = "\n\n"
    return Draft(
        text=separator.join(filled),
        language=templates.language,
        tone=tone,
        citations=tuple(citations),
        missing_slots=tuple(dict.fromkeys(missing)),
    )
