from __future__ import annotations

import json
import threading
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController, threadpool_limits

from kbsuggest import Filters, KnowledgeBase
from kbsuggest.encoders.hashing import HashingEncoder
from kbsuggest.errors import InputError
from kbsuggest.retrieval import confidence, fusion
from kbsuggest.retrieval.prototypes import OFF_KB_PROTOTYPES
from kbsuggest.retrieval.retriever import one_openmp_thread
from kbsuggest.retrieval.snippet import best_sentences, measures
from kbsuggest.text.tokenize import tokenize
from tests.conftest import HASHING, MARKERS, REFUND, RETURNS_ZH, SHIPPING, write_articles, write_versioned_kb

SALE = """---
id: summer-sale
type: faq
tags: [promotions]
channels: [app]
valid_from: 2026-06-01
valid_until: 2026-06-30
---
# Summer sale

## Summer sale discount

Everything is 25% off during the summer sale, applied automatically at checkout in the app.
"""

JACKET = """---
id: ridge-jacket
type: product
products: [ridge-jacket]
tags: [jackets]
---
# Ridge jacket

## Jacket sizes

The Ridge jacket comes in sizes S to XL; size M fits a height of 170 to 178 cm and a chest of 94 to 102 cm.
"""


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    root = write_articles(
        tmp_path / "articles",
        {
            "refunds.md": REFUND,
            "shipping.md": SHIPPING,
            "zh/returns-zh.md": RETURNS_ZH,
            "sale.md": SALE,
            "jacket.md": JACKET,
        },
    )
    return KnowledgeBase.build(root, tmp_path / "ix", settings=HASHING)


def ids(answers: list) -> list[str]:
    return [a.article_id for a in answers]


def test_fused_ranking_equals_a_hand_computed_example() -> None:
    signals = {"bm25": np.array([3.0, 1.0, 0.0]), "multilingual": np.array([0.2, 0.9, 0.4])}
    weights = fusion.FusionWeights(zh={"bm25": 0.6, "multilingual": 0.4})

    def z(x: np.ndarray) -> np.ndarray:
        return (x - x.mean()) / x.std()

    expected = 0.6 * z(signals["bm25"]) + 0.4 * z(signals["multilingual"])
    np.testing.assert_allclose(fusion.fuse(signals, "zh", weights), expected)
    assert list(np.argsort(-expected)) == [0, 1, 2]


def test_weights_are_keyed_by_signal_name_so_any_encoder_can_carry_weight() -> None:
    signals = {"dense": np.array([0.1, 0.5, 0.3]), "my-encoder": np.array([0.9, 0.2, 0.1])}
    weights = fusion.FusionWeights(en={"dense": 0.25, "my-encoder": 0.75})

    def z(x: np.ndarray) -> np.ndarray:
        return (x - x.mean()) / x.std()

    expected = 0.25 * z(signals["dense"]) + 0.75 * z(signals["my-encoder"])
    np.testing.assert_allclose(fusion.fuse(signals, "en", weights), expected)
    assert int(np.argmax(expected)) == 0  # the extra encoder's favourite wins: its weight counted


def test_top_two_sections_are_averaged_per_article() -> None:
    order, starts, articles = fusion.article_groups(["b", "a", "b", "a", "a"])
    assert articles == ["a", "b"]
    scores = np.array([0.9, 0.5, 0.1, 0.7, 0.3])  # a: 0.5, 0.7, 0.3 -> 0.6 ; b: 0.9, 0.1 -> 0.5
    np.testing.assert_allclose(fusion.aggregate_articles(scores, order, starts), [0.6, 0.5])


def test_search_returns_one_section_per_article_with_provenance(kb: KnowledgeBase) -> None:
    answers = kb.search("refund timing bank business days", k=5, filters=Filters(today=date(2026, 6, 15)))
    assert len(set(ids(answers))) == len(answers)
    best = answers[0]
    assert best.section_id == "refunds#refund-timing"
    assert best.path == "refunds.md" and best.line_start == 11  # relative: no server path in answers
    assert best.matched_by in ("dense", "lexical", "both")
    assert "business days" in best.snippet
    assert [a.score for a in answers] == sorted((a.score for a in answers), reverse=True)


