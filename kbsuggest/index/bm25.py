"""Okapi BM25 over pre-tokenised documents, stored as term posting lists in flat numpy arrays.

Each term's postings hold (document, precomputed BM25 weight), so a query is a few slice-adds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


class BM25:
    """BM25 (Lucene's non-negative idf) with term weights precomputed at build time."""

    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        """Index `documents` (one token list each); empty documents are allowed and never score."""
        self.k1, self.b = float(k1), float(b)
        self.n_docs = len(documents)
        lengths = np.array([len(doc) for doc in documents], dtype=np.float64)
        avgdl = float(lengths.mean()) if self.n_docs and lengths.sum() else 1.0
        postings: dict[str, list[tuple[int, int]]] = {}
        for doc_id, doc in enumerate(documents):
            for term, tf in Counter(doc).items():
                postings.setdefault(term, []).append((doc_id, tf))
        terms = sorted(postings)
        self._terms = terms
        self._vocab: dict[str, int] = {term: i for i, term in enumerate(terms)}
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(postings[t]) for t in terms])
        doc_ids = np.empty(int(indptr[-1]), dtype=np.int32)
        weights = np.empty(int(indptr[-1]), dtype=np.float32)
        for i, term in enumerate(terms):
            plist = postings[term]
            ids = np.fromiter((d for d, _ in plist), dtype=np.int64, count=len(plist))
            freqs = np.fromiter((f for _, f in plist), dtype=np.float64, count=len(plist))
            df = len(plist)
            idf = float(np.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5)))
            norm = self.k1 * (1.0 - self.b + self.b * lengths[ids] / avgdl)
            doc_ids[indptr[i] : indptr[i + 1]] = ids
            weights[indptr[i] : indptr[i + 1]] = idf * freqs * (self.k1 + 1.0) / (freqs + norm)
        self._indptr, self._doc_ids, self._weights = indptr, doc_ids, weights
        self._doc_offsets = np.zeros(self.n_docs + 1, dtype=np.int64)
        self._doc_offsets[1:] = np.cumsum(lengths, dtype=np.int64)
        self._doc_terms = np.fromiter(
            (self._vocab[t] for doc in documents for t in doc), dtype=np.int32, count=int(self._doc_offsets[-1])
        )

    @property
    def nbytes(self) -> int:
        """Its arrays' bytes, and about 80 per vocabulary term (the term's str and its dict entry)."""
        arrays = (self._indptr, self._doc_ids, self._weights, self._doc_offsets, self._doc_terms)
        return sum(a.nbytes for a in arrays) + 80 * len(self._terms)

    def scores(self, query_tokens: Iterable[str]) -> np.ndarray:
        """BM25 score of every document (float32, length `n_docs`); each distinct query term counts once."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        for term in sorted(set(query_tokens)):  # float32 sums depend on order; set order on the hash seed
            i = self._vocab.get(term)
            if i is None:
                continue
            lo, hi = self._indptr[i], self._indptr[i + 1]
            out[self._doc_ids[lo:hi]] += self._weights[lo:hi]  # a term posts each document once
        return out

    def __contains__(self, term: object) -> bool:
        return term in self._vocab

    def coverage(self, query_tokens: Iterable[str]) -> float:
        """Share of the distinct query tokens found in any document (0.0 for an empty query)."""
        distinct = set(query_tokens)
        return sum(term in self._vocab for term in distinct) / len(distinct) if distinct else 0.0

    def document(self, i: int) -> list[str]:
        """Document i's tokens, as indexed (so a rebuild can reuse them instead of tokenising again)."""
        return [self._terms[t] for t in self._doc_terms[self._doc_offsets[i] : self._doc_offsets[i + 1]]]

    def to_state(self) -> dict[str, Any]:
        """Plain arrays and scalars (vocabulary as a list of terms in id order), e.g. for np.savez."""
        return {
            "k1": self.k1,
            "b": self.b,
            "n_docs": self.n_docs,
            "terms": self._terms,
            "indptr": self._indptr,
            "doc_ids": self._doc_ids,
            "weights": self._weights,
            "doc_terms": self._doc_terms,
            "doc_offsets": self._doc_offsets,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BM25:
        """Rebuild an index from `to_state()` output without re-tokenising."""
        self = cls.__new__(cls)
        self.k1, self.b, self.n_docs = float(state["k1"]), float(state["b"]), int(state["n_docs"])
        self._terms = [str(term) for term in state["terms"]]
        self._vocab = {term: i for i, term in enumerate(self._terms)}
        self._indptr = np.asarray(state["indptr"], dtype=np.int64)
        self._doc_ids = np.asarray(state["doc_ids"], dtype=np.int32)
        self._weights = np.asarray(state["weights"], dtype=np.float32)
        self._doc_terms = np.asarray(state["doc_terms"], dtype=np.int32)
        self._doc_offsets = np.asarray(state["doc_offsets"], dtype=np.int64)
        return self

    def save(self, path: Path) -> None:
        """Write `to_state()` to `path` as an .npz of plain arrays (the vocabulary as strings; no pickles)."""
        state = self.to_state()
        state["terms"] = np.asarray(state["terms"], dtype=str)
        with path.open("wb") as handle:
            np.savez(handle, **state)

    @classmethod
    def load(cls, path: Path) -> BM25:
        """Read what `save` wrote, without re-tokenising; a damaged file raises numpy's or zipfile's error."""
        # Opened here, not by np.load, which leaks its own handle when a damaged .npz fails to open.
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as state:
            return cls.from_state({key: state[key] for key in state.files})
