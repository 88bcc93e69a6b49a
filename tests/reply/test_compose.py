from __future__ import annotations

from datetime import date

import pytest

from kbsuggest.analysis import analyse
from kbsuggest.articles.split import slugify
from kbsuggest.articles.templates import Tone, load_templates
from kbsuggest.reply.compose import Block, clarify_lead, clarifying_question, compose, phrase_pattern
from kbsuggest.reply.promotions import Promotion, Running
from kbsuggest.reply.trace import untraced
from kbsuggest.retrieval.models import Answer

TEMPLATES = load_templates()

ANSWER = Answer(
    article_id="refunds",
    anchor="refund-timing",
    title="Refunds",
    heading_path=("Refunds", "Refund timing"),
    text="Once your return is inspected, we issue the refund within 2 business days. Banks take 5-7 days.",
    snippet="Once your return is inspected, we issue the refund within 2 business days.",
    score=1.0,
    matched_by="both",
    section_id="refunds#refund-timing",
    path="articles/en/refunds.md",
    line_start=11,
    line_end=14,
    locale="en",
)


def test_draft_structure_for_an_upset_customer() -> None:
    message = "this is ridiculous, still no refund!!"
    draft = compose(
        message,
        analyse(message),
        [Block(message, ANSWER)],
        templates=TEMPLATES["en"],
        tone="friendly",
        context={"customer_name": "Sam", "agent_name": "Alex"},
    )
    paragraphs = draft.text.split("\n\n")
    assert paragraphs[0] in ("Hi Sam,", "Hello Sam,")
    assert paragraphs[1] in TEMPLATES["en"].tones["friendly"].acknowledge_late  # "still no refund": it is late
    assert paragraphs[2] == ANSWER.text  # the sentence sharing the message's words, topped up with the section's
    assert paragraphs[-1].endswith("Alex")
    assert draft.citations == ("refunds#refund-timing",) and draft.missing_slots == ()


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("you charged me twice for the same order", "acknowledge_charged_twice"),
        ("headlamp arrived yesterday and won't charge at all", "acknowledge_damaged"),
        ("ordered an M and got the wrong size", "acknowledge_wrong_item"),
        ("it's been 10 days and still no parcel", "acknowledge_late"),
        ("this is ridiculous, your site is useless!!", "acknowledge"),  # unhappy, nothing specific
    ],
)
def test_the_acknowledgement_names_what_happened(message: str, field: str) -> None:
    for tone in ("friendly", "formal", "concise"):
        draft = compose(message, analyse(message), (), templates=TEMPLATES["en"], tone=tone, context={})
        assert draft.text.split("\n\n")[1] in getattr(TEMPLATES["en"].tones[tone], field)


def test_chinese_acknowledgements_follow_the_event() -> None:
    message = "同一个订单扣了我两次钱！！"
    draft = compose(message, analyse(message), (), templates=TEMPLATES["zh"], tone="formal", context={})
    assert draft.text.split("\n\n")[1] in TEMPLATES["zh"].tones["formal"].acknowledge_charged_twice


def test_neutral_message_gets_no_apology_and_missing_name_uses_the_nameless_greeting() -> None:
    message = "when do refunds arrive"
    draft = compose(
        message, analyse(message), [Block(message, ANSWER)], templates=TEMPLATES["en"], tone="concise", context={}
    )
    greeting, answer = draft.text.split("\n\n")[:2]
    assert greeting in TEMPLATES["en"].tones["concise"].greeting_no_name and answer.startswith(ANSWER.snippet)
    assert draft.missing_slots == ("agent_name",) and "{agent_name}" in draft.text


def test_handoff_without_answer_states_no_facts_and_keeps_missing_slots_visible() -> None:
    message = "转人工"
    draft = compose(message, analyse(message), (), templates=TEMPLATES["zh"], tone="friendly", context={}, handoff=True)
    assert draft.citations == () and draft.language == "zh"
    assert TEMPLATES["zh"].tones["friendly"].handoff_no_order[0] in draft.text and "订单" not in draft.text
    assert "{agent_name}" in draft.text and draft.missing_slots == ("agent_name",)


def test_order_number_in_the_message_fills_the_slot() -> None:
    message = "where's my order A1048321, I want a real person"
    draft = compose(message, analyse(message), (), templates=TEMPLATES["en"], tone="formal", context={}, handoff=True)
    assert "order A1048321" in draft.text


@pytest.mark.parametrize(
    "message",
    [
        "my card 4111111111111111 was charged twice, I want a human",
        "我的IBAN是DE89370400440532013000，转人工",
        "手机13800138000，转人工",
        "order number 07911 123456, I want a human",
    ],
)
def test_a_personal_number_is_never_named_as_the_order(message: str) -> None:
    templates = TEMPLATES[analyse(message).language]
    draft = compose(message, analyse(message), (), templates=templates, tone="friendly", context={}, handoff=True)
    assert templates.tones["friendly"].handoff_no_order[0] in draft.text
    assert not any(char.isdigit() for char in draft.text)


