"""Incremental build: only texts that changed are encoded; every other vector is reused."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict
from tqdm import tqdm

from kbsuggest._version import __version__
from kbsuggest.articles.models import Article, Section
from kbsuggest.articles.templates import Templates, save_templates
from kbsuggest.encoders.base import Encoder, TokenEncoder
from kbsuggest.errors import IndexCorruptError, IndexMismatchError
from kbsuggest.index.bm25 import BM25
from kbsuggest.index.manifest import ArticleRecord, EncoderRecord, FileRecord, Manifest, OnnxRecord, SectionRecord
from kbsuggest.index.onnx_export import document_encoders, onnx_for
from kbsuggest.index.storage import (
    IndexData,
    build_lock,
    check_encoders,
    commit_manifest,
    read_index,
    read_manifest,
    write_file,
    write_sections,
    write_tokens,
)
from kbsuggest.index.store import VectorStore
from kbsuggest.index.tokens import TokenStore, compact, quantize, wasteful
from kbsuggest.index.views import view_texts
from kbsuggest.text.tokenize import tokenize

log = logging.getLogger(__name__)
BATCH = 256  # texts per encoder call: large enough to keep length-sorted batching efficient


class BuildSummary(BaseModel):
    """What a build did. `reused` sections kept all their vectors; `encoded` sections needed a model."""

    model_config = ConfigDict(frozen=True)

    articles: int
    sections: int
    added: int
    changed: int
    removed: int
    reused: int
    encoded: int
    seconds: float


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def build_index(
    articles: Sequence[Article],
    templates: Mapping[str, Templates],
    index_dir: Path,
    encoders: Mapping[str, Encoder],
    *,
    progress: bool = False,
    quantized: bool = True,
    model_store: Path | None = None,
) -> tuple[IndexData, BuildSummary]:
    """Build or update the index in `index_dir` from already validated `articles` and reply `templates`;
    documents encoded with the int8 exports where `quantized` (`kbsuggest.index.onnx_export`); a new index
    takes the exports `model_store` holds for its models (`kbsuggest.index.model_store`).

    Encodes what the previous index has not (`_vectors`), asks each component to write its own files, then
    commits the manifest that names them (`storage.commit_manifest`)."""
    started = time.perf_counter()
    sections = tuple(s for article in articles for s in article.sections)
    hashes = [text_hash(s.embed_text) for s in sections]
    with build_lock(index_dir):
        old = _previous(index_dir, encoders)
        texts = view_texts(sections)
        view_hashes = _hash_views(texts)
        old_view_hashes = _hash_views(view_texts(old.sections)) if old else {}
        exports = {
            name: onnx_for(
                encoder,
                old.manifest.encoders[name] if old else None,
                index_dir,
                name,
                quantized=quantized,
                store=model_store,
            )
            for name, encoder in encoders.items()
        }
        documents = document_encoders(encoders, exports, index_dir)
        vectors, encoded = _vectors(texts, view_hashes, old, old_view_hashes, documents, progress)
        stores = {
            name: {view: VectorStore.from_vectors(v) for view, v in per_view.items()}
            for name, per_view in vectors.items()
        }
        tokens = {
            name: _token_stores(name, view_hashes, old, encoded[name])
            for name, encoder in encoders.items()
            if isinstance(encoder, TokenEncoder)
        }
        bm25 = BM25(_lexical_documents(sections, hashes, old))
        manifest = Manifest(
            kbsuggest_version=__version__,
            built_at=datetime.now(UTC),
            encoders={
                name: _write_encoder(index_dir, name, encoder, stores[name], tokens.get(name), exports[name])
                for name, encoder in encoders.items()
            },
            sections_file=write_sections(index_dir, sections),
            templates_file=write_file(index_dir, "templates", ".json", partial(save_templates, templates=templates)),
            lexical_file=write_file(index_dir, "lexical", ".npz", bm25.save),
            articles=tuple(ArticleRecord(meta=a.meta, path=a.path, source_hash=a.source_hash) for a in articles),
            sections=tuple(SectionRecord(id=s.id, content_hash=h) for s, h in zip(sections, hashes, strict=True)),
        )
        commit_manifest(index_dir, manifest, old.manifest if old else None)
    data = IndexData(
        manifest=manifest,
        sections=sections,
        stores=stores,
        tokens={name: views for name, (views, _) in tokens.items()},
        templates=templates,
        lexical=bm25,
    )
    fresh = _fresh_sections(view_hashes, old_view_hashes)
    return data, _summary(articles, sections, hashes, old, fresh, time.perf_counter() - started)


def _write_encoder(
    index_dir: Path,
    name: str,
    encoder: Encoder,
    stores: Mapping[str, VectorStore],
    tokens: tuple[dict[str, TokenStore], tuple[FileRecord, ...]] | None,
    onnx: OnnxRecord | None,
) -> EncoderRecord:
    """Write one encoder's vector stores (and token stores) and describe them for the manifest."""
    return EncoderRecord(
        model_id=encoder.model_id,
        fingerprint=encoder.fingerprint,
        dim=stores["body"].dim,
        views={view: write_file(index_dir, f"{name}-{view}", ".faiss", store.save) for view, store in stores.items()},
        tokens=write_tokens(index_dir, name, *tokens) if tokens is not None else None,
        onnx=onnx,
    )


