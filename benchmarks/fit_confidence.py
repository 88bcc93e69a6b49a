"""Refit the confidence models (kbsuggest/retrieval/fusion.py: IN_SCOPE_MODELS, ANSWER_MODELS) on the
shared dev sets and print their constants, with 5-fold held-out figures and reliability tables.

    .venv/bin/python benchmarks/fit_confidence.py [--shared ../shared/eval]

Features: fusion.CONFIDENCE_FEATURES of each message (pooled-cosine signals). Targets: P(in scope), and
P(first answer right) where out-of-scope messages count as wrong. Logistic regression with a small L2
penalty, fitted by Newton's method on standardised features.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from kbsuggest import KnowledgeBase
from kbsuggest.config import Settings
from kbsuggest.evaluation import read_queries
from kbsuggest.retrieval.fusion import CONFIDENCE_FEATURES

ROOT = Path(__file__).resolve().parents[1]
SETS = {"en": ("helpcenter", "queries_dev.jsonl"), "zh": ("helpcenter-zh", "queries.jsonl")}


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
            retrievals = kb._retriever.retrieve_many([q.query for q in queries], k=1)
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


if __name__ == "__main__":
    main()
