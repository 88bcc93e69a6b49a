from __future__ import annotations

import numpy as np

from kbsuggest.retrieval.confidence import (
    ANSWER_MODELS,
    CONFIDENCE_FEATURES,
    IN_SCOPE_FEATURES,
    IN_SCOPE_MODELS,
    confidence_features,
    in_scope_probability,
)

SIGNALS = {"bm25": np.array([2.0, 0.5, 0.0]), "dense": np.array([0.4, 0.7, 0.1])}
FUSED = np.array([0.3, 1.2, -1.5])


def test_off_kb_is_the_best_prototype_cosine_minus_the_best_article_cosine() -> None:
    features = confidence_features(SIGNALS, FUSED, "en", 0.5, prototype_top=0.9)
    assert features["dense_top"] == 0.7
    assert features["off_kb"] == 0.9 - 0.7
    assert "off_kb" not in confidence_features(SIGNALS, FUSED, "en", 0.5)  # a language without prototypes


def test_a_message_nearer_a_prototype_than_the_knowledge_base_is_less_likely_in_scope() -> None:
    near_kb = confidence_features(SIGNALS, FUSED, "en", 0.5, prototype_top=0.5)
    near_prototype = confidence_features(SIGNALS, FUSED, "en", 0.5, prototype_top=0.95)
    assert in_scope_probability(near_prototype, "en") < in_scope_probability(near_kb, "en")


def test_only_the_english_in_scope_model_reads_off_kb() -> None:
    for models, read in (
        (IN_SCOPE_MODELS, IN_SCOPE_FEATURES),
        (ANSWER_MODELS, dict.fromkeys(ANSWER_MODELS, CONFIDENCE_FEATURES)),
    ):
        for language, model in models.items():
            assert model.features == read[language]
            assert len(model.mean) == len(model.scale) == len(model.coef) == len(model.features)
    assert IN_SCOPE_FEATURES["en"] == (*CONFIDENCE_FEATURES, "off_kb")  # benchmarks/fit_confidence.py relies on it
    assert IN_SCOPE_FEATURES["zh"] == CONFIDENCE_FEATURES
