"""A knowledge base's index in PostgreSQL: each build is published as a new version in one transaction that also
makes it current (`publish`), and a version is read back into the same `IndexData` a folder yields
(`read_current`), so the retriever answers the same from either.

What a version holds (tables in `kbsuggest.database.schema`): the sections (JSON) with their BM25 tokens, every
encoder's vectors per view (pgvector, row-aligned with the sections), each token encoder's MaxSim vectors per text
(int8), the BM25 postings with their precomputed weights (so the per-knowledge-base IDF is the build's), the
manifest and the reply templates. The ONNX exports the fast query path needs are stored once by sha256
(`kb_files`) and written to a local cache folder by a reader (`model_files`).

Vectors travel in pgvector's binary form (COPY and binary cursors): float32 both ways, no decimal round trip."""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Json
from pydantic import TypeAdapter

from kbsuggest.articles.models import Section
from kbsuggest.articles.templates import Templates
from kbsuggest.database import CHANNEL, Database
from kbsuggest.encoders.base import sha256_file
from kbsuggest.errors import DatabaseError, InputError
from kbsuggest.index.bm25 import BM25
from kbsuggest.index.manifest import FileRecord, Manifest
from kbsuggest.index.storage import IndexData
from kbsuggest.index.store import VectorStore
from kbsuggest.index.tokens import TokenStore

KEPT_VERSIONS = 2
"""Versions of a knowledge base kept after a publish: the new one and the one before (a replica that began
reading it just before the switch reads it whole: its transaction's snapshot keeps the rows anyway)."""
_TEMPLATES = TypeAdapter(dict[str, Templates])
_VECTOR_HEADER = struct.Struct(">HH")  # pgvector's binary form: dimensions, unused; then big-endian float32s


@dataclass(frozen=True)
class Version:
    """A published version of a knowledge base, loaded."""

    kb: str
    number: int
    data: IndexData


def publish(db: Database, kb: str, data: IndexData, index_dir: Path) -> int:
    """Store `data` (built in `index_dir`, where its ONNX exports are) as the next version of `kb` and make it
    current, in one transaction; notify listeners on commit. Returns the new version's number. Versions beyond
    `KEPT_VERSIONS` are deleted in the same transaction."""
    _check_name(kb)
    with db.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (kb,))  # one publisher per knowledge base
        row = conn.execute("SELECT coalesce(max(version), 0) + 1 FROM kb_versions WHERE kb = %s", (kb,)).fetchone()
        assert row is not None
        version = int(row[0])
        _store_files(conn, index_dir, _model_files(data.manifest))
        state = data.lexical.to_state()
        conn.execute(
            "INSERT INTO kb_versions (kb, version, manifest, templates, bm25) VALUES (%s, %s, %s, %s, %s)",
            (
                kb,
                version,
                data.manifest.model_dump_json(),
                _TEMPLATES.dump_json(dict(data.templates)).decode(),
                json.dumps({"k1": state["k1"], "b": state["b"], "n_docs": state["n_docs"]}),
            ),
        )
        key = (kb, version)
        _copy(
            conn,
            "kb_sections (kb, version, row_number, section, lexical_tokens)",
            ["text", "int8", "int4", "json", "text[]"],
            (
                (*key, i, Json(section.model_dump(mode="json")), data.lexical.document(i))
                for i, section in enumerate(data.sections)
            ),
        )
        _copy(
            conn,
            "kb_vectors (kb, version, encoder, view, row_number, embedding)",
            ["text", "int8", "text", "text", "int4", "bytea"],  # bytea: COPY hands the bytes to pgvector's recv
            (
                (*key, name, view, i, _vector_bytes(vector))
                for name, views in data.stores.items()
                for view, store in views.items()
                for i, vector in enumerate(store.vectors())
            ),
        )
        _copy(
            conn,
            "kb_tokens (kb, version, encoder, view, row_number, tokens)",
            ["text", "int8", "text", "text", "int4", "bytea"],
            (
                (*key, name, view, i, store.rows(i).tobytes())
                for name, views in data.tokens.items()
                for view, store in views.items()
                for i in range(len(store))
            ),
        )
        indptr, doc_ids, weights = state["indptr"], state["doc_ids"], state["weights"]
        _copy(
            conn,
            "kb_lexical (kb, version, term_id, term, row_numbers, weights)",
            ["text", "int8", "int4", "text", "int4[]", "float4[]"],
            (
                (
                    *key,
                    i,
                    term,
                    doc_ids[indptr[i] : indptr[i + 1]].tolist(),
                    weights[indptr[i] : indptr[i + 1]].tolist(),
                )
                for i, term in enumerate(state["terms"])
            ),
        )
        conn.execute(
            "INSERT INTO kb_current (kb, version) VALUES (%s, %s) ON CONFLICT (kb) DO UPDATE SET version = %s",
            (kb, version, version),
        )
        conn.execute("DELETE FROM kb_versions WHERE kb = %s AND version <= %s", (kb, version - KEPT_VERSIONS))
        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, kb))
    return version