def test_expired_articles_are_never_returned(kb: KnowledgeBase) -> None:
    during = kb.search("summer sale discount", k=5, filters=Filters(today=date(2026, 6, 15)))
    after = kb.search("summer sale discount", k=5, filters=Filters(today=date(2026, 7, 1)))
    assert "summer-sale" in ids(during)
    assert "summer-sale" not in ids(after)


def test_metadata_filters(kb: KnowledgeBase) -> None:
    june = date(2026, 6, 15)
    assert ids(kb.search("sizes", filters=Filters(type=("product",), today=june))) == ["ridge-jacket"]
    assert ids(kb.search("anything", filters=Filters(tags=("promotions",), today=june))) == ["summer-sale"]
    assert ids(kb.search("anything", filters=Filters(products=("ridge-jacket",), today=june))) == ["ridge-jacket"]
    web = ids(kb.search("summer sale", k=10, filters=Filters(channel="web", today=june)))
    assert "summer-sale" not in web and "refunds" in web  # no channels listed = every channel


def test_language_picks_the_locale_and_falls_back(kb: KnowledgeBase) -> None:
    assert {a.locale for a in kb.search("退款什么时候到账", k=5)} == {"zh-CN"}
    assert "zh-CN" not in {a.locale for a in kb.search("when will my refund arrive", k=5)}
    fallback = kb.search("refund", k=5, filters=Filters(locale="fr"))
    assert fallback and {a.locale for a in fallback} == {"en"}


def test_the_language_is_decided_once_and_an_order_number_does_not_make_chinese_english(kb: KnowledgeBase) -> None:
    # The normalised text "<order> 退款" is mostly Latin letters; the message is Chinese, and is answered in Chinese.
    suggestion = kb.suggest("A1048321 退款")
    assert suggestion.analysis.language == "zh"
    assert {a.locale for a in suggestion.answers} == {"zh-CN"}
    assert {a.locale for a in kb.search("A1048321 退款")} == {"zh-CN"}


def test_a_tweet_s_mentions_and_links_do_not_move_its_answers(kb: KnowledgeBase) -> None:
    plain = kb.search("how long does express shipping take? refund if late", k=5)
    tweet = kb.search("@NorthwindHelp how long does express shipping take? https://t.co/x7Yq2 refund if late @UPS", k=5)
    assert [(a.section_id, a.score) for a in tweet] == [(a.section_id, a.score) for a in plain]


def test_suggest_escalates_requests_for_a_person_and_angry_customers(kb: KnowledgeBase) -> None:
    human = kb.suggest("I want to talk to a human about my refund")
    assert human.escalate and human.escalate_reason == "human_requested"
    angry = kb.suggest("this is ridiculous, where is my refund, worst shop ever")
    assert angry.escalate and angry.escalate_reason in ("upset_customer", "no_answer")
    zh = kb.suggest("转人工")
    assert zh.escalate and zh.escalate_reason == "human_requested" and zh.drafts[0].language == "zh"


def test_suggestion_is_json_serialisable_and_has_an_id(kb: KnowledgeBase) -> None:
    s = kb.suggest("how long does a refund take", context={"customer_name": "Ann", "agent_name": "Kim"})
    again = type(s).model_validate_json(s.model_dump_json())
    assert again == s and len(s.id) == 32
    assert json.loads(s.model_dump_json())["confidence"] == s.confidence  # the float survives JSON exactly
    assert s.drafts[0].text.startswith(("Hi Ann,", "Hello Ann,"))


def test_batch_equals_one_by_one(kb: KnowledgeBase) -> None:
    messages = ["refund timing", "退货期限是多久", "express shipping cost"]
    assert kb.search_many(messages, k=3) == [kb.search(m, k=3) for m in messages]


