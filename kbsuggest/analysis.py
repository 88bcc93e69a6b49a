"""Customer message -> `MessageAnalysis`: language, sentiment, urgency, a request for a person, order numbers.

Rule-based and bilingual (English, Chinese) so every decision can be read back from the cues it lists.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
_ORDER_ID = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,3}-?\d{6,}|\d{8,})(?![A-Za-z0-9])")
_SHOUTING = re.compile(r"\b[A-Z]{4,}\b")
_EXCLAIM = re.compile(r"[!！]{2,}|[?？][!！]|[!！][?？]")


class MessageAnalysis(BaseModel):
    """What the message says about the customer, beyond the question itself."""

    model_config = ConfigDict(frozen=True)

    language: Literal["en", "zh"]
    sentiment: Sentiment
    angry: bool = Field(description="Strong anger: insults, threats, swearing, or several negative cues at once.")
    urgency: Urgency
    human_requested: bool
    order_ids: tuple[str, ...] = ()
    cues: tuple[str, ...] = Field(default=(), description="The words that drove sentiment, urgency and hand-off.")


def analyse(message: str) -> MessageAnalysis:
    """Analyse a raw customer message: the one place its language is decided."""
    angry = [m.group(0) for m in _ANGRY.finditer(message)]
    negative = [m.group(0) for m in _NEGATIVE.finditer(message)]
    shouting = [w for w in _SHOUTING.findall(message) if w not in {"ASAP", "HTTP", "USPS", "UPS", "DHL", "GPS"}]
    exclaim = _EXCLAIM.findall(message)
    urgent = [m.group(0) for m in _URGENT.finditer(message)]
    human = [m.group(0) for m in _HUMAN.finditer(message)]
    is_angry = bool(angry) or (bool(negative) and bool(shouting or exclaim))
    if angry or negative or shouting or (exclaim and urgent):
        sentiment: Sentiment = "negative"
    elif _POSITIVE.search(message):
        sentiment = "positive"
    else:
        sentiment = "neutral"
    return MessageAnalysis(
        language=message_language(message),
        sentiment=sentiment,
        angry=is_angry,
        urgency="high" if urgent or (negative and exclaim) else "normal",
        human_requested=bool(human),
        order_ids=tuple(dict.fromkeys(m.group(1) for m in _ORDER_ID.finditer(message))),
        cues=tuple(dict.fromkeys([*human, *angry, *negative, *shouting, *exclaim, *urgent])),
    )
