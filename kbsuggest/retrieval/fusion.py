"""Language-aware fusion of per-article retrieval signals (the confidence models are in `confidence`).

One query, all pure numpy:
1. Section scores -> article scores per signal with `aggregate_articles`: mean of the article's best
   two sections (its best alone if it has one). Dense section score = max cosine over the section's
   two views, "title > heading" and "title > heading\nbody"; BM25 runs over "title > heading\nbody".
2. `fuse`: each signal is z-scored across articles, then summed with the weights of the query's
   language (decided once per message by `analysis.analyse`). A signal with weight 0 need not be computed.

How the default weights were learned (`benchmarks/fit_fusion.py`; article-level accuracy@1 on answerable
messages): per language, three labelled sets over the same 27-article help center, of different origin: the
shared dev set (chatbot-training messages), the shared real set (tweets to retailers / JD.com chats) and
benchmarks/data/real_more_* (Amazon product questions / Taobao chats). A grid over the simplex (step 0.1) keeps
the weightings that lose at most 0.02 on the dev set and picks the best on one real set, reported on the other;
both folds chose the same weights in both languages:
- en: 0.4 MiniLM late interaction + 0.5 MiniLM pooled + 0.1 USE. Held out: real 0.670 -> 0.704, more 0.741 ->
  0.810; dev 0.826 -> 0.809. (The late-interaction weights were fitted on the dev set, whose templated
  messages favour token matching; real messages favour the pooled sentence vector.)
- zh: 0.3 BM25 + 0.7 USE. Held out: real 0.597 -> 0.653, more 0.454 -> 0.537; dev 0.852 -> 0.833.
- Stage prior (`FusionWeights.stage`, `benchmarks/fit_stage.py`): w x the share of the message's stage cues
  (`text.stage`) naming the article's front-matter stage is added to the fused score; a message without cues is
  unchanged. Same protocol (w on a 0.05 grid): held out, en real 0.704 -> 0.722, more 0.810 -> 0.836 (folds chose
  0.6 / 0.65, default 0.6); zh real 0.653 -> 0.694, more 0.537 -> 0.556 (folds 0.35 / 0.6, default 0.5); dev en
  0.809 -> 0.809, zh 0.833 -> 0.843. Added after the confidence features, which read the fusion without it.
- Caveat: z-scores and margins were measured on 27-article knowledge bases; with many more
  articles their scale shifts, so refit on a larger labelled set before trusting the thresholds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

LEXICAL = "bm25"
"""The name of the BM25 signal; every other signal is named by its encoder's key in the knowledge base's encoders
(`Settings.encoders()`: "dense", the configured sentence-transformers model; "multilingual", USE)..."""
POOLED = ".pooled"
"""...and `<encoder>.pooled` is that encoder's pooled cosine alone: for an encoder with token vectors in the index,
`<encoder>` itself is the late-interaction score (`LATE_INTERACTION_WEIGHTS`)."""


def encoder_of(signal: str) -> str:
    """The encoder (or LEXICAL) a signal comes from: "dense.pooled" -> "dense"."""
    return signal.removesuffix(POOLED)


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
class FusionWeights:
    """Per-language weights of the z-scored signals, keyed by signal name (LEXICAL or an encoder's key; a signal
    not named weighs 0); each language's weights sum to 1; plus the stage prior's weight per language. Defaults
    fitted across sets of different origin (module docstring)."""

    en: Mapping[str, float] = field(default_factory=lambda: {"dense": 0.4, "dense" + POOLED: 0.5, "multilingual": 0.1})
    zh: Mapping[str, float] = field(default_factory=lambda: {LEXICAL: 0.3, "multilingual": 0.7})
    stage: Mapping[str, float] = field(default_factory=lambda: {"en": 0.6, "zh": 0.5})
    """Per language, w of the stage prior: w x `stage_match` is added to the fused article scores (module
    docstring; benchmarks/fit_stage.py). Not part of the sum to 1; {} turns it off."""

    def for_language(self, language: str) -> dict[str, float]:
        """The non-zero weights of `language` ("zh", else English's)."""
        return {name: w for name, w in (self.zh if language == "zh" else self.en).items() if w}

    def among(self, encoders: Iterable[str]) -> FusionWeights:
        """These weights for a knowledge base with only `encoders`: signals of other encoders are dropped and the
        rest rescaled to sum 1; a language left with none weighs BM25 alone."""
        names = {LEXICAL, *encoders}

        def kept(weights: Mapping[str, float]) -> dict[str, float]:
            left = {n: w for n, w in weights.items() if w and encoder_of(n) in names}
            total = sum(left.values())
            return {n: w / total for n, w in left.items()} if total else {LEXICAL: 1.0}

        return FusionWeights(en=kept(self.en), zh=kept(self.zh), stage=self.stage)


DEFAULT_WEIGHTS = FusionWeights()


def stage_match(evidence: Mapping[str, float], stages: Sequence[str | None]) -> np.ndarray:
    """Per article, the share of the message's stage evidence (`text.stage.stage_evidence`) naming the article's
    front-matter stage: 0 for an article without one, and for every article when the message gives no evidence."""
    return np.array([evidence.get(stage, 0.0) if stage else 0.0 for stage in stages], dtype=np.float64)


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

    `signals` maps signal names to article-score arrays of equal shape; a signal whose weight
    is 0 may be absent, one with a non-zero weight must be present."""
    fused: np.ndarray | None = None
    for name, weight in weights.for_language(language).items():
        if name not in signals:
            raise KeyError(f"signal {name!r} has weight {weight} for language {language!r} but was not given")
        part = weight * zscore(signals[name])
        fused = part if fused is None else fused + part
    if fused is None:
        raise ValueError(f"no signal has a non-zero weight for language {language!r}")
    return fused
