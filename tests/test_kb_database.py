"""A knowledge base published to a real PostgreSQL + pgvector and read back answers exactly as the folder it was
built in; its feedback lives in the database, keyed by knowledge base."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.database import Database
from kbsuggest.encoders import HashingEncoder
from kbsuggest.errors import IndexMismatchError, InputError
from kbsuggest.feedback import teaching
from kbsuggest.retrieval import examples
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


def test_relearning_reads_only_new_verdicts_and_equals_learning_them_all(db: Database, tmp_path: Path) -> None:
    KnowledgeBase.publish(ROOT / "articles", db, "demo", settings=HASHING)
    replica = KnowledgeBase.from_database(db, "demo", settings=HASHING)
    writer = KnowledgeBase.from_database(db, "demo", settings=HASHING)
    verdicts = [
        ("the coat feels tight across the shoulders", "accepted", "ridge-trail-jacket"),
        ("where is my parcel? it has been ten days", "edited", "lost-delayed-parcels"),
        ("I want my money back", "rejected", "refunds"),  # teaches nothing
        ("the coat feels tight across the shoulders", "accepted", "ridge-trail-jacket"),  # the same phrasing again
        ("我的退款怎么还没到账？", "edited", "refunds"),
        ("the coat feels tight across the shoulders", "edited", "returns-policy"),  # same words, other article
    ]
    assert writer.feedback is not None
    for message, outcome, article in verdicts:
        writer.record_feedback(writer.suggest(message).id, outcome, final_text="Hi!", article_id=article)
        before = replica._learned
        replica = replica.relearned()
        assert replica._learned is not None and before is not None
        assert replica._learned.mark == writer.feedback.last_feedback() > before.mark  # read up to the last one
        learned = replica._learned.vectors
        taught = [examples.Example(a, m) for a, m in teaching.taught_phrasings(writer.feedback)]
        front = examples.front_matter_examples(a.meta for a in replica.articles)
        full = examples.embed_examples(front + taught, replica.encoders, teaching.VectorCache(writer.feedback))
        assert list(learned.vectors) == list(full.vectors) and learned.article_ids == full.article_ids
        for name, vectors in full.vectors.items():
            assert np.array_equal(learned.vectors[name], vectors)
        fresh = KnowledgeBase.from_database(db, "demo", settings=HASHING, feedback=True)
        for message in DEMO_MESSAGES[:20]:
            assert replica.search(message) == fresh.search(message)
    # it learned the 4 distinct phrasings: the rejected verdict and the repeated one teach nothing new
    assert sum(len(owners) for owners in learned.article_ids.values()) == len(set(front)) + 4
