"""Language-aware fusion of per-article retrieval signals, and the escalation/confidence models.

One query, all pure numpy:
1. Section scores -> article scores per signal with `aggregate_articles`: mean of the article's best
   two sections (its best alone if it has one). Dense section score = max cosine over the section's
   two views, "title > heading" and "title > heading\nbody"; BM25 runs over "title > heading\nbody".
2. `fuse`: each signal is z-scored across articles, then summed with the weights of the query's
   language (`tokenize.detect_language`). Fitted weights: en = MiniLM only; zh = 0.6 BM25 + 0.4 USE.
   A signal with weight 0 need not be computed.
3. `confidence_features` -> `confidence` (P(in scope); escalate below `ESCALATE_BELOW[lang]`) and
   `answer_probability` (P(top article correct), calibrated, for display).

How the defaults were learned (eval sets in shared/eval, article-level metrics on in-scope queries;
every figure held-out):
- Weights: grid over the simplex (step 0.05) maximising acc@1 + MRR, per language, 5-fold CV
  stratified by gold article (en 810 in-scope + 100 out-of-scope queries, zh 216 + 24, 27 articles
  each). Defaults = fit on all queries of the language; fold weights: en BM25 0-0.2 / MiniLM 0.8-1 /
  USE 0-0.05, zh BM25 0.45-0.65 / USE 0.35-0.55 / MiniLM 0.
  Held-out acc@1 / recall@3 / MRR: en 0.760 / 0.964 / 0.860 (the shipped en weights are MiniLM
  alone: 0.772 / 0.964 / 0.865); zh 0.833 / 0.963 / 0.902 (BM25 alone 0.759 / 0.935 / 0.850, USE
  alone 0.745 / 0.931 / 0.839). Weights fitted on the other language: zh 0.218, en 0.647 acc@1.
- Confidence: per-language logistic regressions on CONFIDENCE_FEATURES (standardised), fitted by
  benchmarks/fit_confidence.py. Escalation threshold: see ESCALATE_BELOW. Held-out (5-fold, 10
  shufflings, model and threshold fitted on the other folds): en escalates 97.6% of out-of-scope and
  1.7% of in-scope queries; zh 90.0% and 4.0% (the 95% rule used before gave en 93.4% / 0.9%, zh
  86.3% / 3.5%). Held-out ECE of `confidence` vs in-scope rate: en 0.006, zh 0.023; of
  `answer_probability`: en 0.056, zh 0.047.
- Caveat: z-scores and margins were measured on 27-article knowledge bases; with many more
  articles their scale shifts, so refit on a larger labelled set before trusting the thresholds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SIGNALS = ("bm25", "dense", "multilingual")
"""BM25; the configured sentence-transformers model (all-MiniLM-L6-v2 by default); USE multilingual."""
LATE_INTERACTION_WEIGHTS = {"pooled": 0.10, "path": 0.25, "body": 0.65}
"""A dense section score with token vectors = 0.10 x pooled cosine (best view) + 0.25 x MaxSim over the
heading path's tokens + 0.65 x MaxSim over path and text's tokens (ColBERT-style, MiniLM's token
vectors, query stopwords and punctuation left out). Grid over the simplex (step 0.05), 5-fold CV on the
English eval set: every fold chose these; held-out acc@1 / recall@3 / MRR 0.830 / 0.980 / 0.901
(pooled alone 0.772 / 0.964 / 0.865); unchanged on the demo store (0.865 vs 0.858, English).
Holding whole articles out of the fit: 0.789."""
SECOND_WEIGHT = 0.5
"""Article score = max section score + SECOND_WEIGHT x (second-best section - max); i.e. mean of top 2."""


@dataclass(frozen=True)
class SignalWeights:
    """Weights of the z-scored signals for one language (they sum to 1)."""

    bm25: float
    dense: float
    multilingual: float

    def as_dict(self) -> dict[str, float]:
        return {"bm25": self.bm25, "dense": self.dense, "multilingual": self.multilingual}


@dataclass(frozen=True)
class FusionWeights:
    """Per-language signal weights; defaults fitted by 5-fold CV (see module docstring)."""

    en: SignalWeights = SignalWeights(bm25=0.0, dense=1.0, multilingual=0.0)
    zh: SignalWeights = SignalWeights(bm25=0.6, dense=0.0, multilingual=0.4)

    def for_language(self, language: str) -> SignalWeights:
        return self.zh if language == "zh" else self.en


DEFAULT_WEIGHTS = FusionWeights()


def article_groups(section_articles: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Group sections by article for `aggregate_articles`.

    Returns (order, starts, article_ids): `order` permutes sections so each article's are contiguous,
    `starts[i]` is where article_ids[i] begins in that order."""
    ids = np.asarray(section_articles, dtype=object)
    order = np.array(sorted(range(len(ids)), key=lambda i: (ids[i], i)), dtype=np.int64)
    sorted_ids = ids[order]
    change = np.ones(len(ids), dtype=bool)
    change[1:] = sorted_ids[1:] != sorted_ids[:-1]
    starts = np.flatnonzero(change)
    return order, starts, [str(a) for a in sorted_ids[starts]]


