"""A tiny deterministic encoder for tests and demos: hashed words and character trigrams."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


class HashingEncoder:
    """Bag of hashed features; no model files, identical output on every machine.

    `texts_encoded` counts every text passed in, so tests can assert what a build re-encoded.
    """

    def __init__(self, dim: int = 64) -> None:
        self._dim = dim
        self.texts_encoded = 0

    @property
    def model_id(self) -> str:
        return f"kbsuggest/hashing-{self._dim}"

    @property
    def fingerprint(self) -> str:
        return f"hashing-v1-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in _features(text):
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self._dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)

    def encode_with_tokens(self, texts: Sequence[str], *, query: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        pooled = self.encode_documents(texts)
        self.texts_encoded -= len(texts)  # counted once, as one forward pass
        tokens = []
        for text in texts:
            words = _TOKEN.findall(text.lower()) or [text.lower() or " "]
            matrix = self.encode_documents(words)
            self.texts_encoded -= len(words)
            tokens.append(matrix)
        self.texts_encoded += len(texts)
        return pooled, tokens


def _features(text: str) -> list[str]:
    words = _TOKEN.findall(text.lower())
    grams = [w[i : i + 3] for w in words for i in range(max(1, len(w) - 2))]
    return words + grams