@pytest.mark.parametrize("message", ["", "   \n\t", "x" * 4001])
def test_unusable_messages_are_clear_errors(kb: KnowledgeBase, message: str) -> None:
    with pytest.raises(InputError, match="Fix:"):
        kb.suggest(message)


def test_bad_tone_and_k_are_clear_errors(kb: KnowledgeBase) -> None:
    with pytest.raises(InputError, match="tone"):
        kb.suggest("refund", tone="rude")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="k must be"):
        kb.search("refund", k=0)


def test_personal_data_is_masked_in_the_suggestion_and_never_reaches_a_draft(kb: KnowledgeBase) -> None:
    s = kb.suggest(
        "refund to card 4111 1111 1111 1111 please, order A1048321, mail me at ann@example.com",
        context={"customer_name": "4111-1111-1111-1111"},
    )
    assert "4111" not in s.message and "ann@example.com" not in s.message
    assert "[CARD]" in s.message and "A1048321" in s.message
    assert all("4111" not in d.text for d in s.drafts)


def _openmp_threads() -> set[int]:
    """The thread counts of FAISS's OpenMP runtime, as the calling thread sees them (other packages loaded in the
    same test process may bring OpenMP runtimes of their own, which retrieval does not use)."""
    libraries = ThreadpoolController().select(user_api="openmp").info()
    return {lib["num_threads"] for lib in libraries if "faiss" in lib["filepath"]}


def test_retrieval_holds_openmp_to_one_thread_for_the_calling_thread_only() -> None:
    import faiss  # noqa: F401 - loads the OpenMP runtime that exact search uses

    with threadpool_limits(limits=2, user_api="openmp"):
        inside, seen = threading.Event(), []

        def other() -> None:
            inside.wait()
            seen.append(_openmp_threads())

        worker = threading.Thread(target=other)
        worker.start()
        with one_openmp_thread():
            assert _openmp_threads() == {1}
            inside.set()
            worker.join()
        assert seen == [{2}]  # another thread, meanwhile, kept its own
        assert _openmp_threads() == {2}  # restored


SIZE_TABLE = """Sizes are unisex; find your height and chest measurement.
Size: S; Height (cm): 160–170; Chest (cm): 86–94
Size: M; Height (cm): 170–178; Chest (cm): 94–102
Size: L; Height (cm): 178–186; Chest (cm): 102–110
Size: XL; Height (cm): 186–194; Chest (cm): 110–118"""


@pytest.mark.parametrize(
    ("message", "row"),
    [
        ("does the M fit someone 175cm?", "Size: M;"),
        ("I'm 190 cm, which size?", "Size: XL;"),
        ("XL码适合多高的人？", "Size: XL;"),
        ("is the S ok for a 165 cm person", "Size: S;"),
    ],
)
def test_snippets_pick_the_size_row_a_message_asks_about(message: str, row: str) -> None:
    (best,) = best_sentences(SIZE_TABLE, frozenset(tokenize(message)) | measures(message), limit=1)
    assert best.startswith(row)


def test_measures_read_sizes_and_numbers_but_not_words_or_long_numbers() -> None:
    assert measures("does the M fit someone 175cm? I'm in the US") == {"size:M", "number:175"}
    assert measures("order 10482213, 2 items") == {"number:2"}
    assert measures("ships in 3-5 days", ranges=True) == {"number:3", "number:4", "number:5"}
    assert measures("orders of 1-1000 units", ranges=True) == {"number:1", "number:1000"}  # too wide to expand


