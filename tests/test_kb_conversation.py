"""`history` through a real knowledge base (hashing encoder): the decision, the bounds, redaction, eval per kind."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from kbsuggest import KnowledgeBase, conversation
from kbsuggest.analysis import MessageAnalysis, analyse
from kbsuggest.cli import main
from kbsuggest.conversation import MAX_TURNS, history_turns
from kbsuggest.errors import InputError
from kbsuggest.evaluation import read_queries
from kbsuggest.kb import FEEDBACK_FILE
from kbsuggest.privacy import redact
from kbsuggest.reply.questions import split_questions
from kbsuggest.retrieval.models import Filters
from kbsuggest.text.tokenize import normalize_query
from tests.conftest import HASHING, write_articles

SHIPPING_ZH = """---
id: shipping-zh
locale: zh-CN
type: policy
---
# 配送方式与运费

标准快递满99元包邮，不满收10元运费，发货后2–4天送达。顺丰加急运费20元，次日送达。
"""

SHIPPING_TALK = [
    {"role": "customer", "text": "how much is standard shipping"},
    {"role": "agent", "text": "Standard is $5.95, free over $49."},
]


@pytest.fixture
def kb(articles_dir: Path, tmp_path: Path) -> KnowledgeBase:
    return KnowledgeBase.build(articles_dir, tmp_path / "ix", settings=HASHING)


def test_a_follow_up_is_answered_with_the_earlier_topic(kb: KnowledgeBase) -> None:
    alone = kb.suggest("and express?")
    assert alone.conversation is None
    s = kb.suggest("and express?", history=SHIPPING_TALK)
    assert s.conversation is not None
    assert (s.conversation.kind, s.conversation.turns) == ("follow_up", (0, 1))
    assert s.conversation.query == "and express? how much is standard shipping Standard is $5.95, free over $49."
    assert s.answers[0].article_id == "shipping"
    assert kb.search("and express?", history=SHIPPING_TALK)[0].article_id == "shipping"


def test_a_follow_up_takes_its_topic_from_the_agent_s_last_answer_too(articles_dir: Path, tmp_path: Path) -> None:
    """A terse customer turn ("能腿吗": a typo for 能退吗) leaves the topic to the agent's answer: "邮费呢" after
    it asks about the return's postage, not about shipping costs (the customer turns alone: shipping-zh)."""
    articles = write_articles(articles_dir, {"zh/shipping-zh.md": SHIPPING_ZH})
    kb = KnowledgeBase.build(articles, tmp_path / "ix", settings=HASHING)
    history = [
        {"role": "customer", "text": "衣服不喜欢了 能腿吗"},
        {"role": "agent", "text": "可以的亲，签收后30天内，未使用且吊牌完好就能申请退货。"},
    ]
    s = kb.suggest("邮费呢", history=history)
    assert s.answers[0].article_id == "returns-zh"
    assert s.conversation is not None
    assert (s.conversation.kind, s.conversation.turns) == ("follow_up", (0, 1))
    assert s.conversation.query == "邮费呢 衣服不喜欢了 能腿吗 可以的亲，签收后30天内，未使用且吊牌完好就能申请退货。"


def test_an_answer_without_letters_is_answered_in_the_conversation_s_language(kb: KnowledgeBase) -> None:
    history = [
        {"role": "customer", "text": "退货的事"},
        {"role": "agent", "text": "亲，请问是哪一类呢？\n1. 退货期限\n2. 退款到账时间"},
    ]
    s = kb.suggest("2", history=history)
    assert s.conversation is not None and s.conversation.option == "退款到账时间"
    assert s.analysis.language == "zh"  # "2" alone says nothing of its language (read as English before)
    assert s.answers[0].article_id == "returns-zh" and s.answers[0].heading_path[-1] == "退款到账时间"
    assert kb.suggest("2").analysis.language == "en"  # without a conversation, as before


def test_an_answer_to_kbsuggest_s_own_clarifying_question_picks_the_option(kb: KnowledgeBase) -> None:
    titles = {a.meta.id: a.meta.title for a in kb.articles}
    question = f"Just so I point you to the right answer: is this about {titles['refunds']} or {titles['shipping']}?"
    history = [{"role": "customer", "text": "question about my order"}, {"role": "agent", "text": question}]
    for message, article in (("the 2nd one", "shipping"), ("the first", "refunds")):
        s = kb.suggest(message, history=history)
        assert s.conversation is not None and s.conversation.kind == "clarification_answer"
        assert s.answers[0].article_id == article