def _summary(
    articles: Sequence[Article],
    sections: tuple[Section, ...],
    hashes: list[str],
    old: IndexData | None,
    fresh: int,
    seconds: float,
) -> BuildSummary:
    old_hashes = {r.id: r.content_hash for r in old.manifest.sections} if old else {}
    new_ids = {s.id for s in sections}
    return BuildSummary(
        articles=len(articles),
        sections=len(sections),
        added=sum(1 for s in sections if s.id not in old_hashes),
        changed=sum(1 for s, h in zip(sections, hashes, strict=True) if old_hashes.get(s.id, h) != h),
        removed=sum(1 for sid in old_hashes if sid not in new_ids),
        reused=len(sections) - fresh,
        encoded=fresh,
        seconds=round(seconds, 3),
    )


def _lexical_documents(sections: tuple[Section, ...], hashes: list[str], old: IndexData | None) -> list[list[str]]:
    """BM25 tokens per section: reused from `old` for unchanged text (same content hash), else tokenised."""
    known: dict[str, int] = {}
    if old is not None:
        known = {record.content_hash: row for row, record in enumerate(old.manifest.sections)}
    return [
        old.lexical.document(known[h]) if old is not None and h in known else tokenize(s.embed_text)
        for s, h in zip(sections, hashes, strict=True)
    ]


