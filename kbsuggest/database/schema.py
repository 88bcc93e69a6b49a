"""The PostgreSQL schema as a named, ordered list of migrations, and `Database`: a connection pool that applies
them once when opened.

Every table is keyed by knowledge base (`kb`). A knowledge base's index is a series of versions: the rows of
`kb_sections`, `kb_vectors` (pgvector), `kb_tokens` (MaxSim token vectors) and `kb_lexical` (BM25 postings with
their precomputed weights) of one `(kb, version)`, described by `kb_versions`; `kb_current` names the version
served. `kb_files` holds the ONNX exports the fast query path needs, by sha256. `suggestions` and `feedback`
are the feedback store; `example_vectors` caches phrasing vectors by encoder and text hash (a cache, shared by
every knowledge base: its key is the hash of a text its reader already has). Documents are JSON, not JSONB: their
key order is kept, and a version read back must equal the build (fusion adds the views in the manifest's order)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

from kbsuggest.errors import DatabaseError

CHANNEL = "kbsuggest"
"""NOTIFY channel: the payload is the name of a knowledge base whose version or feedback changed."""
POOL_MAX = 8
"""Connections a process keeps at most: each request holds one for one short statement."""
MIGRATION_LOCK = 0x6B627367
"""`pg_advisory_xact_lock` key: one process migrates at a time."""

MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "m001_initial",
        (
            "CREATE EXTENSION IF NOT EXISTS vector",
            """CREATE TABLE kb_versions (
                kb TEXT NOT NULL,
                version BIGINT NOT NULL,
                published_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                manifest JSON NOT NULL,
                templates JSON NOT NULL,
                bm25 JSON NOT NULL,
                PRIMARY KEY (kb, version)
            )""",
            """CREATE TABLE kb_current (
                kb TEXT PRIMARY KEY,
                version BIGINT NOT NULL,
                FOREIGN KEY (kb, version) REFERENCES kb_versions (kb, version)
            )""",
            """CREATE TABLE kb_sections (
                kb TEXT NOT NULL,
                version BIGINT NOT NULL,
                row_number INTEGER NOT NULL,
                section JSON NOT NULL,
                lexical_tokens TEXT[] NOT NULL,
                PRIMARY KEY (kb, version, row_number),
                FOREIGN KEY (kb, version) REFERENCES kb_versions (kb, version) ON DELETE CASCADE
            )""",
            """CREATE TABLE kb_vectors (
                kb TEXT NOT NULL,
                version BIGINT NOT NULL,
                encoder TEXT NOT NULL,
                view TEXT NOT NULL,
                row_number INTEGER NOT NULL,
                embedding vector NOT NULL,
                PRIMARY KEY (kb, version, encoder, view, row_number),
                FOREIGN KEY (kb, version) REFERENCES kb_versions (kb, version) ON DELETE CASCADE
            )""",
            """CREATE TABLE kb_tokens (
                kb TEXT NOT NULL,
                version BIGINT NOT NULL,
                encoder TEXT NOT NULL,
                view TEXT NOT NULL,
                row_number INTEGER NOT NULL,
                tokens BYTEA NOT NULL,
                PRIMARY KEY (kb, version, encoder, view, row_number),
                FOREIGN KEY (kb, version) REFERENCES kb_versions (kb, version) ON DELETE CASCADE
            )""",
            """CREATE TABLE kb_lexical (
                kb TEXT NOT NULL,
                version BIGINT NOT NULL,
                term_id INTEGER NOT NULL,
                term TEXT NOT NULL,
                row_numbers INTEGER[] NOT NULL,
                weights REAL[] NOT NULL,
                PRIMARY KEY (kb, version, term_id),
                FOREIGN KEY (kb, version) REFERENCES kb_versions (kb, version) ON DELETE CASCADE
            )""",
            "CREATE TABLE kb_files (sha256 TEXT PRIMARY KEY, content BYTEA NOT NULL)",
            """CREATE TABLE suggestions (
                kb TEXT NOT NULL,
                id TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                message TEXT NOT NULL,
                language TEXT NOT NULL,
                article_id TEXT,
                confidence DOUBLE PRECISION NOT NULL,
                escalate_reason TEXT,
                PRIMARY KEY (kb, id)
            )""",
            "CREATE INDEX suggestions_created ON suggestions (kb, created_at)",
            """CREATE TABLE feedback (
                id BIGSERIAL PRIMARY KEY,
                kb TEXT NOT NULL,
                suggestion_id TEXT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'edited', 'rejected')),
                article_id TEXT,
                final_text TEXT,
                agent TEXT,
                FOREIGN KEY (kb, suggestion_id) REFERENCES suggestions (kb, id)
            )""",
            "CREATE INDEX feedback_kb ON feedback (kb, id)",
            """CREATE TABLE example_vectors (
                encoder TEXT NOT NULL,
                text_hash TEXT NOT NULL,
                vector BYTEA NOT NULL,
                PRIMARY KEY (encoder, text_hash)
            )""",
        ),
    ),
)
"""Applied once per database, in order, each recorded in `kbsuggest_migrations` (like `feedback.store.MIGRATIONS`).
Append new ones; never edit or reorder applied ones. Every INSERT names its columns."""


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply the migrations the database lacks, in one transaction (other processes wait on an advisory lock);
    return their names. Names a newer kbsuggest recorded are left alone."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS kbsuggest_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
        )
        applied = {row[0] for row in conn.execute("SELECT name FROM kbsuggest_migrations")}
        done = []
        for name, statements in MIGRATIONS:
            if name not in applied:
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO kbsuggest_migrations (name, applied_at) VALUES (%s, now())", (name,))
                done.append(name)
    return done


class Database:
    """Pools of connections to the PostgreSQL primary at `url` (a libpq URL or key=value string), its schema
    migrated on open, and to `read_url` (a streaming-replication standby of it; default: the primary), which
    versions are read from. Thread-safe; one per process, shared by every knowledge base it serves."""

    def __init__(self, url: str, *, read_url: str | None = None, max_size: int = POOL_MAX) -> None:
        self.url, self.read_url = url, read_url or url
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                migrate(conn)
        except psycopg.Error as exc:
            raise _unusable(url, exc) from exc
        self.pool = _pool(url, max_size)
        self.read_pool = _pool(self.read_url, max_size) if read_url else self.pool

    @contextmanager
    def connection(self, *, read: bool = False) -> Iterator[psycopg.Connection]:
        """A pooled connection to the primary, or where `read`, to the read URL (autocommit: open a
        `transaction()` for more than one statement); psycopg's errors are raised as `DatabaseError`."""
        pool, url = (self.read_pool, self.read_url) if read else (self.pool, self.url)
        try:
            with pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise DatabaseError(f"the database {_shown(url)} failed ({_said(exc)})") from exc

    def listen(self) -> psycopg.Connection:
        """A connection of its own (not pooled) that LISTENs on `CHANNEL`; its owner closes it."""
        try:
            conn = psycopg.connect(self.url, autocommit=True)
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            raise DatabaseError(f"cannot listen on the database {_shown(self.url)} ({_said(exc)})") from exc
        return conn

    @property
    def address(self) -> str:
        """Host, port and database name of the primary, for messages (never the password)."""
        return _shown(self.url)

    def close(self) -> None:
        self.pool.close()
        self.read_pool.close()


def _pool(url: str, max_size: int) -> ConnectionPool:
    try:
        pool = ConnectionPool(url, min_size=1, max_size=max_size, open=True, kwargs={"autocommit": True})
        pool.wait(timeout=30)
    except (psycopg.Error, TimeoutError) as exc:
        raise _unusable(url, exc) from exc
    return pool


def _unusable(url: str, exc: Exception) -> DatabaseError:
    return DatabaseError(
        f"the database {_shown(url)} cannot be used ({_said(exc)}). Fix: check that PostgreSQL runs there, that "
        "the URL's user may connect (and, on the primary, create tables), and that pgvector is installed"
    )


def _said(exc: Exception) -> str:
    """The first line of psycopg's message."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _shown(url: str) -> str:
    """`url` without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "(unparsable URL)"
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"
