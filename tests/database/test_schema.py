"""The schema's migrations on a real PostgreSQL server with pgvector."""

from __future__ import annotations

import threading

import psycopg
import pytest

from kbsuggest.database import MIGRATIONS, Database
from kbsuggest.database.schema import migrate
from kbsuggest.errors import DatabaseError
from tests.pgserver import _free_port


def test_opening_applies_every_migration_once(database_url: str) -> None:
    Database(database_url).close()
    with psycopg.connect(database_url) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM kbsuggest_migrations")] == [n for n, _ in MIGRATIONS]
        assert migrate(conn) == []  # a second open changes nothing
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"kb_versions", "kb_current", "kb_vectors", "suggestions", "feedback"} <= tables
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone() is not None


def test_connections_opening_a_new_database_at_once_migrate_it_once(database_url: str) -> None:
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            Database(database_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM kbsuggest_migrations").fetchone() == (len(MIGRATIONS),)


def test_a_database_that_cannot_be_reached_is_a_database_error_naming_it() -> None:
    port = _free_port()
    with pytest.raises(DatabaseError, match=rf"127\.0\.0\.1:{port}/kb .*Fix: check that PostgreSQL runs") as caught:
        Database(f"postgresql://nobody:secret@127.0.0.1:{port}/kb?connect_timeout=2")
    assert "secret" not in str(caught.value)
