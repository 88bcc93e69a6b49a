"""Many knowledge bases in one process: lazy loading, shared encoders, the memory budget, unknown names."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.config import Settings
from kbsuggest.errors import InputError, UnknownKnowledgeBaseError
from kbsuggest.index.bm25 import BM25
from kbsuggest.kb import TEXT_OVERHEAD
from kbsuggest.registry import Registry
from tests.conftest import HASHING, MARKERS, write_versioned_kb

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