def test_answer_paths_are_relative_to_the_articles_folder_after_an_incremental_build(
    articles_dir: Path, tmp_path: Path
) -> None:
    KnowledgeBase.build(articles_dir, tmp_path / "ix", settings=HASHING)
    kb = KnowledgeBase.build(articles_dir, tmp_path / "ix", settings=HASHING)  # the parses are reused
    assert {a.meta.id: a.path for a in kb.articles} == {
        "refunds": "refunds.md",
        "shipping": "shipping.md",
        "returns-zh": "zh/returns-zh.md",
    }
    assert kb.search("退款到账", k=1)[0].path == "zh/returns-zh.md"


SIZES = """---
id: sizing
title: Sizing guide
---
# Sizing guide

## Choosing between two sizes

If you are between two sizes, choose the larger one for layering and the smaller one for a close fit.

## Tops and jackets

| Size | Height (cm) | Chest (cm) |
|---|---|---|
| S | 162–170 | 86–94 |
| M | 170–178 | 94–102 |
| L | 178–186 | 102–110 |
"""


def test_an_article_answers_a_message_with_measurements_from_the_section_that_states_them(tmp_path: Path) -> None:
    root = write_versioned_kb(tmp_path / "kb", MARKERS[0], articles=20)
    (root / "sizing.md").write_text(SIZES, encoding="utf-8")
    kb = KnowledgeBase.build(root, tmp_path / "ix", settings=HASHING)
    best = next(a for a in kb.search("I am 175cm with a 96cm chest, does the M fit?") if a.article_id == "sizing")
    assert best.anchor == "tops-and-jackets" and "170–178" in best.snippet  # the advice section without the bonus
    advice = next(a for a in kb.search("between two sizes, which one?") if a.article_id == "sizing")
    assert advice.anchor == "choosing-between-two-sizes"  # without measurements, the words decide


def test_each_answer_comes_with_its_articles_other_sections_best_first_for_the_message(tmp_path: Path) -> None:
    root = write_articles(tmp_path / "articles", {"sizing.md": SIZES, "refunds.md": REFUND})
    kb = KnowledgeBase.build(root, tmp_path / "ix", settings=HASHING)
    for message, first, other in [
        ("I am 175cm with a 96cm chest, does the M fit?", "tops-and-jackets", "choosing-between-two-sizes"),
        ("between two sizes, which one?", "choosing-between-two-sizes", "tops-and-jackets"),
    ]:
        found = kb._retriever.retrieve_many([message], ["en"], 2, others=True)[0]
        assert found.answers[0].section_id == f"sizing#{first}"
        assert len(found.others) == 2  # one per answer, of its own article
        for answer, behind in zip(found.answers, found.others, strict=True):
            article = [s.id for s in kb.sections if s.article_id == answer.article_id]
            assert sorted([answer.section_id, *(o.section_id for o in behind)]) == sorted(article)
            assert all(o.score <= answer.score for o in behind)
        assert [o.section_id for o in found.others[0]] == [f"sizing#{other}"]
    assert kb._retriever.retrieve_many([message], ["en"], 2)[0].others == ()  # only when asked for


INSTALLATION = """---
id: installation
type: faq
---
# Installation

## Installation and assembly service

We offer installation or assembly service for furniture and appliances, booked at checkout for a fixed fee.
"""


def test_off_kb_compares_the_message_with_the_prototypes_and_the_knowledge_base(tmp_path: Path) -> None:
    """A message that is one of `OFF_KB_PROTOTYPES` is far off the knowledge base, unless an article covers it;
    prototypes are encoded on the first English message, not when the knowledge base is built or loaded."""
    message = "Do you offer installation or assembly service?"
    offs = []
    for name, files in (
        ("without", {"refunds.md": REFUND, "shipping.md": SHIPPING}),
        ("with", {"refunds.md": REFUND, "shipping.md": SHIPPING, "installation.md": INSTALLATION}),
    ):
        root = write_articles(tmp_path / name, files)
        encoders = {"dense": HashingEncoder(64), "multilingual": HashingEncoder(48)}
        kb = KnowledgeBase.build(root, tmp_path / f"ix-{name}", encoders=encoders)
        built = encoders["dense"].texts_encoded
        (retrieval,) = kb._retriever.retrieve_many([message], ["en"], 1)
        assert encoders["dense"].texts_encoded == built + 1 + len(OFF_KB_PROTOTYPES["en"])
        assert retrieval.features["off_kb"] == pytest.approx(1.0 - retrieval.features["dense_top"], abs=1e-6)
        offs.append(retrieval.features["off_kb"])
        kb._retriever.retrieve_many([message], ["en"], 1)
        assert encoders["dense"].texts_encoded == built + 2 + len(OFF_KB_PROTOTYPES["en"])  # encoded once
        (chinese,) = kb._retriever.retrieve_many(["可以上门安装吗"], ["zh"], 1)
        assert "off_kb" not in chinese.features
    without, with_article = offs
    assert with_article < without - 0.2


