"""BM25 against the textbook formula computed term by term, and its stored state."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from kbsuggest.index.bm25 import BM25

DOCS = [
    ["refund", "bank", "refund", "days"],
    ["shipping", "express", "days"],
    [],
    ["refund", "shipping", "label", "free", "free", "free"],
]


def brute_force(docs: list[list[str]], query: list[str], k1: float = 1.2, b: float = 0.75) -> list[float]:
    """Okapi BM25 with Lucene's non-negative idf, one distinct query term at a time."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    out = []
    for doc in docs:
        tf = Counter(doc)
        score = 0.0
        for term in set(query):
            df = sum(term in d for d in docs)
            if not tf[term]:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            score += idf * tf[term] * (k1 + 1) / (tf[term] + k1 * (1 - b + b * len(doc) / avgdl))
        out.append(score)
    return out


@pytest.mark.parametrize(
    "query", [["refund"], ["refund", "refund", "days"], ["free", "shipping", "unknown"], [], ["unknown"]]
)
def test_scores_equal_the_formula(query: list[str]) -> None:
    np.testing.assert_allclose(BM25(DOCS).scores(query), brute_force(DOCS, query), rtol=1e-6)


def test_an_empty_document_never_scores_and_coverage_counts_distinct_known_terms() -> None:
    index = BM25(DOCS)
    assert index.scores(["refund", "shipping", "free"])[2] == 0.0
    assert index.coverage(["refund", "refund", "nope"]) == 0.5
    assert index.coverage([]) == 0.0
    assert "label" in index and "nope" not in index


def test_saved_and_loaded_it_keeps_scores_and_documents(tmp_path: Path) -> None:
    index = BM25(DOCS, k1=1.5, b=0.5)
    index.save(tmp_path / "lexical.npz")
    again = BM25.load(tmp_path / "lexical.npz")
    for query in (["refund"], ["free", "days"], ["express", "label"]):
        np.testing.assert_array_equal(again.scores(query), index.scores(query))
    assert [again.document(i) for i in range(len(DOCS))] == DOCS
    assert (again.k1, again.b, again.n_docs) == (1.5, 0.5, len(DOCS))
