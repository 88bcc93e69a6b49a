"""Versions of a knowledge base in a real PostgreSQL + pgvector: published in one transaction, read back into the
same `IndexData` a folder yields, so answers are identical."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import psycopg
import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.database import Database
from kbsuggest.encoders import HashingEncoder
from kbsuggest.errors import DatabaseError
from kbsuggest.index.postgres import KEPT_VERSIONS, current_version, publish, read_current
from tests.conftest import HASHING, write_versioned_kb

MESSAGES = (
    "how long does a refund take?",
    "what does express shipping cost",
    "退款多久到账",
    "my coupon does not work",
    "warranty claim steps",
    "can I pay with an invoice",
)


@pytest.fixture
def db(database_url: str) -> Database:
    return Database(database_url)


def built(tmp_path: Path, marker: str = "alpha") -> KnowledgeBase:
    articles = write_versioned_kb(tmp_path / f"articles-{marker}", marker)
    return KnowledgeBase.build(articles, tmp_path / f"index-{marker}", settings=HASHING, encoders=ENCODERS)


ENCODERS = {"dense": HashingEncoder(64), "multilingual": HashingEncoder(48)}


def test_a_published_version_reads_back_as_the_same_index(db: Database, tmp_path: Path) -> None:
    kb = built(tmp_path)
    data = kb._data
    assert publish(db, "shop", data, tmp_path / "index-alpha") == 1
    version = read_current(db, "shop")
    assert (version.kb, version.number) == ("shop", 1)
    loaded = version.data
    assert loaded.sections == data.sections
    assert loaded.manifest == data.manifest
    assert loaded.templates == data.templates
    assert set(loaded.tokens) == {"dense", "multilingual"}
    for name, views in data.stores.items():
        for view, store in views.items():
            assert np.array_equal(loaded.stores[name][view].vectors(), store.vectors())  # float32, bit for bit
    for name, views in data.tokens.items():
        for view, tokens in views.items():
            assert all(np.array_equal(loaded.tokens[name][view].rows(i), tokens.rows(i)) for i in range(len(tokens)))
    for i in range(len(data.sections)):
        assert loaded.lexical.document(i) == data.lexical.document(i)
    for message in MESSAGES:
        tokens = message.split()
        assert np.array_equal(loaded.lexical.scores(tokens), data.lexical.scores(tokens))


def test_a_publish_that_fails_midway_leaves_the_current_version_whole(db: Database, tmp_path: Path) -> None:
    kb = built(tmp_path)
    publish(db, "shop", kb._data, tmp_path / "index-alpha")
    # pgvector refuses NaN: the publish fails after the version, its sections and some vectors were written.
    broken = {name: dict(views) for name, views in kb._data.stores.items()}
    vectors = broken["multilingual"]["body"].vectors()
    vectors[-1, 0] = np.nan
    broken["multilingual"]["body"] = type(broken["multilingual"]["body"]).from_vectors(vectors)
    with pytest.raises(DatabaseError, match="NaN"):
        publish(db, "shop", replace(kb._data, stores=broken), tmp_path / "index-alpha")
    assert current_version(db, "shop") == 1
    with psycopg.connect(db.url) as conn:
        assert conn.execute("SELECT count(*) FROM kb_sections WHERE version = 2").fetchone() == (0,)
    assert read_current(db, "shop").data.sections == kb._data.sections


def test_each_publish_is_a_new_current_version_and_old_ones_are_deleted(db: Database, tmp_path: Path) -> None:
    for i, marker in enumerate(("alpha", "bravo", "charlie"), start=1):
        assert publish(db, "shop", built(tmp_path, marker)._data, tmp_path / f"index-{marker}") == i
        assert current_version(db, "shop") == i
        assert "version " + marker in read_current(db, "shop").data.sections[0].text
    publish(db, "other", built(tmp_path, "delta")._data, tmp_path / "index-delta")
    with psycopg.connect(db.url) as conn:
        kept = conn.execute("SELECT kb, version FROM kb_versions ORDER BY kb, version").fetchall()
    assert kept == [("other", 1), *(("shop", v) for v in range(4 - KEPT_VERSIONS, 4))]
    assert current_version(db, "shop") == 3


def test_a_knowledge_base_never_published_is_a_database_error_saying_how_to_publish(db: Database) -> None:
    with pytest.raises(
        DatabaseError, match=r"no knowledge base 'nope'.*kbsuggest build ARTICLES_DIR --database URL --kb nope"
    ):
        read_current(db, "nope")
    assert current_version(db, "nope") is None


def test_versions_are_read_from_the_read_url_and_written_to_the_primary(
    database_url: str, postgres_server_url: str, tmp_path: Path
) -> None:
    """A read URL standing for a standby that has not replayed the publish yet: the version is not there."""
    standby = database_url + "_standby"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {standby.rsplit('/', 1)[1]}")
    Database(standby).close()  # the schema, as replication would have brought it
    db = Database(database_url, read_url=standby)
    publish(db, "shop", built(tmp_path)._data, tmp_path / "index-alpha")
    assert current_version(Database(database_url), "shop") == 1
    assert current_version(db, "shop") is None
    with pytest.raises(DatabaseError, match="no knowledge base 'shop'"):
        read_current(db, "shop")
    db.close()
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {standby.rsplit('/', 1)[1]} WITH (FORCE)")
