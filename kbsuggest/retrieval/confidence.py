"""Confidence and escalation models over one message's retrieval signals.

`confidence_features` -> `in_scope_probability` (P(in scope); escalate below `ESCALATE_BELOW[lang]`) and
`answer_probability` (P(top article correct), calibrated, for display).

- Per-language logistic regressions on CONFIDENCE_FEATURES (standardised), fitted by
  benchmarks/fit_confidence.py on the shared dev sets. Escalation threshold: see ESCALATE_BELOW. Held-out (5-fold,
  10 shufflings, model and threshold fitted on the other folds): en escalates 97.6% of out-of-scope and
  1.7% of in-scope queries; zh 90.0% and 4.0%. Held-out ECE of `in_scope_probability` vs in-scope rate: en 0.006,
  zh 0.023; of `answer_probability`: en 0.056, zh 0.047.
- Caveat: z-scores and margins were measured on 27-article knowledge bases; with many more articles their
  scale shifts, so refit on a larger labelled set before trusting the thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from kbsuggest.retrieval.fusion import LEXICAL

CONFIDENCE_FEATURES = (
    "dense_top",  # raw cosine of the best article under `confidence_signal(language)`
    "dense_margin",  # its best minus second-best article cosine
    "fused_margin",  # fused score: best minus second-best article
    "coverage",  # share of the query's BM25 tokens that occur anywhere in the knowledge base
    "agree",  # 1.0 when BM25 and the dense signal rank the same article first
)


@dataclass(frozen=True)
class LogisticModel:
    """p = sigmoid(intercept + sum(coef * (x - mean) / scale)) over CONFIDENCE_FEATURES."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def predict(self, features: Mapping[str, float]) -> float:
        z = self.intercept
        for name, mean, scale, coef in zip(CONFIDENCE_FEATURES, self.mean, self.scale, self.coef, strict=True):
            z += coef * (float(features[name]) - mean) / scale
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0  # exp(700) is near float's limit


# Fitted per language on all eval queries by benchmarks/fit_confidence.py (5-fold held-out expected
# calibration error: en 0.006, zh 0.023).
IN_SCOPE_MODELS: dict[str, LogisticModel] = {
    "en": LogisticModel(
        mean=(0.577, 0.1111, 0.9401, 0.8074, 0.4923),
        scale=(0.1917, 0.0984, 0.7675, 0.2592, 0.4999),
        coef=(5.7005, 1.6996, -1.4314, 0.2494, -0.5721),
        intercept=9.0668,
    ),
    "zh": LogisticModel(
        mean=(0.5436, 0.0877, 1.1509, 0.8378, 0.5792),
        scale=(0.1481, 0.0825, 0.9728, 0.1652, 0.4937),
        coef=(2.1698, -1.3455, 2.5861, 1.9161, 0.1837),
        intercept=6.0881,
    ),
}
ANSWER_MODELS: dict[str, LogisticModel] = {
    # Fitted for the shipped ranking (late interaction in English) by benchmarks/fit_confidence.py;
    # 5-fold held-out expected calibration error: en 0.056, zh 0.047.
    "en": LogisticModel(
        mean=(0.577, 0.1111, 0.9401, 0.8074, 0.4923),
        scale=(0.1917, 0.0984, 0.7675, 0.2592, 0.4999),
        coef=(1.0189, 1.2674, -0.392, -0.0124, 0.368),
        intercept=1.6182,
    ),
    "zh": LogisticModel(
        mean=(0.5436, 0.0877, 1.1509, 0.8378, 0.5792),
        scale=(0.1481, 0.0825, 0.9728, 0.1652, 0.4937),
        coef=(0.7578, 0.9466, 0.9472, 0.7298, 0.8845),
        intercept=2.4232,
    ),
}

ESCALATE_BELOW: dict[str, float] = {"en": 0.817, "zh": 0.848}
"""Per language: escalate to a person when `confidence` is below this: the value below which a fraction q
of the language's out-of-scope eval queries fall, q the largest that wrongly escalates at most 5% of
in-scope queries held out (benchmarks/fit_confidence.py): en q = 0.99, zh q = 0.97."""


def confidence_signal(language: str) -> str:
    """The dense signal the confidence models read: the multilingual encoder for Chinese, else the default."""
    return "multilingual" if language == "zh" else "dense"


def confidence_features(
    signals: Mapping[str, np.ndarray], fused: np.ndarray, language: str, coverage: float
) -> dict[str, float]:
    """Features of one query for `confidence`, from its 1-D article-score arrays and BM25 coverage."""
    dense = np.asarray(signals[confidence_signal(language)], dtype=np.float64)
    dense_top, dense_second = _top2(dense)
    fused_top, fused_second = _top2(np.asarray(fused, dtype=np.float64))
    agree = 0.0
    if LEXICAL in signals:
        bm25 = np.asarray(signals[LEXICAL])
        agree = float(bm25.max() > 0 and int(np.argmax(bm25)) == int(np.argmax(dense)))
    return {
        "dense_top": dense_top,
        "dense_margin": dense_top - dense_second,
        "fused_margin": fused_top - fused_second,
        "coverage": float(coverage),
        "agree": agree,
    }


def in_scope_probability(features: Mapping[str, float], language: str) -> float:
    """Probability in [0, 1] that the query is answerable from the knowledge base (not out of scope).

    This is the escalation score: escalate when it is below ESCALATE_BELOW[language]."""
    return IN_SCOPE_MODELS["zh" if language == "zh" else "en"].predict(features)


def answer_probability(features: Mapping[str, float], language: str) -> float:
    """Probability in [0, 1] that the top article is the right one (out of scope counts as wrong)."""
    return ANSWER_MODELS["zh" if language == "zh" else "en"].predict(features)


def should_escalate(features: Mapping[str, float], language: str) -> bool:
    """True when the query should go to a person rather than get a suggestion."""
    lang = "zh" if language == "zh" else "en"
    return in_scope_probability(features, lang) < ESCALATE_BELOW[lang]


def _top2(scores: np.ndarray) -> tuple[float, float]:
    if scores.size == 1:
        return float(scores[0]), float(scores[0])
    top = np.partition(scores, -2)[-2:]
    return float(top[1]), float(top[0])
