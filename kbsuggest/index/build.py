"""Incremental build: only texts that changed are encoded; every other vector is reused."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict
from tqdm import tqdm

from kbsuggest._version import __version__
from kbsuggest.articles.models import Article, Section
from kbsuggest.encoders.base import Encoder
from kbsuggest.errors import IndexCorruptError, IndexMismatchError
from kbsuggest.index.manifest import ArticleRecord, EncoderRecord, Manifest, SectionRecord
from kbsuggest.index.storage import (
    IndexData,
    build_lock,
    check_encoders,
    commit_manifest,
    read_index,
    read_manifest,
    write_file,
    write_lexical,
    write_sections,
    write_templates,
)
from kbsuggest.index.store import VectorStore
from kbsuggest.index.views import SECTION_VIEWS, view_texts
from kbsuggest.reply.templates import Templates
from kbsuggest.retrieval.bm25 import BM25
from kbsuggest.retrieval.tokenize import tokenize

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
) -> tuple[IndexData, BuildSummary]:
    """Build or update the index in `index_dir` from already validated `articles` and reply `templates`."""
    started = time.perf_counter()
    sections = tuple(s for article in articles for s in article.sections)
    hashes = [text_hash(s.embed_text) for s in sections]
    with build_lock(index_dir):
        old = _previous(index_dir, encoders)
        old_hashes = {r.id: r.content_hash for r in old.manifest.sections} if old else {}
        texts = view_texts(sections)
        fresh = _fresh_sections(sections, old)
        vectors = _vectors(texts, old, encoders, progress)
        bm25 = BM25([tokenize(s.embed_text) for s in sections])
        records = {}
        for name, encoder in encoders.items():
            files = {
                view: write_file(index_dir, f"{name}-{view}", ".faiss", VectorStore.from_vectors(v).save)
                for view, v in vectors[name].items()
            }
            dim = vectors[name]["body"].shape[1]
            records[name] = EncoderRecord(
                model_id=encoder.model_id, fingerprint=encoder.fingerprint, dim=dim, views=files
            )
        manifest = Manifest(
            kbsuggest_version=__version__,
            built_at=datetime.now(UTC),
            encoders=records,
            sections_file=write_sections(index_dir, sections),
            templates_file=write_templates(index_dir, templates),
            lexical_file=write_lexical(index_dir, bm25),
            articles=tuple(ArticleRecord(meta=a.meta, path=a.path) for a in articles),
            sections=tuple(SectionRecord(id=s.id, content_hash=h) for s, h in zip(sections, hashes, strict=True)),
        )
        commit_manifest(index_dir, manifest, old.manifest if old else None)
    new_ids = {s.id for s in sections}
    summary = BuildSummary(
        articles=len(articles),
        sections=len(sections),
        added=sum(1 for s in sections if s.id not in old_hashes),
        changed=sum(1 for s, h in zip(sections, hashes, strict=True) if old_hashes.get(s.id, h) != h),
        removed=sum(1 for sid in old_hashes if sid not in new_ids),
        reused=len(sections) - fresh,
        encoded=fresh,
        seconds=round(time.perf_counter() - started, 3),
    )
    stores = {
        name: {view: VectorStore.from_vectors(v) for view, v in per_view.items()} for name, per_view in vectors.items()
    }
    data = IndexData(manifest=manifest, sections=sections, stores=stores, templates=templates, lexical=bm25)
    return data, summary


def _fresh_sections(sections: tuple[Section, ...], old: IndexData | None) -> int:
    """How many sections have a view text the old index did not embed (and so needed encoding)."""
    if old is None:
        return len(sections)
    known = {text_hash(make(s)) for s in old.sections for make in SECTION_VIEWS.values()}
    return sum(1 for s in sections if any(text_hash(make(s)) not in known for make in SECTION_VIEWS.values()))


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


def _vectors(
    texts: Mapping[str, list[str]], old: IndexData | None, encoders: Mapping[str, Encoder], progress: bool
) -> dict[str, dict[str, np.ndarray]]:
    """Per encoder and view, one vector per text, reused by text hash from `old` where possible."""
    cached: dict[str, dict[str, np.ndarray]] = {name: {} for name in encoders}
    if old is not None:
        old_texts = view_texts(old.sections)
        for name in encoders:
            for view, rows in old_texts.items():
                old_vectors = old.stores[name][view].vectors()
                cached[name].update((text_hash(t), old_vectors[i]) for i, t in enumerate(rows))
    todo = {
        name: sorted(
            {text_hash(t): t for ts in texts.values() for t in ts if text_hash(t) not in cached[name]}.items(),
            key=lambda item: len(item[1]),
        )
        for name in encoders
    }
    total = sum(len(items) for items in todo.values())
    with tqdm(total=total, desc="encoding", unit="text", disable=not progress or not total) as bar:
        for name, encoder in encoders.items():
            items = todo[name]
            for start in range(0, len(items), BATCH):
                batch = items[start : start + BATCH]
                for (h, _), vector in zip(batch, encoder.encode_documents([t for _, t in batch]), strict=True):
                    cached[name][h] = vector
                bar.update(len(batch))
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, encoder in encoders.items():
        out[name] = {}
        for view, rows in texts.items():
            vectors = [cached[name][text_hash(t)] for t in rows]
            dim = len(vectors[0]) if vectors else _dim(name, encoder, old)
            out[name][view] = np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, dim), np.float32)
    return out


def _dim(name: str, encoder: Encoder, old: IndexData | None) -> int:
    """The width of `name`'s vectors, without loading the model when an old index knows it."""
    return old.manifest.encoders[name].dim if old is not None else encoder.dim
