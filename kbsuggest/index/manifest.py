"""The manifest: what built an index, what it holds, and the checksums of its data files.

On disk it carries one more key, `checksum`: the sha256 of its other content (`kbsuggest.index.storage`), so
a changed byte anywhere in it is refused like a changed byte in a data file."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from kbsuggest.articles.models import ArticleMeta

FORMAT_VERSION = 6
"""6: the manifest's own checksum; article paths relative to the articles folder."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileRecord(_Record):
    name: str
    sha256: str


class TokenRecord(_Record):
    """An encoder's token vectors (`kbsuggest.index.tokens`): its pool's segments in order, and per view the
    (start, end) rows of each text in the pool."""

    segments: tuple[FileRecord, ...]
    spans: dict[str, FileRecord]


class OnnxRecord(_Record):
    """A sentence-transformers model's transformer in ONNX, for the fast path (`kbsuggest.index.onnx_export`)."""

    model: FileRecord
    tokenizer: FileRecord
    max_seq_length: int
    pooling: Literal["mean", "cls"]
    special_tokens: tuple[str, ...]
    documents: FileRecord | None = None
    """The same model quantised to int8, which builds encode documents with; None: they use the model."""


class EncoderRecord(_Record):
    model_id: str
    fingerprint: str
    dim: int
    views: dict[str, FileRecord]
    tokens: TokenRecord | None = None
    onnx: OnnxRecord | None = None


class ArticleRecord(_Record):
    meta: ArticleMeta
    path: str
    """The source file, relative to the articles folder (POSIX separators)."""
    source_hash: str


class SectionRecord(_Record):
    id: str
    content_hash: str


class Manifest(_Record):
    format_version: int = FORMAT_VERSION
    kbsuggest_version: str
    built_at: datetime
    encoders: dict[str, EncoderRecord]
    sections_file: FileRecord
    templates_file: FileRecord
    lexical_file: FileRecord
    articles: tuple[ArticleRecord, ...]
    sections: tuple[SectionRecord, ...]

    def files(self) -> list[FileRecord]:
        views = [file for record in self.encoders.values() for file in record.views.values()]
        tokens = [f for r in self.encoders.values() if r.tokens for f in (*r.tokens.segments, *r.tokens.spans.values())]
        onnx = [
            f for r in self.encoders.values() if r.onnx for f in (r.onnx.model, r.onnx.tokenizer, r.onnx.documents) if f
        ]
        return [self.sections_file, self.templates_file, self.lexical_file, *views, *tokens, *onnx]
