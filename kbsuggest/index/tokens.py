"""Per-token vectors of many texts for late-interaction (MaxSim) scoring, stored as int8.

The vectors are L2-normalised, so every component lies in [-1, 1]; `quantize` stores round(127 x) and
MaxSim rescales the query instead of the rows. Against float16 storage: English dev accuracy@1 0.828 vs
0.830 (2 of 810 messages), the demo store unchanged; half the memory, disk and rebuild I/O."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

SCALE = 127.0


def quantize(vectors: np.ndarray) -> np.ndarray:
    """L2-normalised float vectors -> int8 (round(127 x))."""
    quantized: np.ndarray = np.clip(np.rint(vectors * SCALE), -SCALE, SCALE).astype(np.int8)
    return quantized


class TokenStore:
    """Rows `offsets[i]:offsets[i + 1]` of `matrix` are the token vectors of text i."""

    def __init__(self, matrix: np.ndarray, offsets: np.ndarray) -> None:
        self.matrix = matrix
        self.offsets = offsets

    @classmethod
    def from_matrices(cls, matrices: Sequence[np.ndarray], dim: int) -> TokenStore:
        """From `quantize`d matrices, one per text."""
        offsets = np.zeros(len(matrices) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(m) for m in matrices])
        matrix = np.concatenate(matrices) if matrices else np.zeros((0, dim), np.int8)
        return cls(matrix, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def rows(self, i: int) -> np.ndarray:
        """Text i's token vectors, as stored (int8)."""
        return np.array(self.matrix[self.offsets[i] : self.offsets[i + 1]])

    def maxsim(self, query: np.ndarray, items: np.ndarray) -> np.ndarray:
        """ColBERT's MaxSim of `query` (tokens x dim) against each text in `items`: the mean, over query
        tokens, of the best cosine with any of the text's tokens."""
        starts = self.offsets[items]
        lengths = self.offsets[items + 1] - starts
        segments = np.cumsum(lengths) - lengths  # where each item's tokens start in the gathered rows
        gather = np.repeat(starts - segments, lengths) + np.arange(lengths.sum())
        sims = (query / SCALE) @ np.asarray(self.matrix[gather], dtype=np.float32).T
        best: np.ndarray = np.maximum.reduceat(sims, segments, axis=1).mean(axis=0)
        return best

    @classmethod
    def load(cls, matrix_path: Path, offsets_path: Path) -> TokenStore:
        """The matrix is memory-mapped: only the candidates' rows are read. (A plain array over the mapping:
        indexing a `np.memmap` costs ~0.1 ms more per call.)"""
        return cls(np.asarray(np.load(matrix_path, mmap_mode="r")), np.load(offsets_path, allow_pickle=False))
