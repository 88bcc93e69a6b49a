"""Replicas of a knowledge base in a real PostgreSQL + pgvector switch to each published version by themselves
(LISTEN/NOTIFY), keep answering requests begun on the version before, and learn feedback any replica recorded;
a process follows all its knowledge bases of a database with one thread and one LISTEN connection."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.database import CHANNEL, Database
from kbsuggest.registry import Registry
from kbsuggest.replica import Replica, following
from tests.conftest import HASHING, MARKERS, run_cli, write_articles, write_versioned_kb
from tests.retrieval.test_examples import ARTICLES, PARAPHRASE, TAUGHT
from tests.surfaces.test_http import cli_server

WAIT = 60.0
"""Seconds a test waits for a replica to switch before failing (it switches within ~1 s)."""


@pytest.fixture
def db(database_url: str) -> Database:
    return Database(database_url)


@pytest.fixture
def replicas(db: Database) -> Iterator[list[Replica]]:
    """Replicas of knowledge base 'shop' (on one `Database`: the process's one follower keeps them all current)."""
    made: list[Replica] = []
    yield made
    for replica in made:
        replica.close()


def markers(kb: KnowledgeBase, message: str = "refunds timing") -> set[str]:
    """The versions (`MARKERS`) the answers' texts name: one for an answer from a complete version."""
    return {m for a in kb.search(message, k=5) for m in MARKERS if f"version {m}" in a.text}


def test_replicas_switch_to_each_published_version_and_requests_keep_theirs(
    db: Database, replicas: list[Replica], tmp_path: Path
) -> None:
    KnowledgeBase.publish(write_versioned_kb(tmp_path / "alpha", "alpha"), db, "shop", settings=HASHING)
    replicas += [Replica(db, "shop", settings=HASHING) for _ in range(2)]
    in_flight = replicas[0].kb  # what a request that began now holds
    assert markers(in_flight) == {"alpha"}
    for number, marker in enumerate(("bravo", "charlie", "delta"), start=2):
        KnowledgeBase.publish(write_versioned_kb(tmp_path / marker, marker), db, "shop", settings=HASHING)
        for replica in replicas:
            kb = replica.wait_for(lambda kb, n=number: kb.version == n, WAIT)
            assert markers(kb) == {marker}
    assert markers(in_flight) == {"alpha"}  # its version's rows are deleted by now; it answers from memory


def test_feedback_recorded_through_one_replica_teaches_the_other(
    db: Database, replicas: list[Replica], tmp_path: Path
) -> None:
    KnowledgeBase.publish(write_articles(tmp_path / "articles", ARTICLES), db, "shop", settings=HASHING)
    replicas += [Replica(db, "shop", settings=HASHING) for _ in range(2)]
    first, second = replicas
    before = second.kb
    assert before.search(PARAPHRASE, k=1)[0].article_id != "sizing"
    first.kb.record_feedback(first.kb.suggest(TAUGHT).id, "accepted", article_id="sizing")
    learned = second.wait_for(lambda kb: kb is not before, WAIT)
    assert learned.version == before.version  # the same version, relearned
    assert learned.search(PARAPHRASE, k=1)[0].article_id == "sizing"


def test_a_replica_of_another_knowledge_base_is_not_switched(
    db: Database, replicas: list[Replica], tmp_path: Path
) -> None:
    KnowledgeBase.publish(write_versioned_kb(tmp_path / "alpha", "alpha"), db, "shop", settings=HASHING)
    KnowledgeBase.publish(write_versioned_kb(tmp_path / "golf", "golf"), db, "other", settings=HASHING)
    replicas += [Replica(db, "shop", settings=HASHING), Replica(db, "other", settings=HASHING)]
    shop, other = replicas
    kept = other.kb
    KnowledgeBase.publish(write_versioned_kb(tmp_path / "bravo", "bravo"), db, "shop", settings=HASHING)
    shop.wait_for(lambda kb: kb.version == 2, WAIT)
    assert other.reload() is kept
    assert markers(other.kb) == {"golf"}


def test_kbsuggest_serve_database_switches_to_each_version_kbsuggest_build_publishes(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBSUGGEST_MODEL", "hashing")
    monkeypatch.setenv("KBSUGGEST_DATABASE_URL", database_url)  # as a deployment passes it: not in `ps`

    def publish(marker: str) -> int:
        built = run_cli("build", write_versioned_kb(tmp_path / marker, marker), "--kb", "shop", "--json")
        assert built.returncode == 0, built.stderr
        version: int = json.loads(built.stdout)["version"]
        return version

    def answered() -> set[str]:
        response = httpx.post(f"{url}/v1/search", json={"message": "refunds timing", "k": 5}, timeout=30)
        assert response.status_code == 200
        return {m for a in response.json()["answers"] for m in MARKERS if f"version {m}" in a["text"]}

    assert publish("alpha") == 1
    with cli_server("--kb", "shop", "--database", database_url) as url:
        assert answered() == {"alpha"}
        assert publish("bravo") == 2
        deadline = time.monotonic() + WAIT
        seen = answered()
        while seen != {"bravo"}:  # another process switches: ask until it has (within ~1 s)
            assert seen == {"alpha"} and time.monotonic() < deadline  # never a mix of versions
            seen = answered()


def test_two_processes_registries_follow_every_knowledge_base_with_one_thread_and_one_listen_each(
    database_url: str, tmp_path: Path
) -> None:
    """Two registries, each on a `Database` of its own, stand for two replica processes."""
    first_db, second_db = Database(database_url), Database(database_url)
    names = [f"kb{i}" for i in range(5)]
    for name in names:
        KnowledgeBase.publish(
            write_versioned_kb(tmp_path / name, "alpha", articles=4), first_db, name, settings=HASHING
        )
    KnowledgeBase.publish(write_articles(tmp_path / "taught", ARTICLES), first_db, "taught", settings=HASHING)
    registries = [Registry.from_database(db, settings=HASHING) for db in (first_db, second_db)]
    try:
        for registry in registries:
            for name in [*names, "taught"]:
                registry.get(name)
        followers = [following(db) for db in (first_db, second_db)]
        assert followers[0] is not None and followers[1] is not None and followers[0] is not followers[1]
        assert all({r.name for r in f.replicas} == {*names, "taught"} for f in followers if f)
        threads = [t for t in threading.enumerate() if t.name == f"kbsuggest-follower-{first_db.address}"]
        assert sorted(map(id, threads)) == sorted(id(f.thread) for f in followers if f)
        with first_db.connection() as conn:
            listening = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
                (f"LISTEN {CHANNEL}",),
            ).fetchone()
        assert listening == (2,)  # one LISTEN connection per process, however many knowledge bases

        def replica(registry_index: int, name: str) -> Replica:
            follower = followers[registry_index]
            assert follower is not None
            return next(r for r in follower.replicas if r.name == name)

        KnowledgeBase.publish(
            write_versioned_kb(tmp_path / "kb3-b", "bravo", articles=4), first_db, "kb3", settings=HASHING
        )
        for i in (0, 1):
            assert markers(replica(i, "kb3").wait_for(lambda kb: kb.version == 2, WAIT)) == {"bravo"}
            assert registries[i].get("kb3").version == 2
        assert all(registries[i].get("kb1").version == 1 for i in (0, 1))  # the others are not switched

        before = registries[1].get("taught")
        assert before.search(PARAPHRASE, k=1)[0].article_id != "sizing"
        teacher = registries[0].get("taught")
        teacher.record_feedback(teacher.suggest(TAUGHT).id, "accepted", article_id="sizing")
        learned = replica(1, "taught").wait_for(lambda kb: kb is not before, WAIT)
        assert learned.version == before.version and learned.search(PARAPHRASE, k=1)[0].article_id == "sizing"
        assert registries[1].get("taught") is learned
    finally:
        for registry in registries:
            registry.close()
        first_db.close()
        second_db.close()


def test_a_replica_that_cannot_refresh_keeps_serving_and_the_others_still_switch(
    db: Database, replicas: list[Replica], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    KnowledgeBase.publish(write_versioned_kb(tmp_path / "golf", "golf"), db, "a-gone", settings=HASHING)
    KnowledgeBase.publish(write_versioned_kb(tmp_path / "alpha", "alpha"), db, "shop", settings=HASHING)
    replicas += [Replica(db, "a-gone", settings=HASHING), Replica(db, "shop", settings=HASHING)]
    gone, shop = replicas
    kept = gone.kb
    with db.connection() as conn:  # an operator removes it: its replica's next refresh fails
        conn.execute("DELETE FROM kb_current WHERE kb = 'a-gone'")
    KnowledgeBase.publish(write_versioned_kb(tmp_path / "bravo", "bravo"), db, "shop", settings=HASHING)
    assert markers(shop.wait_for(lambda kb: kb.version == 2, WAIT)) == {"bravo"}  # refreshed after a-gone
    assert (
        "knowledge base 'a-gone': refresh failed" in caplog.text and "holds no knowledge base 'a-gone'" in caplog.text
    )
    assert gone.kb is kept and markers(kept) == {"golf"}
