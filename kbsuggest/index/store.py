"""FAISS inner-product store over normalised vectors: exact below `APPROX_THRESHOLD`, HNSW above."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

# Exact search of 384-d vectors stays under a few ms up to this size on 2 cores
# (benchmarks/bench_index.py measures it, and HNSW's recall@10 above it).
APPROX_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 512


class VectorStore:
    """Row i holds the vector of section i. Rebuilt whole on every build (vectors are reused, not re-encoded)."""

    def __init__(self, index: faiss.Index) -> None:
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = HNSW_EF_SEARCH  # not persisted by write_index, so set on every load
        self._index = index

    @classmethod
    def from_vectors(cls, vectors: np.ndarray, *, approximate: bool | None = None) -> VectorStore:
        """Exact search below `APPROX_THRESHOLD` rows, HNSW from there on (or as `approximate` says)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        index: faiss.Index
        if not (len(vectors) >= APPROX_THRESHOLD if approximate is None else approximate):
            index = faiss.IndexFlatIP(dim)
        else:
            hnsw = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            index = hnsw
        index.add(vectors)
        return cls(index)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def exact(self) -> bool:
        return isinstance(self._index, faiss.IndexFlat)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def vectors(self) -> np.ndarray:
        """All stored vectors, row-aligned with the sections."""
        return self._index.reconstruct_n(0, len(self)) if len(self) else np.zeros((0, self._index.d), np.float32)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) of the k best rows per query, best first; rows are -1 where fewer exist."""
        k = max(1, min(k, len(self)))
        scores, rows = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return scores, rows

    def save(self, path: Path) -> None:
        """Raises OSError when the file cannot be written (faiss itself raises RuntimeError)."""
        try:
            faiss.write_index(self._index, str(path))
        except RuntimeError as exc:
            raise OSError(f"faiss could not write {path}: {str(exc).strip().splitlines()[-1]}") from None

    @classmethod
    def load(cls, path: Path) -> VectorStore:
        return cls(faiss.read_index(str(path)))