@pytest.mark.parametrize("with_lead", [True, False], ids=["lead-phrase", "templates-without-clarify_answer"])
def test_a_clarifying_question_comes_with_the_answer_to_its_first_option(with_lead: bool) -> None:
    message = "I want to send this jacket back"
    templates = TEMPLATES["en"]
    if not with_lead:  # a template file from before the phrase: the answer follows the question
        concise = templates.tones["concise"].model_copy(update={"clarify_answer": ()})
        templates = templates.model_copy(update={"tones": {**templates.tones, "concise": concise}})
    options = ("Refunds", "Exchanges")
    question = clarifying_question(templates, "concise", message, options)
    lead = clarify_lead(templates, "concise", message, options[0])
    draft = compose(
        message,
        analyse(message),
        [Block(message, ANSWER)],
        templates=templates,
        tone="concise",
        context={},
        question=question,
        lead=lead,
    )
    expected = [question, "If it's Refunds:", ANSWER.text] if with_lead else [question, ANSWER.text]
    assert question == "Is this about Refunds or Exchanges?" and (lead is not None) == with_lead
    assert draft.text.split("\n\n")[1 : 1 + len(expected)] == expected
    assert draft.citations == ("refunds#refund-timing",)


def test_drafts_are_deterministic() -> None:
    message = "my parcel is late!!"
    first = compose(
        message, analyse(message), [Block(message, ANSWER)], templates=TEMPLATES["en"], tone="friendly", context={}
    )
    again = compose(
        message, analyse(message), [Block(message, ANSWER)], templates=TEMPLATES["en"], tone="friendly", context={}
    )
    assert first == again


def test_a_conversation_does_not_repeat_the_phrases_the_agent_already_used() -> None:
    message = "it's been 10 days and still no parcel"
    phrases = TEMPLATES["en"].tones["friendly"]
    context = {"customer_name": "Sam", "agent_name": "Alex"}

    def reply(said: list[str]) -> list[str]:
        draft = compose(
            message,
            analyse(message),
            [Block(message, ANSWER)],
            templates=TEMPLATES["en"],
            tone="friendly",
            context=context,
            said=said,
        )
        return draft.text.split("\n\n")

    first = reply([])
    second = reply(["\n\n".join(first)])
    greetings = {p.replace("{customer_name}", "Sam") for p in phrases.greeting}
    closings = {p.replace("{agent_name}", "Alex") for p in phrases.closing}
    assert first[0] in greetings and second[0] in greetings - {first[0]}
    assert first[1] in phrases.acknowledge_late and second[1] in set(phrases.acknowledge_late) - {first[1]}
    assert second[-2] in set(phrases.next_step) - {first[-2]}
    assert second[-1] in closings - {first[-1]}
    # Every late acknowledgement said already: none is said a third time; the answer is still there.
    third = reply(["\n\n".join(first), "\n\n".join(second)])
    assert not set(third) & set(phrases.acknowledge_late) and ANSWER.snippet in third[1]


@pytest.mark.parametrize("tone", ["friendly", "formal", "concise"])
def test_a_quoted_chinese_sentence_leaves_addressing_the_customer_to_the_greeting(tone: str) -> None:
    text = "亲，签收后30天内，尺码不合适可以申请换货。每个订单可以免费换一次尺码。"
    answer = ANSWER.model_copy(
        update={"article_id": "exchanges-zh", "section_id": "exchanges-zh#换尺码", "text": text, "locale": "zh-CN"}
    )
    message = "衣服尺码不合适 能换吗"
    draft = compose(
        message, analyse(message), [Block(message, answer)], templates=TEMPLATES["zh"], tone=tone, context={}
    )
    body = draft.text.split("\n\n")[1]
    assert body.startswith("签收后30天内，尺码不合适可以申请换货。")
    assert "亲" not in draft.text.split("\n\n", 1)[1]  # said once at most, by a friendly greeting
    assert untraced(draft, TEMPLATES["zh"], {"exchanges-zh#换尺码": text}) == []


