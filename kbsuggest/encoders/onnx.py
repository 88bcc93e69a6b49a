"""A sentence-transformers model's transformer exported to ONNX (`kbsuggest.index.onnx_export`), run with
ONNX Runtime and the `tokenizers` library: answering a message then imports neither torch nor
sentence-transformers.

`shared_onnx_encoder` opens each export once per process: every knowledge base whose index holds the same
files (same sha256) answers with the same ONNX Runtime session."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kbsuggest.encoders.sentence_transformers import keep_masks, token_rows


class OnnxEncoder:
    """A sentence-transformers model's ONNX export (`export_onnx`), run on `threads` threads per call: one
    for messages, so concurrent requests do not fight over the cores; a build, encoding one batch at a
    time, passes two. Same model id and fingerprint as the model; same vectors, or near them for the int8
    export that builds encode documents with."""

    def __init__(
        self,
        model_id: str,
        fingerprint: str,
        files: tuple[Path, Path],
        *,
        max_seq_length: int,
        pooling: Literal["mean", "cls"],
        special_tokens: Sequence[str],
        threads: int = 1,
        batch_size: int = 32,
    ) -> None:
        """`files`: the ONNX model (inputs input_ids and attention_mask, output last_hidden_state) and the
        `tokenizers` JSON, both read now; `special_tokens` never take part in MaxSim."""
        self.model_id = model_id
        self.fingerprint = fingerprint
        self._pooling = pooling
        self._batch_size = batch_size
        # Opened now, not at the first message: a file removed or replaced later cannot fail a query.
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(files[0]), options, providers=["CPUExecutionProvider"])
        self.dim: int = self._session.get_outputs()[0].shape[-1]
        self._tokenizer: Any = Tokenizer.from_file(str(files[1]))
        self._tokenizer.enable_truncation(max_seq_length)
        self._tokenizer.no_padding()
        pieces = [self._tokenizer.id_to_token(i) or "" for i in range(self._tokenizer.get_vocab_size())]
        self._keep = keep_masks(pieces, frozenset(special_tokens))

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        pooled = np.empty((len(texts), self.dim), dtype=np.float32)
        for rows, ids, mask, hidden in self._batches(texts):
            pooled[rows] = self._pooled(ids, mask, hidden)
        return pooled

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)

    def encode_with_tokens(self, texts: Sequence[str], *, query: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        keep = self._keep
        pooled = np.empty((len(texts), self.dim), dtype=np.float32)
        tokens: dict[int, np.ndarray] = {}
        for rows, ids, mask, hidden in self._batches(texts):
            pooled[rows] = self._pooled(ids, mask, hidden)
            for row, i, m, h in zip(rows, ids, mask, hidden, strict=True):
                tokens[row] = token_rows(i[m], h[m], keep, query=query)
        return pooled, [tokens[row] for row in range(len(texts))]

    def _batches(self, texts: Sequence[str]) -> Iterator[tuple[list[int], np.ndarray, np.ndarray, np.ndarray]]:
        """Per batch of texts of about the same number of word pieces (texts sorted by it, so batches are padded
        little): the texts' positions in `texts`, their word piece ids, attention mask and last hidden states."""
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(encodings)), key=lambda row: len(encodings[row].ids))
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            width = len(encodings[rows[-1]].ids)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, row in enumerate(rows):
                ids[i, : len(encodings[row].ids)] = encodings[row].ids
                mask[i, : len(encodings[row].ids)] = 1
            (hidden,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            yield rows, ids, mask.astype(bool), hidden

    def _pooled(self, ids: np.ndarray, mask: np.ndarray, hidden: np.ndarray) -> np.ndarray:
        if self._pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return np.asarray(pooled / np.linalg.norm(pooled, axis=1, keepdims=True), dtype=np.float32)


_OPEN: dict[tuple[object, ...], OnnxEncoder] = {}
_OPEN_LOCK = threading.Lock()


def shared_onnx_encoder(
    model_id: str,
    fingerprint: str,
    files: tuple[Path, Path],
    sha256: tuple[str, str],
    *,
    max_seq_length: int,
    pooling: Literal["mean", "cls"],
    special_tokens: Sequence[str],
    threads: int,
) -> OnnxEncoder:
    """The process's `OnnxEncoder` of the export whose model and tokenizer files hash to `sha256` (verified by
    the caller), opened from `files` the first time it is asked for and kept for the life of the process.
    Another index holding the same export (a copy, or a link into a shared model store) gets the same one."""
    key = (model_id, fingerprint, sha256, max_seq_length, pooling, tuple(special_tokens), threads)
    with _OPEN_LOCK:  # held while a session opens, so two first requests do not open it twice
        encoder = _OPEN.get(key)
        if encoder is None:
            encoder = _OPEN[key] = OnnxEncoder(
                model_id,
                fingerprint,
                files,
                max_seq_length=max_seq_length,
                pooling=pooling,
                special_tokens=special_tokens,
                threads=threads,
            )
        return encoder
