"""A sentence-transformers model's transformer exported to ONNX (`kbsuggest.index.onnx_export`), run with
ONNX Runtime and the `tokenizers` library: answering a message then imports neither torch nor
sentence-transformers."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from kbsuggest.encoders.sentence_transformers import keep_masks, token_rows

if TYPE_CHECKING:
    import onnxruntime


class OnnxEncoder:
    """A sentence-transformers model's ONNX export (`export_onnx`), run on one thread per call so
    concurrent requests do not fight over the cores. Same model id, fingerprint and vectors as the model."""

    def __init__(
        self,
        model_id: str,
        fingerprint: str,
        dim: int,
        files: tuple[Path, Path],
        *,
        max_seq_length: int,
        pooling: Literal["mean", "cls"],
        special_tokens: Sequence[str],
    ) -> None:
        """`files`: the ONNX model (inputs input_ids and attention_mask, output last_hidden_state) and the
        `tokenizers` JSON; `special_tokens` never take part in MaxSim."""
        self.model_id = model_id
        self.fingerprint = fingerprint
        self.dim = dim
        self._files = files
        self._max_seq_length = max_seq_length
        self._pooling = pooling
        self._special = frozenset(special_tokens)
        self._lock = threading.Lock()

    @cached_property
    def _session(self) -> onnxruntime.InferenceSession:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        return onnxruntime.InferenceSession(str(self._files[0]), options, providers=["CPUExecutionProvider"])

    @cached_property
    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self._files[1]))
        tokenizer.enable_truncation(self._max_seq_length)
        tokenizer.no_padding()
        return tokenizer

    @cached_property
    def _keep(self) -> dict[bool, np.ndarray]:
        tokenizer = self._tokenizer
        pieces = [tokenizer.id_to_token(i) or "" for i in range(tokenizer.get_vocab_size())]
        return keep_masks(pieces, self._special)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._pooled(*self._forward(texts))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._pooled(*self._forward(texts))

    def encode_with_tokens(self, texts: Sequence[str], *, query: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        ids, mask, hidden = self._forward(texts)
        keep = self._keep
        tokens = [token_rows(i[m], h[m], keep, query=query) for i, m, h in zip(ids, mask, hidden, strict=True)]
        return self._pooled(ids, mask, hidden), tokens

    def _forward(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(word piece ids, attention mask, last hidden states), padded to the longest text."""
        with self._lock:  # the first call loads both; later calls run concurrently
            session, tokenizer = self._session, self._tokenizer
        encodings = tokenizer.encode_batch(list(texts))
        width = max((len(e.ids) for e in encodings), default=0)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        if not len(encodings):
            return ids, mask.astype(bool), np.zeros((0, 0, self.dim), dtype=np.float32)
        (hidden,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
        return ids, mask.astype(bool), hidden

    def _pooled(self, ids: np.ndarray, mask: np.ndarray, hidden: np.ndarray) -> np.ndarray:
        if self._pooling == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return np.asarray(pooled / np.linalg.norm(pooled, axis=1, keepdims=True), dtype=np.float32)