def _hash_views(texts: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Each view's text hashes, row-aligned with its texts: computed once per build."""
    return {view: [text_hash(t) for t in rows] for view, rows in texts.items()}


def _fresh_sections(view_hashes: Mapping[str, list[str]], old_view_hashes: Mapping[str, list[str]]) -> int:
    """How many sections have a view text the old index did not embed (and so needed encoding)."""
    known = {h for rows in old_view_hashes.values() for h in rows}
    rows = zip(*view_hashes.values(), strict=True)
    return sum(1 for row in rows if any(h not in known for h in row))


def _previous(index_dir: Path, encoders: Mapping[str, Encoder]) -> IndexData | None:
    """The current index if its vectors can be reused, else None (everything is encoded afresh)."""
    try:
        manifest = read_manifest(index_dir)
        if manifest is None:
            return None
        check_encoders(manifest, encoders, index_dir)
        return read_index(index_dir, manifest)
    except (IndexMismatchError, IndexCorruptError) as exc:
        log.warning("not reusing the existing index: %s", exc)
        return None


@dataclass
class _Encoded:
    """Per encoder, by text hash: vectors; for token encoders, where each text's token vectors are in the old
    index's pool (`spans`), or, for the texts encoded now, the vectors themselves (`tokens`)."""

    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    spans: dict[str, list[int]] = field(default_factory=dict)
    tokens: dict[str, np.ndarray] = field(default_factory=dict)


def _vectors(
    texts: Mapping[str, list[str]],
    hashes: Mapping[str, list[str]],
    old: IndexData | None,
    old_hashes: Mapping[str, list[str]],
    encoders: Mapping[str, Encoder],
    progress: bool,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, _Encoded]]:
    """Per encoder and view, one vector per text, reused by text hash from `old`, and what was encoded or
    found per text hash. `hashes` and `old_hashes` are the views' text hashes (`_hash_views`), row-aligned
    with the texts."""
    cached = {name: _Encoded() for name in encoders}
    if old is not None:
        for name, known in cached.items():
            old_tokens = old.tokens.get(name, {})
            for view, rows in old_hashes.items():
                known.vectors.update(zip(rows, old.stores[name][view].vectors(), strict=True))
                if view in old_tokens:
                    known.spans.update(zip(rows, old_tokens[view].spans.tolist(), strict=True))
    todo = {}
    for name, encoder in encoders.items():
        have = cached[name].spans if isinstance(encoder, TokenEncoder) else cached[name].vectors
        unique = {
            h: t for view, rows in texts.items() for h, t in zip(hashes[view], rows, strict=True) if h not in have
        }
        todo[name] = sorted(unique.items(), key=lambda item: len(item[1]))
    total = sum(len(items) for items in todo.values())
    with tqdm(total=total, desc="encoding", unit="text", disable=not progress or not total) as bar:
        for name, encoder in encoders.items():
            for start in range(0, len(todo[name]), BATCH):
                batch = todo[name][start : start + BATCH]
                batch_texts = [t for _, t in batch]
                if isinstance(encoder, TokenEncoder):
                    vectors, tokens = encoder.encode_with_tokens(batch_texts, query=False)
                    cached[name].tokens.update((h, quantize(m)) for (h, _), m in zip(batch, tokens, strict=True))
                else:
                    vectors = encoder.encode_documents(batch_texts)
                cached[name].vectors.update((h, v) for (h, _), v in zip(batch, vectors, strict=True))
                bar.update(len(batch))
    vectors_out: dict[str, dict[str, np.ndarray]] = {}
    for name, encoder in encoders.items():
        dim = _dim(name, encoder, old, cached[name])
        vectors_out[name] = {}
        for view, rows in hashes.items():
            found = [cached[name].vectors[h] for h in rows]
            vectors_out[name][view] = np.vstack(found).astype(np.float32) if found else np.zeros((0, dim), np.float32)
    return vectors_out, cached


def _token_stores(
    name: str, hashes: Mapping[str, list[str]], old: IndexData | None, encoded: _Encoded
) -> tuple[dict[str, TokenStore], tuple[FileRecord, ...]]:
    """Per view, `name`'s token store: the old index's pool plus one segment of the texts encoded now, or the
    whole pool compacted when that is wasteful; and the files of the segments already on disk."""
    segments: list[np.ndarray] = []
    on_disk: tuple[FileRecord, ...] = ()
    record = old.manifest.encoders[name].tokens if old is not None else None
    if old is not None and record is not None:
        segments, on_disk = list(next(iter(old.tokens[name].values())).segments), record.segments
    where = dict(encoded.spans)
    end = sum(len(segment) for segment in segments)
    for h, matrix in encoded.tokens.items():
        where[h] = [end, end + len(matrix)]
        end += len(matrix)
    if encoded.tokens:
        segments.append(np.concatenate(list(encoded.tokens.values())))
    stores = {
        view: TokenStore(segments, np.array([where[h] for h in rows], dtype=np.int64).reshape(-1, 2))
        for view, rows in hashes.items()
    }
    return (compact(stores), ()) if wasteful(stores) else (stores, on_disk)


def _dim(name: str, encoder: Encoder, old: IndexData | None, encoded: _Encoded) -> int:
    """The width of `name`'s vectors, without loading the model when it is already known."""
    if encoded.vectors:
        return len(next(iter(encoded.vectors.values())))
    return old.manifest.encoders[name].dim if old is not None else encoder.dim