@pytest.mark.parametrize("tone", ["friendly", "formal", "concise"])
def test_an_ended_promotion_whose_quote_gives_its_end_still_gets_its_start(tone: Tone) -> None:
    quoted = "双十一活动已于2025年11月11日结束，商品已恢复原价。"
    ended = Promotion("d11", "2025双十一活动", date(2025, 11, 1), date(2025, 11, 11), True, "d11#after", quoted)
    message = "双十一活动是几号到几号的？"
    draft = compose(
        message, analyse(message), [Block(message, ended)], templates=TEMPLATES["zh"], tone=tone, context={}
    )
    assert "2025年11月1日" in draft.text and quoted in draft.text
    assert draft.text.count("2025年11月11日") == 2  # the dates once, the quoted end once: no third "已于…结束"
    assert untraced(draft, TEMPLATES["zh"], {"d11#after": quoted}) == []


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_running_promotion_is_introduced_with_its_end_and_quoted_from_its_section(language: str) -> None:
    text = "Everything is 20% off. Gift cards are the only exclusion." if language == "en" else "全场满¥300减¥40。"
    running = Running("bf", "Black Friday", date(2026, 11, 20), date(2026, 12, 2), "bf#terms", text)
    message = "is the summer sale still on?"
    for tone in ("friendly", "formal", "concise"):
        draft = compose(
            message, analyse(message), [Block(message, running)], templates=TEMPLATES[language], tone=tone, context={}
        )
        end = "December 2, 2026" if language == "en" else "2026年12月2日"
        assert end in draft.text and draft.text.index(end) < draft.text.index("20%" if language == "en" else "满")
        assert draft.citations == ("bf#terms",) and untraced(draft, TEMPLATES[language], {"bf#terms": text}) == []


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("tone", ["friendly", "formal", "concise"])
def test_the_running_promotions_end_is_said_once_when_a_quoted_sentence_gives_it(language: str, tone: Tone) -> None:
    if language == "en":
        text = "Everything is 20% off. The sale ends at 11:59 pm on December 2, 2026."
        message, end = "is the summer sale still on? any discount now", "December 2"
    else:
        text = "全场满¥300减¥40，到12月2日23:59结束。"
        message, end = "夏季大促还有吗？现在有什么优惠", "12月2日"
    running = Running("bf", "Black Friday", date(2026, 11, 20), date(2026, 12, 2), "bf#terms", text)
    draft = compose(
        message, analyse(message), [Block(message, running)], templates=TEMPLATES[language], tone=tone, context={}
    )
    assert draft.text.count(end) == 1 and "Black Friday" in draft.text  # named, its end given by the quote only
    assert untraced(draft, TEMPLATES[language], {"bf#terms": text}) == []


AFTER_D11 = (
    "双十一活动已于2025年11月11日结束，商品已恢复原价。",
    "双十一期间购买的商品，签收后30天内可以退货。",
    "退款按您当时的实际支付金额原路退回。",
    "最新活动请关注App首页。",
)


@pytest.mark.parametrize(("tone", "count"), [("friendly", 3), ("formal", 3), ("concise", 1)])
def test_an_ended_promotion_is_quoted_at_the_tones_count_with_its_dates_as_one_sentence(tone: Tone, count: int) -> None:
    after = "".join(AFTER_D11)
    ended = Promotion("d11", "2025双十一活动", date(2025, 11, 1), date(2025, 11, 11), True, "d11#after", after)
    message = "双十一买的东西现在退货，是按原价退吗"
    draft = compose(
        message, analyse(message), [Block(message, ended)], templates=TEMPLATES["zh"], tone=tone, context={}
    )
    assert sum(sentence in draft.text for sentence in AFTER_D11) == count
    assert (AFTER_D11[2] in draft.text) is (tone != "concise")  # the refund sentence: not in a one-sentence quote
    assert untraced(draft, TEMPLATES["zh"], {"d11#after": after}) == []


@pytest.mark.parametrize(("tone", "chatty"), [("formal", False), ("friendly", True), ("concise", True)])
def test_a_formal_reply_quotes_a_chatty_sentence_without_its_particle(tone: Tone, chatty: bool) -> None:
    text = (
        "电子普通发票填错了可以申请重开哦，拿不准的亲，可以先问客服。发票上的商品名称和金额按实际订单开具，不能修改哦。"
    )
    answer = ANSWER.model_copy(update={"text": text, "section_id": "invoices#wrong", "locale": "zh-CN"})
    message = "发票上的金额能修改吗"
    draft = compose(
        message, analyse(message), [Block(message, answer)], templates=TEMPLATES["zh"], tone=tone, context={}
    )
    assert "按实际订单开具，不能修改" in draft.text
    assert ("不能修改哦。" in draft.text) is chatty and ("不能修改。" in draft.text) is not chatty
    assert ("重开哦，拿不准的亲，" in draft.text) is chatty and ("重开，拿不准的，" in draft.text) is not chatty
    assert untraced(draft, TEMPLATES["zh"], {"invoices#wrong": text}) == []