def test_the_in_scope_features_read_the_message_for_its_own_order(kb: KnowledgeBase) -> None:
    """The retriever adds the own-order evidence of the message, in its language, to the features the in-scope
    model reads; the other language's is not computed."""
    about_an_order, near_domain, chinese, chinese_near = kb._retriever.retrieve_many(
        [
            "My jacket arrived torn, bought it last week",
            "Do you price match other stores?",
            "冲锋衣已签收 拉链坏了",
            "有会员卡吗",
        ],
        ["en", "en", "zh", "zh"],
        1,
    )
    assert (about_an_order.features["own_stage"], near_domain.features["own_stage"]) == (1.0, 0.0)
    assert (chinese.features["order_facts"], chinese_near.features["order_facts"]) == (1.0, 0.0)
    assert "order_facts" not in about_an_order.features and "own_stage" not in chinese.features


def _same_text(article_id: str, stage: str) -> str:
    return f"""---
id: {article_id}
title: Ridge jacket
stage: {stage}
---
# Ridge jacket

## Ridge jacket seams

The Ridge jacket has taped seams and a two-way zip.
"""


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_message_after_buying_ranks_the_after_sale_article_over_an_equally_similar_product_page(
    tmp_path: Path, language: str
) -> None:
    root = write_articles(
        tmp_path / "articles",
        {"a.md": _same_text("a-product-page", "pre_sale"), "b.md": _same_text("b-warranty", "after_sale")},
    )
    kb = KnowledgeBase.build(root, tmp_path / "ix", settings=HASHING)
    retriever = kb._retriever
    ((plain,), (after,)) = (
        retriever.retrieve_many([message], [language], 2)[0].answers[:1]
        for message in ("ridge jacket seams", "ridge jacket seams peeling after 14 months")
    )
    assert plain.article_id == "a-product-page"  # no stage evidence: the tie stays as it was
    assert after.article_id == "b-warranty"
    without = KnowledgeBase.load(tmp_path / "ix", settings=HASHING, weights=fusion.FusionWeights(stage={}))
    for message in ("ridge jacket seams", "ridge jacket seams peeling after 14 months"):
        (on,) = retriever.retrieve_many([message], [language], 2)
        (off,) = without._retriever.retrieve_many([message], [language], 2)
        assert on.features == off.features  # the confidence features never read the prior
        if message == "ridge jacket seams":
            assert on.answers == off.answers  # no stage evidence: no score moved


def test_a_message_handed_over_as_no_answer_still_carries_its_answer_model_s_confidence(kb: KnowledgeBase) -> None:
    """`confidence` is P(first answer right) for every message (issue 14), not 0 when the in-scope model hands
    the message over: its answers are still returned, and out-of-scope messages were counted wrong in the fit."""
    message = "what is the weather in Paris tomorrow"
    (retrieval,) = kb._retriever.retrieve_many([message], ["en"], 3)
    s = kb.suggest(message)
    assert (s.escalate_reason, retrieval.in_scope) == ("no_answer", False) and s.answers
    assert s.confidence == round(confidence.answer_probability(retrieval.features, "en"), 4) > 0