def current_version(db: Database, kb: str) -> int | None:
    """The number of `kb`'s current version on the read URL; None when it has none."""
    with db.connection(read=True) as conn:
        row = conn.execute("SELECT version FROM kb_current WHERE kb = %s", (kb,)).fetchone()
    return None if row is None else int(row[0])


def published(db: Database) -> list[str]:
    """The names of the knowledge bases with a current version on the read URL, sorted."""
    with db.connection(read=True) as conn:
        return [row[0] for row in conn.execute("SELECT kb FROM kb_current ORDER BY kb")]


def read_current(db: Database, kb: str) -> Version:
    """`kb`'s current version, read from the read URL in one read-only snapshot (a publish committing meanwhile
    is not seen)."""
    with db.connection(read=True) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                row = conn.execute(
                    "SELECT v.version, v.manifest::text, v.templates::text, v.bm25 FROM kb_current c"
                    " JOIN kb_versions v USING (kb, version) WHERE c.kb = %s",
                    (kb,),
                ).fetchone()
                if row is None:
                    raise DatabaseError(
                        f"the database holds no knowledge base {kb!r}. Fix: publish it with "
                        f"`kbsuggest build ARTICLES_DIR --database URL --kb {kb}`"
                    )
                version, manifest_json, templates_json, bm25 = row
                data = _read_data(conn, (kb, version), manifest_json, templates_json, bm25)
        finally:
            conn.isolation_level = None
    return Version(kb=kb, number=int(version), data=data)