EXCLUSIONS = {
    "en": ("What the warranty doesn't cover", "- Normal wear and tear, such as faded colours\n- Damage from accidents"),
    "zh": ("不参与价保的情况", "- 限时秒杀价格；\n- 直播间、社群专享价。"),
}


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("tone", ["friendly", "formal", "concise"])
def test_a_list_that_opens_its_section_is_led_in_by_the_heading(language: str, tone: Tone) -> None:
    heading, text = EXCLUSIONS[language]
    cited = f"warranty#{slugify(heading)}"  # a section id names its heading's anchor
    answer = ANSWER.model_copy(
        update={"text": text, "heading_path": ("Warranty", heading), "anchor": slugify(heading), "section_id": cited}
    )
    message = "is a faded jacket covered" if language == "en" else "秒杀价能价保吗"
    draft = compose(
        message, analyse(message), [Block(message, answer)], templates=TEMPLATES[language], tone=tone, context={}
    )
    colon = "：" if language == "zh" else ":"
    assert f"\n\n{heading}{colon}\n- " in draft.text  # not a bare list that reads as what is covered
    assert untraced(draft, TEMPLATES[language], {cited: text}) == []
    other = answer.model_copy(update={"anchor": "renamed"})  # a heading the cited anchor does not come from
    draft = compose(
        message, analyse(message), [Block(message, other)], templates=TEMPLATES[language], tone=tone, context={}
    )
    assert heading not in draft.text


@pytest.mark.parametrize("tone", ["friendly", "formal"])
def test_a_lead_in_ends_its_line(tone: Tone) -> None:
    text = (
        "双十二从11月20日开始。活动期间全场商品参与满减：\n\n实付商品金额: 满¥300; 优惠: 减¥40\n"
        "实付商品金额: 满¥600; 优惠: 减¥100\n\n满减不累计，按最高一档计算。"
    )
    answer = ANSWER.model_copy(update={"text": text, "section_id": "d12#tiers", "locale": "zh-CN"})
    message = "双十二满减怎么算"
    draft = compose(
        message, analyse(message), [Block(message, answer)], templates=TEMPLATES["zh"], tone=tone, context={}
    )
    assert "参与满减：\n满¥300" in draft.text  # never "参与满减：满¥300：减¥40。" in one run
    assert untraced(draft, TEMPLATES["zh"], {"d12#tiers": text}) == []


@pytest.mark.parametrize(
    ("message", "language", "apology"),
    [
        ("刚下单10分钟 下错了 怎么取消", "zh", False),
        ("发票抬头写错了能重开吗 要钱吗", "zh", False),
        ("oops I ordered the wrong size by mistake, can I swap it?", "en", False),
        ("I typed the wrong address, ugh. can it still be changed?", "en", False),
        ("你们发错货了 我要的是黑色", "zh", True),
        ("you sent the wrong size!! I ordered an M", "en", True),
    ],
)
@pytest.mark.parametrize("tone", ["friendly", "formal", "concise"])
def test_no_apology_for_the_customers_own_slip(message: str, language: str, apology: bool, tone: Tone) -> None:
    assert analyse(message).sentiment == "negative"  # an unhappy message, which gets an apology unless it is a slip
    draft = compose(
        message, analyse(message), [Block(message, ANSWER)], templates=TEMPLATES[language], tone=tone, context={}
    )
    ones = TEMPLATES[language].tones[tone]
    phrases = (*ones.acknowledge, *ones.acknowledge_wrong_item)
    assert any(p in draft.text for p in phrases) is apology


@pytest.mark.parametrize(
    ("message", "language", "text"),
    [
        (
            "NO tracking update for 6 business days now!!! order A1120418 what is going on",
            "en",
            "If your tracking hasn't updated for 3 business days, contact us with your order number and we'll check.",
        ),
        (
            "退款发起都两周了还没到账！！订单A3021877 怎么回事",
            "zh",
            "超过7个工作日仍未到账，请联系在线客服并提供订单号。",
        ),
    ],
)
@pytest.mark.parametrize("tone", ["friendly", "formal", "concise"])
def test_an_answer_asking_for_the_order_number_the_message_gave_says_it_has_it(
    message: str, language: str, text: str, tone: Tone
) -> None:
    answer = ANSWER.model_copy(update={"text": text, "section_id": "s#x"})
    order = analyse(message).order_ids[0]
    draft = compose(
        message, analyse(message), [Block(message, answer)], templates=TEMPLATES[language], tone=tone, context={}
    )
    known = [p.replace("{order_id}", order) for p in TEMPLATES[language].tones[tone].order_known]
    assert text in draft.text and any(p in draft.text for p in known)
    assert untraced(draft, TEMPLATES[language], {"s#x": text}) == []
    without = message.replace(order, "")
    draft = compose(
        without, analyse(without), [Block(without, answer)], templates=TEMPLATES[language], tone=tone, context={}
    )
    assert not any(phrase_pattern(p).search(draft.text) for p in TEMPLATES[language].tones[tone].order_known)