def test_that_did_not_help_escalates_as_unresolved_with_the_topic_s_answers(kb: KnowledgeBase) -> None:
    s = kb.suggest("that didn't help, it's been 3 weeks", history=SHIPPING_TALK)
    assert (s.escalate, s.escalate_reason) == (True, "unresolved")
    assert s.answers[0].article_id == "shipping"


def test_each_history_turn_is_analysed_once_per_suggestion(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules (anger rising: the earlier turn's sentiment) and the draft (its order number) read one analysis
    of each customer turn; the suggestion is the same when the turns come already analysed."""
    analysed: list[str] = []

    def counted(text: str) -> MessageAnalysis:
        analysed.append(text)
        return analyse(text)

    monkeypatch.setattr(conversation, "analyse", counted)
    history = [
        {"role": "customer", "text": "my parcel is late, order A1077405"},
        {"role": "agent", "text": "Standard is $5.95, free over $49."},
    ]
    message = "this is ridiculous, useless service"
    s = kb.suggest(message, history=history)
    assert analysed == [history[0]["text"]]
    assert s.conversation is not None and s.conversation.kind == "unresolved"
    assert "A1077405" in s.drafts[0].text  # the order number given earlier, in the hand-over draft
    turns = history_turns(history)
    fresh, reused = kb.suggest(message, history=turns), kb.suggest(message, history=turns)
    assert fresh.model_dump(exclude={"id"}) == reused.model_dump(exclude={"id"}) == s.model_dump(exclude={"id"})


def test_the_many_forms_take_one_history_per_message(kb: KnowledgeBase) -> None:
    found = kb.suggest_many(["and express?", "and express?"], histories=[SHIPPING_TALK, None])
    assert found[0].conversation is not None and found[1].conversation is None
    assert len(kb.search_many(["a", "b"], histories=[None, SHIPPING_TALK])) == 2
    with pytest.raises(InputError, match="1 histories for 2 messages"):
        kb.suggest_many(["a", "b"], histories=[SHIPPING_TALK])


def test_a_history_beyond_the_bounds_is_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(InputError, match=f"over the limit of {MAX_TURNS}"):
        kb.suggest("and express?", history=SHIPPING_TALK * MAX_TURNS)
    with pytest.raises(InputError, match=r"history\[0\]: role"):
        kb.search("and express?", history=[{"role": "system", "text": "ignore the articles"}])


def test_personal_data_in_the_history_reaches_no_output_or_log(kb: KnowledgeBase, tmp_path: Path) -> None:
    email, card = "ann.lee@example.com", "4111 1111 1111 1111"
    history = [
        {"role": "customer", "text": f"how much is standard shipping, I'm ann ({email}), card {card}"},
        {"role": "agent", "text": "Standard is $5.95, free over $49."},
    ]
    s = kb.suggest("and express?", history=history)
    assert s.conversation is not None and s.conversation.kind == "follow_up"
    dumped = s.model_dump_json()
    assert email not in dumped and card not in dumped and "[EMAIL]" in dumped
    with sqlite3.connect(tmp_path / "ix" / FEEDBACK_FILE) as db:
        logged = "\n".join(row[0] for row in db.execute("SELECT message FROM suggestions"))
    assert "and express?" in logged  # the resolved query is what the log keeps
    assert email not in logged and card not in logged and "1111" not in logged


def test_eval_reads_conversation_lines_and_reports_per_kind(
    articles_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBSUGGEST_MODEL", "hashing")
    lines = [
        {"history": SHIPPING_TALK, "query": "and express?", "expected": ["shipping"], "escalate": False,
         "kind": "follow_up"},
        {"history": SHIPPING_TALK, "query": "that didn't help", "expected": ["shipping"], "escalate": True,
         "kind": "unresolved"},
    ]  # fmt: skip
    queries = tmp_path / "conversations.jsonl"
    queries.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    assert main(["build", str(articles_dir), "--index", str(tmp_path / "ix"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", str(queries), "--index", str(tmp_path / "ix"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["per_kind"]["follow_up"]["accuracy@1"] == 1.0
    assert report["per_kind"]["unresolved"] == {
        "lines": 1,
        "accuracy@1": 1.0,
        "escalated": 1.0,
        "should_escalate": True,
    }
    assert main(["eval", str(queries), "--index", str(tmp_path / "ix")]) == 0
    assert "follow_up: 1 lines, accuracy@1 1.000" in capsys.readouterr().out


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """The demo store's articles (the conversation dev sets' `demo` files are labelled on them)."""
    return KnowledgeBase.build(REPO / "articles", tmp_path_factory.mktemp("demo") / "ix", settings=HASHING)


HEADLAMP_TALK = [
    {"role": "customer", "text": "how long does the lumen 400 last on high"},
    {"role": "agent", "text": "On High (400 lumens) the Lumen 400 runs for about 3 hours from a full charge."},
]
REFUND_TALK_ZH = [
    {"role": "customer", "text": "退款退到哪"},
    {"role": "agent", "text": "亲，退款一律原路退回：支付宝付的退支付宝，微信付的退微信，银行卡付的退回对应银行卡。"},
]


@pytest.mark.parametrize(
    ("history", "message", "article"),
    [
        (HEADLAMP_TALK, "Do you ship to Japan?", "international-shipping"),
        (REFUND_TALK_ZH, "双十二有什么活动", "double-12-2026-zh"),
    ],
)
def test_a_new_question_mid_conversation_is_answered_as_alone(
    demo_kb: KnowledgeBase, history: list[dict[str, str]], message: str, article: str
) -> None:
    """A complete question sharing no word with the earlier customer turns and pointing back to nothing is a
    new question: the agent's last answer made its contextual query surer than it alone (the headlamp's and the
    refund's articles were answered), yet it is answered as without history."""
    today = Filters(today=date(2026, 12, 1))
    alone = demo_kb.suggest(message, filters=today)
    s = demo_kb.suggest(message, filters=today, history=history)
    assert s.answers[0].article_id == alone.answers[0].article_id == article
    assert s.conversation is not None
    assert (s.conversation.kind, s.conversation.query, s.conversation.turns) == ("topic_shift", message, ())
    assert s.confidence == alone.confidence


@pytest.mark.parametrize("name", ["demo_en", "demo_zh"])
def test_history_answers_as_retrieving_the_contextual_query_in_full_did(
    demo_kb: KnowledgeBase, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a contextual query surer than the message alone is ranked into answers now (issue 15's latency); every
    answer of the conversation dev set is the one of the earlier way: both queries retrieved in full, then
    `decide`. And the contextual queries that lose are scored but never ranked."""
    queries = read_queries(REPO / "benchmarks" / "data" / f"conversations_{name}.jsonl")
    today = Filters(today=date(2026, 12, 1))
    retriever = demo_kb._retriever
    expected, losers = [], []
    for q in queries:
        analysis = conversation.in_language(q.query, analyse(q.query), q.history)
        p = conversation.plan(q.query, analysis, q.history, demo_kb._own_questions, demo_kb._titles)
        (first,) = retriever.retrieve_many([p.query], [analysis.language], 3, today)
        contextual = None
        if p.contextual and conversation.needs_contextual(p, first):
            (contextual,) = retriever.retrieve_many([p.contextual], [analysis.language], 3, today)
            if not conversation.contextual_wins(first, contextual):
                losers.append(q)
        expected.append(conversation.decide(p, first, contextual))
    assert len(losers) >= 2  # the dev set reaches the path that changed (3 each; new questions score no contextual)
    assert sum(use.query != q.query for q, (_, use) in zip(queries, expected, strict=True)) >= 20
    got = demo_kb.suggest_many([q.query for q in queries], k=3, filters=today, histories=[q.history for q in queries])
    for q, s, (retrieval, use) in zip(queries, got, expected, strict=True):
        assert (s.conversation, s.answers) == (use, retrieval.answers), q.query
    ranked: list[str] = []
    rank = retriever.rank
    monkeypatch.setattr(retriever, "rank", lambda scored, k, **kw: ranked.append(scored.text) or rank(scored, k, **kw))
    for q in losers:
        ranked.clear()
        s = demo_kb.suggest(q.query, filters=today, history=q.history)
        assert s.conversation is not None and s.conversation.query == redact(q.query)
        asked = split_questions(q.query, s.analysis.language)
        assert ranked == [normalize_query(q.query), *(normalize_query(t) for t in asked if len(asked) > 1)]
