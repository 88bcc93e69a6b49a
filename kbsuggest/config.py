"""Settings, read from arguments or `KBSUGGEST_*` environment variables. Nothing is read at import."""

from __future__ import annotations

import os

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
    `max_article_bytes`: article files larger than this are refused by `build` and reported by `lint`."""

    model_config = ConfigDict(frozen=True)

    model: str = BUNDLED_NAME
    default_locale: str = "en"
    fast_queries: bool = True
    quantized_build: bool = True
    max_article_bytes: int = Field(default=MAX_ARTICLE_BYTES, gt=0)

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
        """'dense': the configured model; 'multilingual': USE multilingual, which carries Chinese."""
        if self.model == "hashing":
            return {"dense": HashingEncoder(64), "multilingual": HashingEncoder(48)}
        return {"dense": SentenceTransformerEncoder(self.model), "multilingual": UseEncoder()}
