"""What feedback teaches retrieval: the messages agents accepted or edited a suggestion for become example
phrasings of the article they were answered with (`kbsuggest.retrieval.examples`), and their vectors are cached in
the feedback store so each is encoded once per model."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from kbsuggest.encoders import Encoder
from kbsuggest.feedback.store import Feedback, FeedbackBackend
from kbsuggest.index.build import text_hash

TEACHING_OUTCOMES = ("accepted", "edited")
"""Feedback whose message becomes a learned phrasing; a rejected suggestion teaches nothing."""


def taught_phrasings(store: FeedbackBackend) -> list[tuple[str, str]]:
    """(article id, redacted message) of the suggestions agents accepted or edited, with the article they taught."""
    snapshot = store.snapshot()
    messages = {s.id: s.message for s in snapshot.suggestions}
    return taught((f, messages[f.suggestion_id]) for f in snapshot.feedback)


def taught(verdicts: Iterable[tuple[Feedback, str]]) -> list[tuple[str, str]]:
    """(article id, message) of each verdict, in order, that teaches: accepted or edited, with an article."""
    return [
        (f.article_id, message)
        for f, message in verdicts
        if f.outcome in TEACHING_OUTCOMES and f.article_id is not None
    ]


@runtime_checkable
class IncrementalFeedback(FeedbackBackend, Protocol):
    """A feedback store whose verdicts are numbered in the order they become visible, so a knowledge base can
    learn only those after the last it learned from (`kbsuggest.feedback.postgres`)."""

    def verdicts_after(self, mark: int) -> tuple[int, list[tuple[Feedback, str]]]:
        """The verdicts numbered after `mark`, in order, each with its suggestion's message; and the number of
        the last one (`mark` when there is none)."""
        ...


class VectorCache:
    """Phrasing vectors kept in the feedback store: little-endian float32 blobs keyed by the
    encoder (model id and fingerprint, so new weights under the same name re-encode) and the sha256 of
    the text it encoded."""

    def __init__(self, store: FeedbackBackend) -> None:
        self.store = store

    def encode(self, encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
        """One row per text; only texts not cached for this encoder are encoded (then cached)."""
        key = f"{encoder.model_id}@{encoder.fingerprint}"
        hashes = [text_hash(t) for t in texts]
        known = {h: np.frombuffer(blob, dtype="<f4") for h, blob in self.store.vectors(key, hashes).items()}
        missing = {h: t for h, t in zip(hashes, texts, strict=True) if h not in known}
        if missing:
            fresh = encoder.encode_queries(list(missing.values())).astype("<f4")
            known.update(zip(missing, fresh, strict=True))
            self.store.store_vectors(key, {h: known[h].tobytes() for h in missing})
        return np.array([known[h] for h in hashes], dtype=np.float32).reshape(len(hashes), -1)
