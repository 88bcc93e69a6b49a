"""A knowledge base published to a real PostgreSQL + pgvector and read back answers exactly as the folder it was
built in; its feedback lives in the database, keyed by knowledge base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.database import Database
from kbsuggest.encoders import HashingEncoder
from kbsuggest.errors import IndexMismatchError, InputError
from tests.conftest import HASHING

ROOT = Path(__file__).resolve().parents[1]
DEMO_MESSAGES = [
    json.loads(line)["query"]
    for line in (ROOT / "tests/data/demo_queries.jsonl").read_text(encoding="utf-8").splitlines()
]


@pytest.fixture
def db(database_url: str) -> Database:
    return Database(database_url)


@pytest.fixture
def published(db: Database, tmp_path: Path) -> tuple[KnowledgeBase, KnowledgeBase]:
    """The demo store built in a folder and published as knowledge base 'demo': (from the folder, from the database)."""
    KnowledgeBase.publish(ROOT / "articles", db, "demo", index_dir=tmp_path / "index", settings=HASHING)
    from_folder = KnowledgeBase.load(tmp_path / "index", settings=HASHING, feedback=False)
    return from_folder, KnowledgeBase.from_database(db, "demo", settings=HASHING, feedback=False)


def test_answers_from_the_database_equal_those_from_the_folder(published: tuple[KnowledgeBase, KnowledgeBase]) -> None:
    from_folder, from_database = published
    assert from_database.version == 1
    assert from_database.search_many(DEMO_MESSAGES, k=10) == from_folder.search_many(DEMO_MESSAGES, k=10)
    drafts = [s.model_dump(exclude={"id"}) for s in from_folder.suggest_many(DEMO_MESSAGES[:40])]
    assert [s.model_dump(exclude={"id"}) for s in from_database.suggest_many(DEMO_MESSAGES[:40])] == drafts


def test_a_version_built_with_other_models_is_refused_saying_how_to_publish_it(
    published: tuple[KnowledgeBase, KnowledgeBase], db: Database
) -> None:
    with pytest.raises(IndexMismatchError, match=r"knowledge base 'demo' \(version 1\).*--database URL --kb demo"):
        KnowledgeBase.from_database(db, "demo", settings=HASHING, encoders={"dense": HashingEncoder(32)})


def test_feedback_is_kept_per_knowledge_base(db: Database, tmp_path: Path) -> None:
    KnowledgeBase.publish(ROOT / "articles", db, "a", settings=HASHING)
    KnowledgeBase.publish(ROOT / "articles", db, "b", settings=HASHING)
    a = KnowledgeBase.from_database(db, "a", settings=HASHING)
    b = KnowledgeBase.from_database(db, "b", settings=HASHING)
    suggestion = a.suggest("my order 12345 has not arrived, call me at +1 415 555 0100")
    a.record_feedback(suggestion.id, "accepted")
    with pytest.raises(InputError, match=r"no suggestion .* in knowledge base 'b'"):
        b.record_feedback(suggestion.id, "accepted")
    assert b.feedback is not None and a.feedback is not None
    assert b.feedback.snapshot().feedback == ()
    [logged] = a.feedback.snapshot().suggestions
    assert "415" not in logged.message  # redacted before it was stored
    assert [f.outcome for f in a.feedback.snapshot().feedback] == ["accepted"]
