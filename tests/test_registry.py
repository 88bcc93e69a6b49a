"""Many knowledge bases in one process: lazy loading, shared encoders, the memory budget, unknown names; from index
folders and from a PostgreSQL database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.config import Settings
from kbsuggest.database import Database
from kbsuggest.errors import InputError, UnknownKnowledgeBaseError
from kbsuggest.index.bm25 import BM25
from kbsuggest.kb import TEXT_OVERHEAD
from kbsuggest.registry import Registry
from kbsuggest.replica import following
from kbsuggest.surfaces.http import create_app
from tests.conftest import HASHING, MARKERS, write_versioned_kb
from tests.surfaces.test_http import cli_server

QUESTION = "how long does the refunds request take?"


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four knowledge bases in one folder, each index's sections carrying its own marker."""
    root = tmp_path_factory.mktemp("fleet")
    for marker in MARKERS[:4]:
        articles = write_versioned_kb(root.parent / f"articles-{root.name}-{marker}", marker, articles=6)
        KnowledgeBase.build(articles, root / marker, settings=HASHING)
    return root


def markers(registry: Registry, name: str) -> set[str]:
    answer = registry.get(name).search(QUESTION, k=1)[0]
    return {m for m in MARKERS if m in answer.text}


def test_knowledge_bases_load_on_first_use_and_answer_from_their_own_index(indexes: Path) -> None:
    registry = Registry.from_folder(indexes, settings=HASHING)
    assert registry.names == MARKERS[:4] and registry.loaded() == []
    assert markers(registry, "bravo") == {"bravo"}
    assert registry.loaded() == ["bravo"]
    assert markers(registry, "alpha") == {"alpha"}
    assert registry.loaded() == ["bravo", "alpha"]


def test_loaded_knowledge_bases_share_the_encoders(indexes: Path) -> None:
    registry = Registry.from_folder(indexes, settings=HASHING)
    alpha, bravo = registry.get("alpha"), registry.get("bravo")
    assert alpha is not bravo
    for name in ("dense", "multilingual"):
        assert alpha.encoders[name] is bravo.encoders[name]
    assert Settings(model="hashing").encoders()["dense"] is alpha.encoders["dense"]  # one per model setting


