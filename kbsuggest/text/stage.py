"""Where in buying the customer is, read from their message: before buying (pre_sale), while buying or waiting
for the order (in_sale), or after receiving it (after_sale), the stages articles carry in their front matter.

A small cue list per language, written from general e-commerce knowledge (what shoppers ask before, during and
after a purchase), not from any evaluation set. Pure and deterministic. "Not received yet" is read first and
taken out of the text, so "haven't received" / "还没收到" count as waiting for the order, never as received.
"""

from __future__ import annotations

import re

STAGES = ("pre_sale", "in_sale", "after_sale")

_WAITING = re.compile(
    r"\b(?:(?:has ?n'?t|have ?n'?t|has not|have not|did ?n'?t|did not|never|not yet|still not|not)\s+"
    r"(?:been\s+)?(?:received|got(?:ten)?|arrived|come|delivered|shipped|dispatched))\b"
    r"|没收到|还没到|没到货|还没发|没发货|未发货|未收到",
    re.IGNORECASE,
)
"""Waiting for an order that has not come: in_sale, and read before the after_sale cues."""

_CUES: dict[str, dict[str, re.Pattern[str]]] = {
    "en": {
        "pre_sale": re.compile(
            r"\b(?:do you (?:have|sell|carry|stock|ship to|offer|accept)|in stock|out of stock|back in stock"
            r"|available|availability|is (?:it|this|that|the \w+) (?:waterproof|real|genuine|authentic|original"
            r"|compatible|washable|true to size)|does (?:it|this|that|the \w+) (?:come|fit|work|have|include)"
            r"|will (?:it|this|that|the \w+) (?:fit|work)|what size|which size|size (?:should|would)|sizing"
            r"|size chart|recommend|difference between|how much (?:is|does|are)|price|discount|coupon|promo"
            r"|before (?:i|we) (?:buy|order|purchase)|thinking (?:of|about) (?:buying|getting|ordering)"
            r"|(?:want|planning|going) to (?:buy|order|purchase)|looking to buy|interested in)\b",
            re.IGNORECASE,
        ),
        "in_sale": re.compile(
            r"\b(?:check ?out|payment (?:failed|declined|did ?n'?t go through|not going through)"
            r"|card (?:was )?(?:declined|rejected)|place (?:an|my|the) order|placing (?:an|my|the) order"
            r"|(?:change|cancel|modify|edit) (?:my|the|an|this) order|before it ships|where(?:'s| is) my"
            r"|tracking|track (?:my|the|an)|in transit|out for delivery|on (?:its|the) way"
            r"|when will (?:it|my \w+) (?:arrive|ship|be delivered|come)|waiting for (?:my|the) (?:order|package"
            r"|parcel|delivery)|order status|just (?:ordered|placed)|charged twice|double charged)\b",
            re.IGNORECASE,
        ),
        "after_sale": re.compile(
            r"\b(?:received|arrived|bought|purchased|got (?:it|my order|the (?:item|package|order|parcel))"
            r"|broke|broken|stopped working|does ?n'?t work|not working|defective|faulty|damaged|peeling|torn"
            r"|ripped|cracked|leaking|after \d+ (?:days?|weeks?|months?|years?)|warranty|guarantee|returns?"
            r"|returning|refund(?:ed|s)?|exchange|replacement|send (?:it )?back|money back|invoice|receipt"
            r"|review|wrong (?:item|size|colou?r)|missing (?:item|part|piece)s?)\b",
            re.IGNORECASE,
        ),
    },
    "zh": {
        "pre_sale": re.compile(
            r"有货|有没有货|还有货|现货|缺货|是正品|正品吗|是不是正品|选哪个|哪个好|哪款|多大码|什么码|哪个码|尺码"
            r"|码数|合适吗|能穿吗|防水吗|多少钱|价格|优惠|便宜|打折|折扣|优惠券|满减|包邮吗|想买|准备买|打算买"
            r"|考虑买|推荐|区别|能用吗"
        ),
        "in_sale": re.compile(
            r"付款|支付|付不了|下单|拍下|拍了|下了单|改地址|修改地址|改收货|改订单|修改订单|取消订单|发货|什么时候发"
            r"|快递到哪|物流|到哪了|单号|运单|在途|派送|配送"
        ),
        "after_sale": re.compile(
            r"收到|签收|买了[\d一两二三四五六七八九十几半]+个?(?:天|周|星期|月|年)|用了|穿了|坏了|破了|破损|掉色|起球|开线|脱胶|质量问题"
            r"|不能用|不好用|退货|退款|换货|退换|售后|保修|维修|发票|评价|好评|差评|少发|漏发|发错|错发"
            r"|与描述不符|寄回|退回"
        ),
    },
}
"""Per language, the cues of each stage."""


def stage_evidence(text: str) -> dict[str, float]:
    """Each stage's share of the stage cues in `text` (both languages' cues are read), summing to 1; empty when
    the message names none, e.g. "seam is peeling after 14 months" -> {"after_sale": 1.0}."""
    counts = dict.fromkeys(STAGES, 0)
    counts["in_sale"] = len(_WAITING.findall(text))
    rest = _WAITING.sub(" ", text)
    for cues in _CUES.values():
        for stage, pattern in cues.items():
            counts[stage] += len(pattern.findall(rest))
    total = sum(counts.values())
    return {stage: n / total for stage, n in counts.items() if n} if total else {}
