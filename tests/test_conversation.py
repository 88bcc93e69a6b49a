"""The conversation rules, as pure functions: bounds, options offered and picked, cues, the decision, slots."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kbsuggest.analysis import analyse
from kbsuggest.articles.templates import load_templates
from kbsuggest.conversation import (
    MAX_HISTORY_CHARS,
    MAX_TURNS,
    THRESHOLDS,
    TURN_CACHE_SIZE,
    Thresholds,
    Turn,
    already_sent,
    contextual_wins,
    decide,
    history_slots,
    history_turns,
    needs_contextual,
    offered_options,
    picked_option,
    plan,
    question_patterns,
)
from kbsuggest.errors import InputError
from kbsuggest.retrieval.retriever import Retrieval
from tests.reply.test_suggest import answer

TEMPLATES = load_templates()
OWN = question_patterns(p for t in TEMPLATES.values() for tones in t.tones.values() for p in tones.clarify)
TITLES = {"Shipping methods and costs", "When will my order arrive", "如何申请退款?", "如何查询退款进度?"}


def customer(text: str) -> Turn:
    return Turn(role="customer", text=text)


def agent(text: str) -> Turn:
    return Turn(role="agent", text=text)


def test_the_next_message_of_a_conversation_reuses_its_turns_analysis() -> None:
    """The earlier turns come again with every message of a conversation: each is analysed once (issue 15's
    latency), from dicts or `Turn`s alike, among the last `TURN_CACHE_SIZE` turns seen."""
    history = [
        {"role": "customer", "text": "衣服不喜欢了 能腿吗 我是黄磊"},
        {"role": "agent", "text": "可以的亲，30天内可退。"},
    ]
    first = history_turns(history)
    assert history_slots(first) == {"customer_name": "黄磊"} and first[1].words  # read: analysis and words kept
    again = history_turns([customer(history[0]["text"]), history[1], customer("那邮费呢")])
    assert again[0] is first[0] and again[1] is first[1]
    assert {"analysis", "words"} <= set(again[0].__dict__) | set(again[1].__dict__)
    assert history_turns([agent(history[0]["text"])])[0] is not first[0]  # the role is part of the key
    for i in range(TURN_CACHE_SIZE):
        history_turns([customer(f"turn {i}")])
    assert history_turns(history)[0] is not first[0]  # bounded: the least recently used went


def test_a_history_is_a_bounded_list_of_customer_and_agent_turns() -> None:
    turns = history_turns([{"role": "customer", "text": "hi"}, agent("Hello!")])
    assert turns == (customer("hi"), agent("Hello!"))
    assert history_turns(None) == ()
    cases = {
        "history is str, not a list": "hi there",
        "history[0]: role: Input should be 'customer' or 'agent'": [{"role": "bot", "text": "hi"}],
        "history[1]: mood: Extra inputs are not permitted": [customer("a"), {"role": "agent", "text": "b", "mood": 1}],
        "history[0]: text: Field required": [{"role": "customer"}],
        f"over the limit of {MAX_TURNS}": [customer("a")] * (MAX_TURNS + 1),
        "history[0]: turn: Input should be a valid string": [{"role": "customer", "text": "a", "\udcff": 1}],
        "history[0].text is not valid Unicode": [{"role": "customer", "text": "a\udcff"}],
        f"over the limit of {MAX_HISTORY_CHARS}": [customer("a" * 3000), agent("b" * 3000), customer("c" * 3000)],
    }
    for expected, history in cases.items():
        with pytest.raises(InputError, match="Fix: ") as caught:
            history_turns(history)
        assert expected in str(caught.value)
        str(caught.value).encode("utf-8")  # printable, whatever the input held


@pytest.mark.parametrize(
    ("turn", "options"),
    [
        (
            "Just so I point you to the right answer: is this about Shipping methods and costs or When will my "
            "order arrive?",
            ("Shipping methods and costs", "When will my order arrive"),
        ),
        (
            "为了给您准确的答复，想确认一下：您是想咨询如何申请退款?，还是如何查询退款进度?呢？",
            ("如何申请退款?", "如何查询退款进度?"),  # the titles, as kbsuggest asked
        ),
        ("No problem! returns or exchanges?", ("returns", "exchanges")),
        ("亲，退款还是换货？", ("退款", "换货")),
        (
            "Sorry to hear that! Is it about signing in, creating a new account, or updating your details?",
            ("signing in", "creating a new account", "updating your details"),
        ),
        ("亲，请问是登录不上、注册不了，还是要修改个人资料呢？", ("登录不上", "注册不了", "要修改个人资料")),
        (
            "Sure, what should change? 1) the items or a size 2) the delivery address 3) cancel it",
            ("the items or a size", "the delivery address", "cancel it"),
        ),
        (
            "亲，请问是哪一类呢？\n1. 登录/密码\n2. 注销账户\n3. 个人信息查询或删除",
            ("登录/密码", "注销账户", "个人信息查询或删除"),
        ),
        ("Standard shipping takes 3-5 business days.", ()),
        ("Anything else I can help with?", ()),
    ],
)
def test_the_options_an_agent_offers_are_read_in_order(turn: str, options: tuple[str, ...]) -> None:
    assert offered_options(turn, OWN, TITLES) == options


def test_kbsuggest_s_own_question_is_read_with_the_titles_when_a_title_holds_or() -> None:
    turn = "Just so I point you to the right answer: is this about Damaged, wrong or missing items or Exchanges?"
    titles = {"Damaged, wrong or missing items", "Exchanges"}
    assert offered_options(turn, OWN, titles) == ("Damaged, wrong or missing items", "Exchanges")


@pytest.mark.parametrize(
    ("message", "position"),
    [
        ("the 2nd one, already sent it back", 1),
        ("2", 1),
        ("the first", 0),
        ("第二个", 1),
        ("第一个 颜色发错了", 0),
        ("the refund one", 0),
        ("exchange, need a 10.5", 1),
        ("换货", 1),
        ("退款", 0),
    ],
)
def test_the_customer_picks_an_option_by_position_or_by_its_words(message: str, position: int) -> None:
    options = ("Refunds", "Exchanges") if message.isascii() else ("退款", "换货")
    picked = picked_option(message, options)
    assert picked is not None and picked[0] == position


def test_no_option_is_picked_when_the_message_names_none_or_both() -> None:
    assert picked_option("hmm not sure", ("Refunds", "Exchanges")) is None
    assert picked_option("refunds and exchanges", ("Refunds", "Exchanges")) is None


def retrieval(article: str, probability: float, *, in_scope: bool = True) -> Retrieval:
    return Retrieval("q", "en", (answer(article, article.title()),), {}, np.array([1.0]), in_scope, probability)


SHIPPING_TALK = (customer("how much is standard shipping"), agent("Standard shipping is $5.95, free over $49."))


def decided(
    message: str, history: tuple[Turn, ...], alone: Retrieval, contextual: Retrieval
) -> tuple[Retrieval, str, str]:
    """The decision, given what retrieving the message alone and the contextual query would give."""
    steps = plan(message, analyse(message), history, OWN)
    if steps.kind is not None:  # decided by the cues: only its query is retrieved
        chosen, use = decide(steps, contextual)
    else:
        chosen, use = decide(steps, alone, contextual if needs_contextual(steps, alone) else None)
    return chosen, use.kind, use.query


@pytest.mark.parametrize("message", ["and express?", "what about the jacket?", "and if it already shipped?", "klarna?"])
def test_an_elliptical_message_is_answered_with_the_earlier_topic(message: str) -> None:
    contextual = retrieval("shipping", 0.9)
    chosen, kind, query = decided(message, SHIPPING_TALK, retrieval("refunds", 0.2), contextual)
    assert (chosen, kind) == (contextual, "follow_up")
    assert query == f"{message} how much is standard shipping Standard shipping is $5.95, free over $49."


@pytest.mark.parametrize("message", ["那退款呢", "运费谁出", "要是已经发货了呢"])
def test_a_chinese_elliptical_message_is_answered_with_the_earlier_topic(message: str) -> None:
    history = (customer("衣服不合身 想退货"), agent("亲，签收后30天内可以退货哦。"))
    contextual = retrieval("returns", 0.9)
    chosen, kind, _ = decided(message, history, retrieval("shipping", 0.9), contextual)
    assert (chosen, kind) == (contextual, "follow_up")


def test_a_complete_question_ignores_the_history() -> None:
    alone = retrieval("refunds", 0.9)
    chosen, kind, query = decided(
        "Different question: how long does a refund take?", SHIPPING_TALK, alone, retrieval("shipping", 0.95)
    )
    assert (chosen, kind, query) == (alone, "topic_shift", "Different question: how long does a refund take?")
    chosen, kind, _ = decided("Is express shipping faster?", SHIPPING_TALK, alone, retrieval("refunds", 0.95))
    assert (chosen, kind) == (alone, "standalone")  # shares "shipping" with the earlier customer turn


def test_a_complete_message_is_a_follow_up_when_the_earlier_turns_make_it_much_surer() -> None:
    contextual = retrieval("shipping", 0.95)
    message = "can I send it to my sister in Vancouver instead?"
    chosen, kind, query = decided(message, SHIPPING_TALK, retrieval("refunds", 0.6), contextual)
    assert (chosen, kind) == (contextual, "follow_up")
    assert query == f"{message} how much is standard shipping Standard shipping is $5.95, free over $49."
    steps = plan(message, analyse(message), SHIPPING_TALK, OWN)
    margin, floor = THRESHOLDS.follow_up_margin, THRESHOLDS.follow_up_floor
    assert not needs_contextual(steps, retrieval("refunds", 1 - margin))  # no query could beat it by the margin
    assert not needs_contextual(steps, retrieval("refunds", floor - 0.01))  # unsure alone: not answered


REFUND_TALK_ZH = (customer("退款退到哪"), agent("亲，退款一律原路退回：支付宝付的退支付宝，微信付的退微信。"))


@pytest.mark.parametrize(
    ("message", "history"),
    [
        ("Do you take PayPal?", SHIPPING_TALK),
        ("下次买东西支持花呗吗", REFUND_TALK_ZH),
        ("可以开专票吗", REFUND_TALK_ZH),
    ],
)
def test_a_new_question_is_answered_alone_however_sure_the_earlier_topic_makes_it(
    message: str, history: tuple[Turn, ...]
) -> None:
    """No word of the earlier customer turns, nothing pointing back: its contextual query is not scored, even where
    the earlier topic (the agent's answer, in an article's own words) would make it much surer."""
    steps = plan(message, analyse(message), history, OWN)
    assert steps.contextual is None
    alone = retrieval("payment", 0.5)
    chosen, kind, query = decided(message, history, alone, retrieval("shipping", 0.95))
    assert (chosen, kind, query) == (alone, "topic_shift", message)


@pytest.mark.parametrize(
    ("message", "history"),
    [
        ("how long before it shows up?", (customer("how do i leave a review for the rug"), agent("Go to Orders."))),
        ("什么时候打电话人少 不用排队", (customer("客服电话"), agent("亲，+1 555 0100，周一至周五 8:00–20:00"))),
        ("那个蓝色的还能退吗", REFUND_TALK_ZH),
        ("退款多久能到账", REFUND_TALK_ZH),
    ],
)
def test_a_complete_message_pointing_back_or_sharing_a_word_can_still_be_a_follow_up(
    message: str, history: tuple[Turn, ...]
) -> None:
    """A pronoun or demonstrative ("it", "那个") may point back; a shared word (a Chinese character pair too:
    "打电话" meets "客服电话") keeps the topic: the contextual query still wins when much surer."""
    contextual = retrieval("shipping", 0.95)
    chosen, kind, _ = decided(message, history, retrieval("refunds", 0.5), contextual)
    assert (chosen, kind) == (contextual, "follow_up")


@pytest.mark.parametrize(
    ("message", "history"),
    [
        ("how long before it shows up?", (customer("how do i leave a review for the rug"), agent("Go to Orders."))),
        ("退款多久能到账", REFUND_TALK_ZH),
    ],
)
def test_a_contextual_query_out_of_scope_never_wins_however_sure(message: str, history: tuple[Turn, ...]) -> None:
    """An out-of-scope retrieval still reports P(first answer right) (issue 14), so a contextual query judged out of
    scope may be much surer than the message alone: it is not used, and the message is answered alone."""
    alone, contextual = retrieval("refunds", 0.5), retrieval("shipping", 0.95, in_scope=False)
    steps = plan(message, analyse(message), history, OWN)
    assert steps.kind is None and needs_contextual(steps, alone)  # the contextual query is scored
    assert contextual_wins(alone, replace(contextual, in_scope=True))  # in scope, it would win
    chosen, use = decide(steps, alone, contextual)
    assert (chosen, use.query) == (alone, message) and use.kind in ("standalone", "topic_shift")


@pytest.mark.parametrize(
    ("message", "history"),
    [("can you mail me a paper catalogue of those?", SHIPPING_TALK), ("那个蓝色扶手椅什么时候补货", REFUND_TALK_ZH)],
)
def test_a_complete_message_out_of_scope_alone_is_not_lent_the_earlier_topic_s_confidence(
    message: str, history: tuple[Turn, ...]
) -> None:
    """Pointing back ("those", "那个"), so its contextual query may be scored; but judged out of scope alone, it is
    handed over as it would be alone, even under a follow-up floor of 0 (the contextual query answered it)."""
    steps = plan(message, analyse(message), history, OWN)
    assert steps.kind is None and steps.contextual is not None
    no_floor = Thresholds(follow_up_margin=0.2, follow_up_floor=0.0, new_question_floor=0.0)
    alone = retrieval("shipping", 0.5, in_scope=False)
    assert not needs_contextual(steps, alone, no_floor)
    chosen, use = decide(steps, alone, None, no_floor)
    assert (chosen, use.kind) == (alone, "topic_shift") and not chosen.in_scope


def test_an_unsure_new_question_mid_conversation_is_not_answered_under_a_new_question_floor() -> None:
    message = "do you price match other shops?"
    steps = plan(message, analyse(message), SHIPPING_TALK, OWN)
    floor = Thresholds(follow_up_margin=0.2, follow_up_floor=0.5, new_question_floor=0.4)
    chosen, use = decide(steps, retrieval("refunds", 0.3), None, floor)
    assert use.kind == "topic_shift" and not chosen.in_scope and chosen.answers[0].article_id == "refunds"
    assert "unsure of a new question" in use.cues
    chosen, use = decide(steps, retrieval("refunds", 0.3))  # the fitted floor: answered as it would be alone
    assert chosen.in_scope == (THRESHOLDS.new_question_floor <= 0.3)


def test_an_answer_to_a_clarifying_question_selects_the_option() -> None:
    history = (customer("I want to send my boots back"), agent("No problem! returns or exchanges?"))
    option = retrieval("exchanges", 0.7)
    steps = plan("the 2nd one", analyse("the 2nd one"), history, OWN)
    assert steps.query == "I want to send my boots back exchanges the 2nd one" and steps.contextual is None
    chosen, use = decide(steps, option)
    assert (chosen, use.kind, use.option, use.turns) == (option, "clarification_answer", "exchanges", (0, 1))


@pytest.mark.parametrize(
    "message",
    [
        "that didn't help. it's been 3 weeks",
        "I ALREADY DID THAT. 4th time asking",
        "how much is standard shipping",
        "没用 钱还没到",
        "都试过了 还是收不到 说了三遍了",
    ],
)
def test_an_unresolved_conversation_is_recognised(message: str) -> None:
    _, kind, _ = decided(message, SHIPPING_TALK, retrieval("refunds", 0.9), retrieval("shipping", 0.9))
    assert kind == "unresolved"


def test_anger_rising_across_turns_is_unresolved_and_a_first_question_is_not() -> None:
    history = (customer("my parcel is late"), agent("Standard shipping takes 3-5 business days."))
    _, kind, _ = decided("this is ridiculous, useless service", history, retrieval("a", 0.9), retrieval("b", 0.9))
    assert kind == "unresolved"
    _, kind, _ = decided("that didn't help", (customer("hello"),), retrieval("a", 0.9), retrieval("b", 0.9))
    assert kind != "unresolved"  # no answer was given yet


def test_the_name_and_order_number_given_earlier_are_found() -> None:
    assert history_slots((customer("Hi, this is Sam Ortega, order A1077405"), agent("Hi Sam!"))) == {
        "customer_name": "Sam Ortega",
        "order_id": "A1077405",
    }
    assert history_slots((customer("Hi, Tom Becker here, need to talk about my order 7781204456"),)) == {
        "customer_name": "Tom Becker",
        "order_id": "7781204456",
    }
    assert history_slots((customer("你好 我是黄磊 订单A1077405"),)) == {"customer_name": "黄磊", "order_id": "A1077405"}
    assert history_slots((agent("Hi, this is Anna from support"), customer("I'm not sure"))) == {}


def test_an_answer_already_sent_is_recognised() -> None:
    history = (customer("how much is shipping"), agent("Standard shipping is $5.95, free on orders over $49."))
    assert already_sent("Standard shipping is $5.95, free on orders over $49.", history)
    assert not already_sent("Express shipping costs $14.95 and takes 1-2 business days.", history)