def test_least_recently_used_are_unloaded_past_the_budget_and_answer_the_same_when_loaded_again(
    indexes: Path,
) -> None:
    one = Registry.from_folder(indexes, settings=HASHING).get("alpha").memory_bytes()
    assert one > 0
    registry = Registry.from_folder(indexes, settings=HASHING, budget_bytes=2 * one + one // 2)  # room for two
    before = {name: registry.get(name).search(QUESTION, k=3) for name in ("alpha", "bravo")}
    registry.get("alpha")  # alpha is now the most recently used
    registry.get("charlie")
    assert registry.loaded() == ["alpha", "charlie"]  # bravo, least recently used, unloaded
    assert registry.memory_bytes() <= registry.budget_bytes
    assert registry.get("bravo").search(QUESTION, k=3) == before["bravo"]
    assert registry.loaded() == ["charlie", "bravo"]
    assert registry.get("alpha").search(QUESTION, k=3) == before["alpha"]


def test_the_most_recent_stays_loaded_under_a_budget_smaller_than_it(indexes: Path) -> None:
    registry = Registry.from_folder(indexes, settings=HASHING, budget_bytes=1)
    kb = registry.get("alpha")
    assert registry.get("alpha") is kb and registry.loaded() == ["alpha"]
    registry.get("bravo")
    assert registry.loaded() == ["bravo"]


def test_concurrent_first_requests_load_a_knowledge_base_once(indexes: Path) -> None:
    registry = Registry.from_folder(indexes, settings=HASHING)
    start = threading.Barrier(8)
    got = []

    def ask() -> None:
        start.wait()
        got.append(registry.get("delta"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(got) == 8 and all(kb is got[0] for kb in got)


def test_an_unknown_name_is_refused_naming_those_served(indexes: Path) -> None:
    registry = Registry.from_folder(indexes, settings=HASHING)
    with pytest.raises(
        UnknownKnowledgeBaseError, match=r"no knowledge base named 'zulu'\. Fix: use one of alpha, bravo"
    ):
        registry.get("zulu")
    many = Registry({f"kb{i:02}": indexes / "alpha" for i in range(25)}, settings=HASHING)
    with pytest.raises(UnknownKnowledgeBaseError, match=r"kb19 and 5 more$"):
        many.get("zulu")


def test_reload_serves_the_new_index(indexes: Path, tmp_path: Path) -> None:
    articles = write_versioned_kb(tmp_path / "articles", "echo", articles=6)
    KnowledgeBase.build(articles, tmp_path / "ix", settings=HASHING)
    registry = Registry({"shop": tmp_path / "ix"}, settings=HASHING)
    assert markers(registry, "shop") == {"echo"}
    KnowledgeBase.build(
        write_versioned_kb(tmp_path / "articles", "foxtrot", articles=6), tmp_path / "ix", settings=HASHING
    )
    assert markers(registry, "shop") == {"echo"}  # loaded: served until reloaded
    registry.reload("shop")
    assert markers(registry, "shop") == {"foxtrot"}


@pytest.mark.parametrize("name", ["", "../etc", "a/b", "-x", "x" * 65])
def test_names_that_cannot_be_in_a_url_are_refused(indexes: Path, name: str) -> None:
    with pytest.raises(InputError, match=r"cannot be used\. Fix: use 1-64 letters"):
        Registry({name: indexes / "alpha"}, settings=HASHING)


def test_a_folder_without_indexes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no index folder \(with manifest.json\) in"):
        Registry.from_folder(tmp_path, settings=HASHING)


def test_the_memory_estimate_counts_each_array_once(indexes: Path) -> None:
    """The budget's measure: vectors, the token pool (shared by the views: counted once), BM25 and text."""
    kb = KnowledgeBase.load(indexes / "alpha", settings=HASHING)
    manifest = kb.manifest
    vectors = sum(len(kb.sections) * record.dim * 4 * len(record.views) for record in manifest.encoders.values())
    token_files = [
        f for r in manifest.encoders.values() if r.tokens for f in (*r.tokens.segments, *r.tokens.spans.values())
    ]
    assert token_files
    tokens = sum(np.load(indexes / "alpha" / f.name).nbytes for f in token_files)
    lexical = BM25.load(indexes / "alpha" / manifest.lexical_file.name).nbytes
    text = sum(len(s.text) for s in kb.sections)
    assert kb.memory_bytes() == vectors + tokens + lexical + TEXT_OVERHEAD * text


# Knowledge bases published in PostgreSQL (the `database_url` fixture: a real server with pgvector)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.close()


def publish(db: Database, name: str, marker: str, root: Path) -> None:
    KnowledgeBase.publish(write_versioned_kb(root / f"{name}-{marker}", marker, articles=6), db, name, settings=HASHING)


def test_a_database_registry_serves_what_is_published_even_after_it_started(db: Database, tmp_path: Path) -> None:
    registry = Registry.from_database(db, settings=HASHING)
    only = Registry.from_database(db, ["shop"], settings=HASHING)
    try:
        with pytest.raises(UnknownKnowledgeBaseError, match=r"named 'shop'\. Fix: publish it \(none is served yet\)$"):
            registry.get("shop")
        publish(db, "shop", "alpha", tmp_path)
        assert registry.names == ("shop",) and registry.loaded() == []
        assert markers(registry, "shop") == {"alpha"}
        with pytest.raises(UnknownKnowledgeBaseError, match=r"no knowledge base named 'later'\. Fix: use one of shop$"):
            registry.get("later")
        publish(db, "later", "bravo", tmp_path)
        assert registry.names == ("later", "shop")
        assert markers(registry, "later") == {"bravo"}  # no restart, no reload
        assert registry.loaded() == ["shop", "later"]
        with pytest.raises(UnknownKnowledgeBaseError, match=r"Fix: use one of shop$"):
            only.get("later")  # published, but not among those served
        assert markers(only, "shop") == {"alpha"}
    finally:
        registry.close()
        only.close()


def test_a_database_knowledge_base_unloaded_past_the_budget_is_no_longer_followed(db: Database, tmp_path: Path) -> None:
    for name, marker in (("shop", "alpha"), ("other", "golf")):
        publish(db, name, marker, tmp_path)
    registry = Registry.from_database(db, settings=HASHING, budget_bytes=1)  # room for one
    shop = registry.get("shop")
    follower = following(db)
    assert follower is not None and {r.name for r in follower.replicas} == {"shop"}
    registry.get("other")
    assert registry.loaded() == ["other"] and {r.name for r in follower.replicas} == {"other"}
    assert markers(registry, "shop") == {"alpha"} and registry.get("shop") is not shop  # loaded again
    registry.close()
    follower.thread.join(30)  # it ends once it follows nothing
    assert not follower.thread.is_alive() and following(db) is None


def test_the_budget_measures_the_version_a_database_knowledge_base_switched_to(db: Database, tmp_path: Path) -> None:
    for name, marker in (("shop", "alpha"), ("other", "golf"), ("third", "echo")):
        publish(db, name, marker, tmp_path)
    registry = Registry.from_database(db, settings=HASHING)
    try:
        small = registry.get("shop")
        registry.budget_bytes = 3 * small.memory_bytes()  # room for the three small ones
        registry.get("other")
        big = tmp_path / "big"
        KnowledgeBase.publish(write_versioned_kb(big, "bravo", articles=24), db, "shop", settings=HASHING)
        follower = following(db)
        assert follower is not None
        shop = next(r for r in follower.replicas if r.name == "shop").wait_for(lambda kb: kb.version == 2, 60)
        assert registry.memory_bytes() == shop.memory_bytes() + registry.get("other").memory_bytes()
        registry.get("third")
        assert registry.loaded() == ["other", "third"]  # the switched shop, now large, was unloaded
    finally:
        registry.close()


def test_kbsuggest_serve_database_serves_every_knowledge_base_with_its_own_key(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    publish(db, "shop", "alpha", tmp_path)
    keys = tmp_path / "keys.json"
    keys.write_text('{"shop": "key-of-shop"}', encoding="utf-8")
    service = {"X-API-Key": "service-key"}

    def search(url: str, name: str, headers: dict[str, str]) -> httpx.Response:
        body = {"message": QUESTION, "k": 1}
        return httpx.post(f"{url}/v1/kbs/{name}/search", json=body, headers=headers, timeout=30)

    with cli_server("--database", database_url, "--kb-keys", keys, "--api-key", "service-key") as url:
        shop = search(url, "shop", {"X-API-Key": "key-of-shop"})
        assert shop.status_code == 200 and "version alpha" in shop.json()["answers"][0]["text"]
        assert search(url, "shop", {}).status_code == 401
        assert search(url, "shop", service).status_code == 200
        publish(db, "later", "bravo", tmp_path)
        later = search(url, "later", service)
        assert later.status_code == 200 and "version bravo" in later.json()["answers"][0]["text"]
        assert search(url, "later", {"X-API-Key": "key-of-shop"}).status_code == 401  # shop's key opens shop only
        unknown = search(url, "zulu", service)
        assert unknown.status_code == 404 and "use one of later, shop" in unknown.json()["error"]["message"]
        health = httpx.get(f"{url}/healthz", timeout=30).json()
        assert health["knowledge_bases"] == 2 and health["loaded"] == 2


def test_keys_for_knowledge_bases_not_published_are_refused(db: Database, tmp_path: Path) -> None:
    publish(db, "shop", "alpha", tmp_path)
    registry = Registry.from_database(db, settings=HASHING)
    with pytest.raises(InputError, match=r"keys are given for 'shpo', which are not served"):
        create_app(registry=registry, kb_keys={"shpo": "k"})
