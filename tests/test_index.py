from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.encoders import HashingEncoder
from kbsuggest.errors import IndexCorruptError, IndexMismatchError
from kbsuggest.index import VectorStore, storage
from kbsuggest.index.manifest import FORMAT_VERSION
from kbsuggest.index.tokens import TokenStore, quantize
from tests.conftest import REFUND


def test_exact_search_equals_numpy_brute_force() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(500, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:5] + rng.normal(scale=0.3, size=(5, 32)).astype(np.float32)
    store = VectorStore.from_vectors(vectors)
    assert store.exact
    scores, rows = store.search(queries, 10)
    brute = queries @ vectors.T
    expected_rows = np.argsort(-brute, axis=1)[:, :10]
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_allclose(scores, np.take_along_axis(brute, expected_rows, axis=1), rtol=1e-5)


def test_build_then_load_round_trips(articles_dir: Path, tmp_path: Path, encoders: dict) -> None:
    built = KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders=encoders)
    loaded = KnowledgeBase.load(tmp_path / "ix", encoders=encoders)
    assert loaded.sections == built.sections
    assert [a.meta.id for a in loaded.articles] == ["refunds", "shipping", "returns-zh"]
    manifest = json.loads((tmp_path / "ix" / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["encoders"]["dense"]["model_id"] == "kbsuggest/hashing-64"
    assert len(manifest["sections"]) == len(built.sections)


def test_incremental_rebuild_encodes_only_changed_sections(articles_dir: Path, tmp_path: Path) -> None:
    encoder = HashingEncoder(64)
    first = KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders={"dense": encoder})
    assert first.last_build is not None and first.last_build.encoded == 5
    assert encoder.texts_encoded == 10  # two views per section: heading path, and path + text

    edited = REFUND.replace("within 2 business days", "within 3 business days")
    (articles_dir / "refunds.md").write_text(edited, encoding="utf-8")
    (articles_dir / "shipping.md").unlink()
    encoder.texts_encoded = 0
    kb = KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders={"dense": encoder})
    summary = kb.last_build
    assert summary is not None
    assert encoder.texts_encoded == 1
    assert (summary.added, summary.changed, summary.removed, summary.reused, summary.encoded) == (0, 1, 1, 3, 1)
    assert "shipping" not in {s.article_id for s in kb.sections}

    encoder.texts_encoded = 0
    again = KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders={"dense": encoder}).last_build
    assert encoder.texts_encoded == 0 and again is not None and again.reused == 4


def test_reused_vectors_equal_fresh_ones(articles_dir: Path, tmp_path: Path) -> None:
    KnowledgeBase.build(articles_dir, tmp_path / "a", encoders={"dense": HashingEncoder(64)})
    (articles_dir / "refunds.md").write_text(REFUND.replace("2 business days", "3 business days"), encoding="utf-8")
    incremental = KnowledgeBase.build(articles_dir, tmp_path / "a", encoders={"dense": HashingEncoder(64)})
    fresh = KnowledgeBase.build(articles_dir, tmp_path / "b", encoders={"dense": HashingEncoder(64)})
    assert incremental.sections == fresh.sections
    for view in ("path", "body"):
        np.testing.assert_array_equal(
            incremental._data.stores["dense"][view].vectors(), fresh._data.stores["dense"][view].vectors()
        )


def test_failed_save_leaves_previous_index_loadable(
    articles_dir: Path, tmp_path: Path, encoders: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "ix"
    before = KnowledgeBase.build(articles_dir, index, encoders=encoders)
    (articles_dir / "refunds.md").write_text(REFUND.replace("Refunds", "Money back"), encoding="utf-8")

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(storage.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        KnowledgeBase.build(articles_dir, index, encoders=encoders)
    monkeypatch.undo()
    after = KnowledgeBase.load(index, encoders=encoders)
    assert after.sections == before.sections
    assert not list(index.glob(".tmp-*"))


def test_index_built_with_another_model_is_refused(articles_dir: Path, tmp_path: Path) -> None:
    KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders={"dense": HashingEncoder(64)})
    with pytest.raises(IndexMismatchError, match=r"kbsuggest build ARTICLES_DIR --index"):
        KnowledgeBase.load(tmp_path / "ix", encoders={"dense": HashingEncoder(32)})
    with pytest.raises(IndexMismatchError, match="encoders"):
        KnowledgeBase.load(tmp_path / "ix", encoders={"other": HashingEncoder(64)})


def test_rebuild_with_another_model_encodes_everything(articles_dir: Path, tmp_path: Path) -> None:
    KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders={"dense": HashingEncoder(64)})
    summary = KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders={"dense": HashingEncoder(32)}).last_build
    assert summary is not None and summary.encoded == summary.sections == 5