def aggregate_articles(
    section_scores: np.ndarray, order: np.ndarray, starts: np.ndarray, second_weight: float = SECOND_WEIGHT
) -> np.ndarray:
    """Article scores from section scores (last axis): (1 - w) * best + w * second best section.

    An article with one section scores its best. `order`/`starts` come from `article_groups`."""
    s = np.asarray(section_scores, dtype=np.float32)[..., order]
    first = np.maximum.reduceat(s, starts, axis=-1)
    counts = np.diff(np.append(starts, s.shape[-1]))
    is_max = s == np.repeat(first, counts, axis=-1)
    n_max = np.add.reduceat(is_max, starts, axis=-1)
    second = np.maximum.reduceat(np.where(is_max, -np.inf, s), starts, axis=-1)
    second = np.where((n_max >= 2) | ~np.isfinite(second), first, second)
    return (1.0 - second_weight) * first + second_weight * second


def zscore(scores: np.ndarray) -> np.ndarray:
    """Scores standardised across articles (last axis); constant rows become 0."""
    s = np.asarray(scores, dtype=np.float64)
    std = s.std(axis=-1, keepdims=True)
    out: np.ndarray = (s - s.mean(axis=-1, keepdims=True)) / np.where(std > 1e-12, std, 1.0)
    return out


def fuse(signals: Mapping[str, np.ndarray], language: str, weights: FusionWeights = DEFAULT_WEIGHTS) -> np.ndarray:
    """Weighted sum of per-query z-scored article scores with the weights of `language` ("zh"/"en").

    `signals` maps names from SIGNALS to article-score arrays of equal shape; a signal whose weight
    is 0 may be absent, one with a non-zero weight must be present."""
    w = weights.for_language(language).as_dict()
    fused: np.ndarray | None = None
    for name, weight in w.items():
        if weight == 0.0:
            continue
        if name not in signals:
            raise KeyError(f"signal {name!r} has weight {weight} for language {language!r} but was not given")
        part = weight * zscore(signals[name])
        fused = part if fused is None else fused + part
    if fused is None:
        raise ValueError(f"no signal has a non-zero weight for language {language!r}")
    return fused


# --- confidence ---------------------------------------------------------------------------------

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
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


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
    if "bm25" in signals:
        bm25 = np.asarray(signals["bm25"])
        agree = float(bm25.max() > 0 and int(np.argmax(bm25)) == int(np.argmax(dense)))
    return {
        "dense_top": dense_top,
        "dense_margin": dense_top - dense_second,
        "fused_margin": fused_top - fused_second,
        "coverage": float(coverage),
        "agree": agree,
    }


def confidence(features: Mapping[str, float], language: str) -> float:
    """Probability in [0, 1] that the query is answerable from the knowledge base (not out of scope).

    This is the escalation score: escalate when it is below ESCALATE_BELOW[language]."""
    return IN_SCOPE_MODELS["zh" if language == "zh" else "en"].predict(features)


def answer_probability(features: Mapping[str, float], language: str) -> float:
    """Probability in [0, 1] that the top article is the right one (out of scope counts as wrong)."""
    return ANSWER_MODELS["zh" if language == "zh" else "en"].predict(features)


def should_escalate(features: Mapping[str, float], language: str) -> bool:
    """True when the query should go to a person rather than get a suggestion."""
    lang = "zh" if language == "zh" else "en"
    return confidence(features, lang) < ESCALATE_BELOW[lang]


def _top2(scores: np.ndarray) -> tuple[float, float]:
    if scores.size == 1:
        return float(scores[0]), float(scores[0])
    top = np.partition(scores, -2)[-2:]
    return float(top[1]), float(top[0])
