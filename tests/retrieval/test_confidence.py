from __future__ import annotations

import numpy as np
import pytest

from kbsuggest.retrieval.confidence import (
    ANSWER_MODELS,
    CONFIDENCE_FEATURES,
    IN_SCOPE_FEATURES,
    IN_SCOPE_MODELS,
    ORDER_FACTS,
    OWN_STAGE,
    confidence_features,
    in_scope_probability,
    own_order_features,
)
from kbsuggest.text.situation import Situation, read_situation
from kbsuggest.text.stage import stage_evidence

SIGNALS = {"bm25": np.array([2.0, 0.5, 0.0]), "dense": np.array([0.4, 0.7, 0.1])}
FUSED = np.array([0.3, 1.2, -1.5])


def readings(message: str) -> tuple[Situation, dict[str, float]]:
    """What the retriever reads of a message for `own_order_features`."""
    return read_situation(message), stage_evidence(message)


def test_off_kb_is_the_best_prototype_cosine_minus_the_best_article_cosine() -> None:
    features = confidence_features(SIGNALS, FUSED, "en", 0.5, prototype_top=0.9)
    assert features["dense_top"] == 0.7
    assert features["off_kb"] == 0.9 - 0.7
    assert "off_kb" not in confidence_features(SIGNALS, FUSED, "en", 0.5)  # a language without prototypes


def test_a_message_nearer_a_prototype_than_the_knowledge_base_is_less_likely_in_scope() -> None:
    text = own_order_features(*readings("do you offer installation?"), "en")
    near_kb = {**confidence_features(SIGNALS, FUSED, "en", 0.5, prototype_top=0.5), **text}
    near_prototype = {**confidence_features(SIGNALS, FUSED, "en", 0.5, prototype_top=0.95), **text}
    assert in_scope_probability(near_prototype, "en") < in_scope_probability(near_kb, "en")


def test_only_the_english_in_scope_model_reads_off_kb() -> None:
    for models, read in (
        (IN_SCOPE_MODELS, IN_SCOPE_FEATURES),
        (ANSWER_MODELS, dict.fromkeys(ANSWER_MODELS, CONFIDENCE_FEATURES)),
    ):
        for language, model in models.items():
            assert model.features == read[language]
            assert len(model.mean) == len(model.scale) == len(model.coef) == len(model.features)
    # benchmarks/fit_confidence.py relies on the in-scope features starting with CONFIDENCE_FEATURES
    assert IN_SCOPE_FEATURES["en"] == (*CONFIDENCE_FEATURES, "off_kb", OWN_STAGE)
    assert IN_SCOPE_FEATURES["zh"] == (*CONFIDENCE_FEATURES, ORDER_FACTS)


@pytest.mark.parametrize(
    ("message", "language", "evidence"),
    [
        ("my trailpulse won't turn on anymore, bought it 5 months ago", "en", {OWN_STAGE: 1.0}),
        ("where is my order, it shipped last week", "en", {OWN_STAGE: 1.0}),
        ("do you price match? it's cheaper elsewhere", "en", {OWN_STAGE: 0.0}),
        ("what's the weather like today", "en", {OWN_STAGE: 0.0}),
        ("手表买了5个月 开不了机了", "zh", {ORDER_FACTS: 1.0}),
        ("昨天签收的头灯充不进电", "zh", {ORDER_FACTS: 1.0}),
        ("还没发货 能改地址吗", "zh", {ORDER_FACTS: 1.0}),
        ("有没有会员卡", "zh", {ORDER_FACTS: 0.0}),
        ("可以上门安装吗", "zh", {ORDER_FACTS: 0.0}),
    ],
)
def test_own_order_features_read_the_customers_order_from_the_text(
    message: str, language: str, evidence: dict[str, float]
) -> None:
    """Each language gets the evidence its in-scope model reads, and only that."""
    assert own_order_features(*readings(message), language) == evidence


def test_own_stage_is_the_share_of_stage_cues_during_or_after_an_order() -> None:
    """One cue before buying ("in stock") and one after ("refund"): half the evidence is about an order."""
    assert own_order_features(*readings("is it in stock, or can i get a refund"), "en") == {OWN_STAGE: 0.5}


@pytest.mark.parametrize(
    ("language", "about_an_order", "near_domain"),
    [
        ("en", "my watch won't turn on, bought it 5 months ago", "do you price match other stores?"),
        ("zh", "手表买了5个月 开不了机了", "你们有会员卡吗 怎么办"),
    ],
)
def test_a_message_about_the_customers_order_is_more_likely_in_scope(
    language: str, about_an_order: str, near_domain: str
) -> None:
    """Same retrieval signals, different text: the own-order evidence raises P(in scope)."""
    signals = {**SIGNALS, "multilingual": SIGNALS["dense"]}  # Chinese reads the multilingual encoder's cosines
    base = confidence_features(signals, FUSED, language, 0.5, prototype_top=0.5 if language == "en" else None)
    order = in_scope_probability({**base, **own_order_features(*readings(about_an_order), language)}, language)
    other = in_scope_probability({**base, **own_order_features(*readings(near_domain), language)}, language)
    assert order > other