def model_files(db: Database, manifest: Manifest, cache_dir: Path) -> Path:
    """Write the ONNX exports `manifest` names that `cache_dir` lacks (content-addressed names, written to a
    temp file and renamed, so processes sharing the folder never see half a file); return `cache_dir`."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    missing = [f for f in _model_files(manifest) if not (cache_dir / f.name).is_file()]
    if missing:
        with db.connection(read=True) as conn:
            rows = conn.execute(
                "SELECT sha256, content FROM kb_files WHERE sha256 = ANY(%s)", ([f.sha256 for f in missing],)
            ).fetchall()
        content = dict(rows)
        for record in missing:
            if record.sha256 not in content:
                raise DatabaseError(
                    f"the database lacks the model file {record.name}. Fix: publish the knowledge base again"
                )
            handle, temp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-")
            with os.fdopen(handle, "wb") as f:
                f.write(content[record.sha256])
            os.replace(temp, cache_dir / record.name)
    return cache_dir


def _model_files(manifest: Manifest) -> list[FileRecord]:
    """The ONNX files a query encoder reads (the int8 document model is for builds only)."""
    return [f for r in manifest.encoders.values() if r.onnx for f in (r.onnx.model, r.onnx.tokenizer)]


def _store_files(conn: psycopg.Connection, index_dir: Path, files: list[FileRecord]) -> None:
    if not files:
        return
    rows = conn.execute("SELECT sha256 FROM kb_files WHERE sha256 = ANY(%s)", ([f.sha256 for f in files],))
    have = {r[0] for r in rows}
    for record in files:
        if record.sha256 not in have:
            path = index_dir / record.name
            if sha256_file(path) != record.sha256:
                raise DatabaseError(f"{path} does not match its checksum. Fix: build again, then publish")
            conn.execute(
                "INSERT INTO kb_files (sha256, content) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (record.sha256, path.read_bytes()),
            )


def _copy(conn: psycopg.Connection, table: str, types: list[str], rows: Iterable[tuple[Any, ...]]) -> None:
    with conn.cursor(binary=True) as cursor, cursor.copy(f"COPY {table} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def _vector_bytes(vector: np.ndarray) -> bytes:
    return _VECTOR_HEADER.pack(len(vector), 0) + np.asarray(vector, dtype=">f4").tobytes()


def _read_data(
    conn: psycopg.Connection, key: tuple[str, int], manifest_json: Any, templates_json: Any, bm25: Mapping[str, Any]
) -> IndexData:
    manifest = Manifest.model_validate_json(manifest_json)
    where = "WHERE kb = %s AND version = %s"
    with conn.cursor(binary=True) as cursor:
        pairs = cursor.execute(
            f"SELECT section::text, lexical_tokens FROM kb_sections {where} ORDER BY row_number",
            key,
        ).fetchall()
        sections = tuple(Section.model_validate_json(section) for section, _ in pairs)
        documents = [list(tokens) for _, tokens in pairs]
        stores: dict[str, dict[str, VectorStore]] = {}
        grouped = cursor.execute(
            f"SELECT encoder, view, embedding FROM kb_vectors {where} ORDER BY encoder, view, row_number",
            key,
        )
        for (name, view), vectors in _groups(grouped, _vector):
            stores.setdefault(name, {})[view] = VectorStore.from_vectors(np.vstack(vectors))
        tokens: dict[str, dict[str, TokenStore]] = {}
        grouped = cursor.execute(
            f"SELECT encoder, view, tokens FROM kb_tokens {where} ORDER BY encoder, view, row_number",
            key,
        )
        for (name, view), blobs in _groups(grouped, bytes):
            dim = manifest.encoders[name].dim
            matrices = [np.frombuffer(b, dtype=np.int8).reshape(-1, dim) for b in blobs]
            ends = np.cumsum([len(m) for m in matrices])
            spans = np.stack([ends - [len(m) for m in matrices], ends], axis=1).astype(np.int64)
            tokens.setdefault(name, {})[view] = TokenStore([np.concatenate(matrices)], spans)
        postings = cursor.execute(
            f"SELECT term, row_numbers, weights FROM kb_lexical {where} ORDER BY term_id",
            key,
        ).fetchall()
    terms = [t for t, _, _ in postings]
    vocab = {t: i for i, t in enumerate(terms)}
    lengths = [len(d) for d in documents]
    lexical = BM25.from_state(
        {
            **bm25,
            "terms": terms,
            "indptr": np.cumsum([0, *(len(r) for _, r, _ in postings)]),
            "doc_ids": np.array([d for _, r, _ in postings for d in r], dtype=np.int32),
            "weights": np.array([w for _, _, ws in postings for w in ws], dtype=np.float32),
            "doc_terms": np.array([vocab[t] for d in documents for t in d], dtype=np.int32),
            "doc_offsets": np.cumsum([0, *lengths]),
        }
    )
    templates = _TEMPLATES.validate_json(templates_json)
    # In the manifest's order of views, as a folder yields them: fusion adds the views' scores in this order.
    ordered_stores = {name: {v: stores[name][v] for v in record.views} for name, record in manifest.encoders.items()}
    ordered_tokens = {
        name: {v: tokens[name][v] for v in record.tokens.spans}
        for name, record in manifest.encoders.items()
        if record.tokens
    }
    return IndexData(
        manifest=manifest,
        sections=sections,
        stores=ordered_stores,
        tokens=ordered_tokens,
        templates=templates,
        lexical=lexical,
    )


def _vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=">f4", offset=_VECTOR_HEADER.size).astype(np.float32)


def _groups(cursor: psycopg.Cursor[Any], convert: Any) -> Iterable[tuple[tuple[str, str], list[Any]]]:
    """Rows (encoder, view, value) grouped by (encoder, view), in order, each value converted."""
    current: tuple[str, str] | None = None
    values: list[Any] = []
    for name, view, value in cursor:
        if (name, view) != current:
            if current is not None:
                yield current, values
            current, values = (name, view), []
        values.append(convert(value))
    if current is not None:
        yield current, values


def _check_name(kb: str) -> None:
    if not kb or not kb.isprintable() or len(kb) > 200:
        raise InputError(f"{kb!r} cannot name a knowledge base. Fix: use a short printable name, e.g. 'shop-en'")
