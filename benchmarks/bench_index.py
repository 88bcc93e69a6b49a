"""Exact (flat) vs approximate (HNSW) FAISS search: query latency and HNSW recall@10 against exact.
Vectors are clustered and normalised like sentence embeddings of a knowledge base.

    .venv/bin/python benchmarks/bench_index.py [--sizes 10000 50000 100000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from kbsuggest.index.store import APPROX_THRESHOLD, HNSW_EF_SEARCH, VectorStore


def clustered(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(size=(max(1, n // 50), dim)).astype(np.float32)
    vectors = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def per_query_ms(store: VectorStore, queries: np.ndarray) -> tuple[float, np.ndarray]:
    rows = np.zeros((len(queries), 10), dtype=np.int64)
    started = time.perf_counter()
    for i, query in enumerate(queries):
        rows[i] = store.search(query[None, :], 10)[1][0]
    return (time.perf_counter() - started) * 1000 / len(queries), rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"kbsuggest switches to HNSW (efSearch {HNSW_EF_SEARCH}) at {APPROX_THRESHOLD:,} vectors")
    print("| vectors | flat ms/query | HNSW ms/query | HNSW build s | recall@10 |")
    print("|---|---|---|---|---|")
    for n in args.sizes:
        vectors = clustered(n, args.dim, rng)
        queries = vectors[rng.integers(0, n, 200)] + 0.3 * rng.normal(size=(200, args.dim)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        flat_ms, exact = per_query_ms(VectorStore.from_vectors(vectors, approximate=False), queries)
        started = time.perf_counter()
        hnsw = VectorStore.from_vectors(vectors, approximate=True)
        build_s = time.perf_counter() - started
        hnsw_ms, approx = per_query_ms(hnsw, queries)
        recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
        print(f"| {n:,} | {flat_ms:.2f} | {hnsw_ms:.2f} | {build_s:.1f} | {recall:.3f} |")


if __name__ == "__main__":
    main()
