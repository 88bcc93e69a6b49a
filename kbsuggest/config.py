"""Settings, read from arguments or `KBSUGGEST_*` environment variables. Nothing is read at import."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kbsuggest.articles.load import MAX_ARTICLE_BYTES
from kbsuggest.encoders import Encoder, HashingEncoder, SentenceTransformerEncoder, UseEncoder
from kbsuggest.encoders.sentence_transformers import BUNDLED_NAME
from kbsuggest.errors import InputError


class Settings(BaseModel):
    """`model`: any sentence-transformers model: the bundled 'all-MiniLM-L6-v2', a local folder or a hub name;
    or 'hashing', the tiny deterministic test encoder (no model files; for tests and dry runs only).
    `default_locale`: the locale of articles whose front matter names none.
    `fast_queries`: encode messages with the ONNX export of the model that a build stores in the index
    (same vectors, no torch: `kbsuggest.index.onnx_export`); False encodes them with sentence-transformers,
    which, like building, needs the `build` extra (`pip install "kbsuggest[build]"`).
    `quantized_build`: builds encode articles with that export quantised to int8 (faster, accuracy within 0.005:
    README "Faster builds", benchmarks/bench_build.py); False encodes them exactly, with sentence-transformers.
    Either applies to the texts a build encodes: a changed setting re-encodes nothing already in the index.
    `max_article_bytes`: article files larger than this are refused by `build` and reported by `lint`.
    `memory_budget_mb`: a process serving many knowledge bases (`kbsuggest.registry`) unloads the least
    recently used ones while their data (models aside, which all share) is estimated above this many MiB.
    `model_store`: a folder builds hard-link their ONNX exports into, keyed by sha256, so that many index
    folders hold one copy of the model files on disk (`kbsuggest.index.model_store`); None: no store."""

    model_config = ConfigDict(frozen=True)

    model: str = BUNDLED_NAME
    default_locale: str = "en"
    fast_queries: bool = True
    quantized_build: bool = True
    max_article_bytes: int = Field(default=MAX_ARTICLE_BYTES, gt=0)
    memory_budget_mb: int = Field(default=1024, gt=0)
    model_store: Path | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """Defaults overridden where set by KBSUGGEST_<FIELD> (KBSUGGEST_MODEL, KBSUGGEST_QUANTIZED_BUILD, ...).

        Raises `InputError` naming each variable whose value cannot be used."""
        env = {
            field: os.environ[f"KBSUGGEST_{field.upper()}"]
            for field in cls.model_fields
            if f"KBSUGGEST_{field.upper()}" in os.environ
        }
        try:
            return cls.model_validate(env)
        except ValidationError as exc:
            problems = "; ".join(
                f"KBSUGGEST_{str(e['loc'][0]).upper()}={env[str(e['loc'][0])]!r}: {e['msg']}" for e in exc.errors()
            )
            raise InputError(f"{problems}. Fix: correct the environment variable, or unset it") from None

    def encoders(self) -> dict[str, Encoder]:
        """'dense': the configured model; 'multilingual': USE multilingual, which carries Chinese.

        The instances are shared by the whole process, one per model setting, so every knowledge base loaded
        with the same `model` uses (and loads) the same models once; they are thread-safe."""
        with _SHARED_LOCK:
            if self.model not in _SHARED:
                _SHARED[self.model] = _new_encoders(self.model)
            return dict(_SHARED[self.model])


_SHARED: dict[str, dict[str, Encoder]] = {}
_SHARED_LOCK = threading.Lock()


def _new_encoders(model: str) -> dict[str, Encoder]:
    if model == "hashing":
        return {"dense": HashingEncoder(64), "multilingual": HashingEncoder(48)}
    return {"dense": SentenceTransformerEncoder(model), "multilingual": UseEncoder()}
