"""Refit the confidence models (kbsuggest/retrieval/confidence.py: IN_SCOPE_MODELS, ANSWER_MODELS) on the
shared dev sets and print their constants, with 5-fold held-out figures and reliability tables.

    .venv/bin/python benchmarks/fit_confidence.py [--shared ../shared/eval]

Features: confidence.CONFIDENCE_FEATURES of each message (pooled-cosine signals). Targets: P(in scope), and
P(first answer right) where out-of-scope messages count as wrong. Logistic regression with a small L2
penalty, fitted by Newton's method on standardised features.

Escalation threshold (confidence.ESCALATE_BELOW): the P(in scope) below which a fraction q of the fitting
messages' out-of-scope ones fall. q is the largest of QUANTILES whose held-out figures (5-fold, 10
shufflings; model and threshold fitted on the other folds) wrongly escalate at most MAX_WRONGLY_ESCALATED of
the in-scope messages: as many out-of-scope messages handed to a person as that budget allows.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from kbsuggest import KnowledgeBase
from kbsuggest.config import Settings
from kbsuggest.evaluation import read_queries
from kbsuggest.retrieval.confidence import CONFIDENCE_FEATURES

ROOT = Path(__file__).resolve().parents[1]
SETS = {"en": ("helpcenter", "queries_dev.jsonl"), "zh": ("helpcenter-zh", "queries.jsonl")}
QUANTILES = (0.90, 0.95, 0.96, 0.97, 0.98, 0.99)
MAX_WRONGLY_ESCALATED = 0.05
"""Half the 10% of answerable messages that issue 3 allows to be handed over: held-out estimates move on
unseen messages."""


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    mean, scale = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    w = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ w))
        gradient = z.T @ (p - y) + l2 * np.r_[0, w[1:]]
        hessian = (z * (p * (1 - p))[:, None]).T @ z + l2 * np.diag(np.r_[0, np.ones(len(w) - 1)])
        w -= np.linalg.solve(hessian, gradient)
    return mean, scale, w[1:], float(w[0])


def predict(model: tuple[np.ndarray, np.ndarray, np.ndarray, float], x: np.ndarray) -> np.ndarray:
    mean, scale, coef, intercept = model
    result: np.ndarray = 1 / (1 + np.exp(-(intercept + ((x - mean) / scale) @ coef)))
    return result


def threshold(p: np.ndarray, in_scope: np.ndarray, quantile: float) -> float:
    """The P(in scope) below which `quantile` of the out-of-scope messages fall."""
    return float(np.quantile(p[in_scope == 0], quantile))


def escalation_rule(x: np.ndarray, in_scope: np.ndarray) -> float:
    """Print held-out escalation rates per quantile; return the chosen quantile (module docstring)."""
    print("| out-of-scope quantile | held-out out-of-scope escalated | held-out in-scope wrongly escalated |")
    print("|---|---|---|")
    chosen = QUANTILES[0]
    for quantile in QUANTILES:
        rates = []
        for seed in range(10):
            folds = np.random.default_rng(seed).permutation(len(x)) % 5
            escalated = np.zeros(len(x), dtype=bool)
            for fold in range(5):
                train = folds != fold
                model = fit(x[train], in_scope[train])
                below = threshold(predict(model, x[train]), in_scope[train], quantile)
                escalated[~train] = predict(model, x[~train]) < below
            rates.append((escalated[in_scope == 0].mean(), escalated[in_scope == 1].mean()))
        oos, wrong = np.mean(rates, axis=0)
        print(f"| {quantile:.2f} | {oos:.3f} | {wrong:.3f} |")
        if wrong <= MAX_WRONGLY_ESCALATED:
            chosen = quantile
    return chosen


def reliability(p: np.ndarray, y: np.ndarray) -> None:
    print("| predicted | messages | mean predicted | observed |\n|---|---|---|---|")
    for low in np.arange(0, 1, 0.2):
        members = (p >= low) & ((p < low + 0.2) | (low >= 0.8))
        if members.any():
            print(
                f"| {low:.1f}-{low + 0.2:.1f} | {members.sum()} | {p[members].mean():.2f} | {y[members].mean():.2f} |"
            )
    bins = [(p >= low) & (p < low + 0.1) for low in np.arange(0, 1.0, 0.1)]
    print(f"expected calibration error: {sum(abs(p[b].sum() - y[b].sum()) for b in bins) / len(p):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "eval")
    args = parser.parse_args()
    encoders = Settings().encoders()
    for language, (folder, queries_file) in SETS.items():
        queries = read_queries(args.shared / folder / queries_file)
        with tempfile.TemporaryDirectory() as tmp:
            kb = KnowledgeBase.build(args.shared / folder / "articles", tmp, encoders=encoders)
            retrievals = [r for _, r in kb._retrieve([q.query for q in queries], 1, None)]
        x = np.array([[r.features[f] for f in CONFIDENCE_FEATURES] for r in retrievals])
        in_scope = np.array([bool(q.expected) for q in queries], dtype=float)
        right = np.array(
            [
                bool(q.expected) and bool(r.answers) and r.answers[0].article_id in q.expected
                for q, r in zip(queries, retrievals, strict=True)
            ],
            dtype=float,
        )
        rng = np.random.default_rng(0)
        folds = rng.permutation(len(queries)) % 5
        for target_name, y in (("in scope", in_scope), ("first answer right", right)):
            held = np.zeros(len(y))
            for fold in range(5):
                train = folds != fold
                held[~train] = predict(fit(x[train], y[train]), x[~train])
            print(f"\n## {language}: P({target_name}), 5-fold held-out")
            reliability(held, y)
            mean, scale, coef, intercept = fit(x, y)
            print(
                f"LogisticModel(mean={tuple(round(float(v), 4) for v in mean)}, "
                f"scale={tuple(round(float(v), 4) for v in scale)}, "
                f"coef={tuple(round(float(v), 4) for v in coef)}, intercept={intercept:.4f})"
            )
        print(f"\n## {language}: escalation threshold")
        quantile = escalation_rule(x, in_scope)
        below = threshold(predict(fit(x, in_scope), x), in_scope, quantile)
        print(f"chosen quantile {quantile:.2f}: ESCALATE_BELOW[{language!r}] = {below:.3f}")


if __name__ == "__main__":
    main()
