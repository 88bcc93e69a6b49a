"""Incremental build: only sections whose text changed are encoded; every other vector is reused."""

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

from kbsuggest import __version__
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
    write_sections,
    write_templates,
)
from kbsuggest.index.store import VectorStore
from kbsuggest.reply.templates import Templates

log = logging.getLogger(__name__)
BATCH = 256  # texts per encoder call: large enough to keep length-sorted batching efficient


class BuildSummary(BaseModel):
    """What a build did. `reused` sections kept their vectors; `encoded` texts went through a model."""

    model_config = ConfigDict(frozen=True)

    articles: int
    sections: int
    added: int
    changed: int
    removed: int
    reused: int
    encoded: int
    seconds: float


def content_hash(section: Section) -> str:
    return hashlib.sha256(section.embed_text.encode("utf-8")).hexdigest()


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
    hashes = [content_hash(s) for s in sections]
    with build_lock(index_dir):
        old = _previous(index_dir, encoders)
        old_hashes = {r.id: r.content_hash for r in old.manifest.sections} if old else {}
        vectors, encoded = _vectors(sections, hashes, old, encoders, progress)
        records = {}
        for name, encoder in encoders.items():
            store = VectorStore.from_vectors(vectors[name])
            file = write_file(index_dir, name, ".faiss", store.save)
            records[name] = EncoderRecord(
                model_id=encoder.model_id, fingerprint=encoder.fingerprint, dim=vectors[name].shape[1], file=file
            )
        manifest = Manifest(
            kbsuggest_version=__version__,
            built_at=datetime.now(UTC),
            encoders=records,
            sections_file=write_sections(index_dir, sections),
            templates_file=write_templates(index_dir, templates),
            articles=tuple(ArticleRecord(meta=a.meta, path=a.path) for a in articles),
            sections=tuple(SectionRecord(id=s.id, content_hash=h) for s, h in zip(sections, hashes, strict=True)),
        )
        commit_manifest(index_dir, manifest)
    new_ids = {s.id for s in sections}
    summary = BuildSummary(
        articles=len(articles),
        sections=len(sections),
        added=sum(1 for s in sections if s.id not in old_hashes),
        changed=sum(1 for s, h in zip(sections, hashes, strict=True) if old_hashes.get(s.id, h) != h),
        removed=sum(1 for sid in old_hashes if sid not in new_ids),
        reused=len(sections) - encoded,
        encoded=encoded,
        seconds=round(time.perf_counter() - started, 3),
    )
    stores = {name: VectorStore.from_vectors(v) for name, v in vectors.items()}
    return IndexData(manifest=manifest, sections=sections, stores=stores, templates=templates), summary


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
    sections: tuple[Section, ...],
    hashes: list[str],
    old: IndexData | None,
    encoders: Mapping[str, Encoder],
    progress: bool,
) -> tuple[dict[str, np.ndarray], int]:
    """Per encoder, one vector per section (reused by content hash where possible); and how many were encoded."""
    todo = sorted({h: s.embed_text for s, h in zip(sections, hashes, strict=True)}.items())
    cached: dict[str, dict[str, np.ndarray]] = {}
    for name in encoders:
        cached[name] = {}
        if old is not None:
            old_vectors = old.stores[name].vectors()
            cached[name] = {r.content_hash: old_vectors[i] for i, r in enumerate(old.manifest.sections)}
    missing = [(h, text) for h, text in todo if any(h not in cached[name] for name in encoders)]
    total = len(missing) * len(encoders)
    with tqdm(total=total, desc="encoding sections", unit="text", disable=not progress or not total) as bar:
        for name, encoder in encoders.items():
            need = sorted(((h, t) for h, t in missing if h not in cached[name]), key=lambda item: len(item[1]))
            for start in range(0, len(need), BATCH):
                batch = need[start : start + BATCH]
                for (h, _), vector in zip(batch, encoder.encode_documents([t for _, t in batch]), strict=True):
                    cached[name][h] = vector
                bar.update(len(batch))
    out = {}
    for name, encoder in encoders.items():
        dim = old.manifest.encoders[name].dim if old is not None and not missing else encoder.dim
        rows = [cached[name][h] for h in hashes]
        out[name] = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, dim), np.float32)
    missing_hashes = {h for h, _ in missing}
    return out, sum(1 for h in hashes if h in missing_hashes)
