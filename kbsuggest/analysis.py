"""Customer message -> `MessageAnalysis`: language, sentiment, urgency, a request for a person, order numbers.

Rule-based and bilingual (English, Chinese) so every decision can be read back from the cues it lists.
The analysis goes back to callers, so it holds no personal data: the cues are read from the redacted message,
and the order numbers are the redactor's `order` spans, never a card, IBAN, phone or ID number.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kbsuggest.privacy import find_pii
from kbsuggest.text.tokenize import message_language

Sentiment = Literal["negative", "neutral", "positive"]
Urgency = Literal["high", "normal"]

_HUMAN = re.compile(
    r"\b(human|real person|live (agent|person|chat)|(customer service|support) (agent|rep|representative)"
    r"|representative|speak (to|with) (someone|somebody|a person|an agent|a manager|your manager)"
    r"|talk (to|with) (someone|somebody|a person|an agent|a human|a manager|your manager)|supervisor)\b"
    r"|人工|真人|转接客服|客服主管|找你们(领导|经理|主管)",
    re.IGNORECASE,
)
_ANGRY = re.compile(
    r"\b(ridiculous|unacceptable|terrible|horrible|awful|worst|useless|pathetic|scam|scammers?|fraud|furious"
    r"|angry|pissed|fed up|disgusting|incompetent|lawyer|chargeback|sue you|wtf|f+u+c+k\w*|shit\w*|damn|crap"
    r"|bullshit|never (again|shopping)|sick of|joke)\b"
    r"|垃圾|太差|气死|骗子|坑人|无语|搞什么|什么破|差评|投诉|12315|欺骗|恶心|离谱|忍无可忍|太过分|坑爹|滚",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(
    r"\b(still (not|no|haven'?t|hasn'?t)|not (received|arrived|working|happy)|never (arrived|received|came)"
    r"|broken|damaged|wrong|missing|late|delayed|disappointed|upset|frustrat\w*|annoy\w*|problem|issue|complain\w*"
    r"|cheated|lost|stuck|waiting|refuse\w*)\b"
    r"|还没|没收到|没到|坏了|破损|错了|发错|漏发|少了|丢了|失望|着急|不满|怎么回事|为什么还|一直|等了|烦",
    re.IGNORECASE,
)
_POSITIVE = re.compile(r"\b(thanks?|thank you|great|love|awesome|perfect|appreciate)\b|谢谢|感谢|太好了|满意|点赞")
_URGENT = re.compile(
    r"\b(urgent\w*|asap|immediately|right now|right away|today|tonight|emergency|as soon as possible)\b"
    r"|\b\d+\s*(days?|weeks?|months?)\b|\b(two|three|four|five|six|several) (days|weeks|months)\b"
    r"|急|马上|立刻|赶紧|尽快|今天|\d+\s*(天|周|个星期|个月)|[一二两三四五六七八九十几]+(天|周|个星期|个月)",
    re.IGNORECASE,
)
_SHOUTING = re.compile(r"(?<!\[)\b[A-Z]{4,}\b(?!\])")  # not the redactor's [PHONE], [CARD], [ORDER]...
_EXCLAIM = re.compile(r"[!！]{2,}|[?？][!！]|[!！][?？]")


class MessageAnalysis(BaseModel):
    """What the message says about the customer, beyond the question itself."""

    model_config = ConfigDict(frozen=True)

    language: Literal["en", "zh"]
    sentiment: Sentiment
    angry: bool = Field(description="Strong anger: insults, threats, swearing, or several negative cues at once.")
    urgency: Urgency
    human_requested: bool
    order_ids: tuple[str, ...] = Field(
        default=(),
        description="Order numbers the message names: after 'order #', 'order number', '订单号', or coded like "
        "A1048321. Never a card, IBAN, phone or ID number.",
    )
    cues: tuple[str, ...] = Field(
        default=(), description="The words that drove sentiment, urgency and hand-off, personal data masked."
    )


def analyse(message: str) -> MessageAnalysis:
    """Analyse a raw customer message: the one place its language is decided."""
    pii = find_pii(message, keep_order_numbers=False)
    order_ids = tuple(dict.fromkeys(message[span.start : span.end] for span in pii.spans if span.kind == "order"))
    text = pii.text  # cues are quoted back, so they are read where personal data is already masked
    angry = [m.group(0) for m in _ANGRY.finditer(text)]
    negative = [m.group(0) for m in _NEGATIVE.finditer(text)]
    shouting = [w for w in _SHOUTING.findall(text) if w not in {"ASAP", "HTTP", "USPS", "UPS", "DHL", "GPS"}]
    exclaim = _EXCLAIM.findall(text)
    urgent = [m.group(0) for m in _URGENT.finditer(text)]
    human = [m.group(0) for m in _HUMAN.finditer(text)]
    is_angry = bool(angry) or (bool(negative) and bool(shouting or exclaim))
    if angry or negative or shouting or (exclaim and urgent):
        sentiment: Sentiment = "negative"
    elif _POSITIVE.search(text):
        sentiment = "positive"
    else:
        sentiment = "neutral"
    return MessageAnalysis(
        language=message_language(message),
        sentiment=sentiment,
        angry=is_angry,
        urgency="high" if urgent or (negative and exclaim) else "normal",
        human_requested=bool(human),
        order_ids=order_ids,
        cues=tuple(dict.fromkeys([*human, *angry, *negative, *shouting, *exclaim, *urgent])),
    )