def test_other_format_version_is_refused(articles_dir: Path, tmp_path: Path, encoders: dict) -> None:
    KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders=encoders)
    path = tmp_path / "ix" / "manifest.json"
    path.write_text(path.read_text().replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 99'))
    with pytest.raises(IndexMismatchError, match="format version 99"):
        KnowledgeBase.load(tmp_path / "ix", encoders=encoders)


def test_corrupted_or_missing_files_are_detected(articles_dir: Path, tmp_path: Path, encoders: dict) -> None:
    index = tmp_path / "ix"
    KnowledgeBase.build(articles_dir, index, encoders=encoders)
    faiss_file = next(index.glob("dense-body-*.faiss"))
    faiss_file.write_bytes(faiss_file.read_bytes()[:-8] + b"garbage!")
    with pytest.raises(IndexCorruptError, match="checksum"):
        KnowledgeBase.load(index, encoders=encoders)
    faiss_file.unlink()
    with pytest.raises(IndexCorruptError, match="missing"):
        KnowledgeBase.load(index, encoders=encoders)


def test_loading_an_empty_folder_says_how_to_build(tmp_path: Path, encoders: dict) -> None:
    with pytest.raises(IndexCorruptError, match="holds no index"):
        KnowledgeBase.load(tmp_path, encoders=encoders)


def test_approximate_store_finds_nearly_all_exact_neighbours(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(2000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:50]
    approx = VectorStore.from_vectors(vectors, approximate=True)
    assert not approx.exact
    approx.save(tmp_path / "hnsw.faiss")
    loaded = VectorStore.load(tmp_path / "hnsw.faiss")
    _, exact_rows = VectorStore.from_vectors(vectors).search(queries, 10)
    _, approx_rows = loaded.search(queries, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx_rows, exact_rows, strict=True)])
    assert recall >= 0.95
    np.testing.assert_allclose(loaded.vectors(), vectors, rtol=1e-6)


def test_maxsim_equals_brute_force() -> None:
    rng = np.random.default_rng(5)
    matrices = [rng.normal(size=(n, 8)).astype(np.float32) for n in (3, 1, 6, 2)]
    matrices = [m / np.linalg.norm(m, axis=1, keepdims=True) for m in matrices]
    store = TokenStore.from_matrices([quantize(m) for m in matrices], 8)
    query = rng.normal(size=(4, 8)).astype(np.float32)
    query /= np.linalg.norm(query, axis=1, keepdims=True)
    items = np.array([2, 0, 3])
    expected = [(query @ matrices[i].T).max(axis=1).mean() for i in items]
    np.testing.assert_allclose(store.maxsim(query, items), expected, atol=0.01)  # int8 storage


def test_token_vectors_are_stored_reused_and_reloaded(articles_dir: Path, tmp_path: Path) -> None:
    encoder = HashingEncoder(64)
    built = KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders={"dense": encoder})
    loaded = KnowledgeBase.load(tmp_path / "ix", encoders={"dense": encoder})
    for view in ("path", "body"):
        fresh, again = built._data.tokens["dense"][view], loaded._data.tokens["dense"][view]
        assert len(fresh) == len(again) == len(built.sections)
        np.testing.assert_array_equal(fresh.offsets, again.offsets)
        np.testing.assert_array_equal(fresh.matrix, np.asarray(again.matrix))


def test_pooled_only_encoder_builds_an_index_without_token_vectors(articles_dir: Path, tmp_path: Path) -> None:
    from kbsuggest.encoders import PooledOnly

    kb = KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders={"dense": PooledOnly(HashingEncoder(64))})
    assert kb._data.tokens == {} and not list((tmp_path / "ix").glob("*tokens*"))
    assert kb.search("refund timing bank business days")[0].article_id == "refunds"


def test_incremental_lexical_index_equals_a_fresh_one(articles_dir: Path, tmp_path: Path) -> None:
    """Unchanged sections' BM25 tokens are reused from the old index, and give the same BM25 state."""
    KnowledgeBase.build(articles_dir, tmp_path / "a", encoders={"dense": HashingEncoder(64)})
    (articles_dir / "refunds.md").write_text(REFUND.replace("2 business days", "3 business days"), encoding="utf-8")
    incremental = KnowledgeBase.build(articles_dir, tmp_path / "a", encoders={"dense": HashingEncoder(64)})
    fresh = KnowledgeBase.build(articles_dir, tmp_path / "b", encoders={"dense": HashingEncoder(64)})
    ours, theirs = incremental._data.lexical.to_state(), fresh._data.lexical.to_state()
    assert ours.keys() == theirs.keys()
    for key in ours:
        np.testing.assert_array_equal(np.asarray(ours[key]), np.asarray(theirs[key]))
    assert incremental._data.lexical.document(0) == fresh._data.lexical.document(0)
