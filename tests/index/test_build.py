from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.articles import Article, load
from kbsuggest.config import Settings
from kbsuggest.encoders import HashingEncoder, SentenceTransformerEncoder
from kbsuggest.errors import ArticlesInvalid, IndexCorruptError, IndexMismatchError, IndexWriteError
from kbsuggest.index import VectorStore, storage
from kbsuggest.index.manifest import FORMAT_VERSION, EncoderRecord, FileRecord, OnnxRecord
from kbsuggest.index.onnx_export import export_key, onnx_for
from kbsuggest.index.tokens import MAX_SEGMENTS, TokenStore, compact, quantize, wasteful
from tests.conftest import (
    HASHING,
    HASHING_ENV,
    MARKERS,
    REFUND,
    fill,
    read_only_view,
    small_disk,
    write_versioned_kb,
)


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
    with pytest.raises(IndexWriteError, match=f"cannot write the index in {index} \\(disk full\\)"):
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


@pytest.mark.parametrize("version", [FORMAT_VERSION - 1, 99])
def test_other_format_version_is_refused_with_the_rebuild_command(
    articles_dir: Path, tmp_path: Path, encoders: dict, version: int
) -> None:
    """An older index (its manifest has no checksum yet) or a newer one (sealed by its own kbsuggest)."""
    KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders=encoders)
    path = tmp_path / "ix" / "manifest.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    del raw["checksum"]
    raw["format_version"] = version
    path.write_text(json.dumps(storage.seal(raw) if version > FORMAT_VERSION else raw), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match=rf"format version {version}.*kbsuggest build ARTICLES_DIR --index"):
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


def test_maxsim_over_a_pool_of_segments_equals_brute_force() -> None:
    rng = np.random.default_rng(5)
    matrices = [rng.normal(size=(n, 8)).astype(np.float32) for n in (3, 1, 6, 2)]
    matrices = [m / np.linalg.norm(m, axis=1, keepdims=True) for m in matrices]
    stored = [quantize(m) for m in matrices]
    unused = np.ones((1, 8), np.int8)  # a text no longer indexed
    segments = [np.concatenate([stored[0], stored[2]]), np.concatenate([stored[1], unused, stored[3]])]
    store = TokenStore(segments, np.array([[0, 3], [9, 10], [3, 9], [11, 13]]))
    query = rng.normal(size=(4, 8)).astype(np.float32)
    query /= np.linalg.norm(query, axis=1, keepdims=True)
    items = np.array([2, 0, 3])
    expected = [(query @ matrices[i].T).max(axis=1).mean() for i in items]
    np.testing.assert_allclose(store.maxsim(query, items), expected, atol=0.01)  # int8 storage
    compacted = compact({"body": store})["body"]
    assert len(compacted.segments) == 1 and compacted.pool_rows == 12
    for i, matrix in enumerate(stored):
        np.testing.assert_array_equal(store.rows(i), matrix)
        np.testing.assert_array_equal(compacted.rows(i), matrix)
    np.testing.assert_allclose(compacted.maxsim(query, items), expected, atol=0.01)


def test_token_vectors_are_stored_reused_and_reloaded(articles_dir: Path, tmp_path: Path) -> None:
    encoder = HashingEncoder(64)
    built = KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders={"dense": encoder})
    loaded = KnowledgeBase.load(tmp_path / "ix", encoders={"dense": encoder})
    for view in ("path", "body"):
        fresh, again = built._data.tokens["dense"][view], loaded._data.tokens["dense"][view]
        assert len(fresh) == len(again) == len(built.sections)
        np.testing.assert_array_equal(fresh.spans, again.spans)
        for ours, theirs in zip(fresh.segments, again.segments, strict=True):
            np.testing.assert_array_equal(ours, np.asarray(theirs))


def test_a_token_pool_is_wasteful_with_too_many_segments_or_mostly_unused_rows() -> None:
    rows = np.zeros((4, 8), np.int8)
    assert not wasteful({"body": TokenStore([rows], np.array([[0, 2], [2, 4]]))})
    assert wasteful({"body": TokenStore([rows], np.array([[0, 1]]))})
    spans = np.array([[4 * i, 4 * i + 4] for i in range(MAX_SEGMENTS + 1)])
    assert wasteful({"body": TokenStore([rows] * (MAX_SEGMENTS + 1), spans)})


def test_incremental_builds_append_token_segments_until_the_pool_is_compacted(
    articles_dir: Path, tmp_path: Path
) -> None:
    """Each build leaves the token segments on disk as they are and appends one with the texts it encoded,
    until the pool is wasteful and is rewritten as one segment; the index stays equal to a fresh build."""

    def segments(index: Path) -> list[str]:
        manifest = storage.read_manifest(index)
        assert manifest is not None and manifest.encoders["dense"].tokens is not None
        return [file.name for file in manifest.encoders["dense"].tokens.segments]

    KnowledgeBase.build(articles_dir, tmp_path / "a", encoders={"dense": HashingEncoder(64)})
    history = [segments(tmp_path / "a")]
    for days in range(3, 12):
        text = REFUND.replace("2 business days", f"{days} business days")
        (articles_dir / "refunds.md").write_text(text, encoding="utf-8")
        kb = KnowledgeBase.build(articles_dir, tmp_path / "a", encoders={"dense": HashingEncoder(64)})
        assert not wasteful(kb._data.tokens["dense"])
        history.append(segments(tmp_path / "a"))
    appended = [after[:-1] == before for before, after in itertools.pairwise(history)]
    compacted = [len(after) == 1 for after in history[1:]]
    assert all(a or c for a, c in zip(appended, compacted, strict=True)) and any(appended) and any(compacted)
    fresh = KnowledgeBase.build(articles_dir, tmp_path / "b", encoders={"dense": HashingEncoder(64)})
    assert _index_content(kb) == _index_content(fresh)


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


def _index_content(kb: KnowledgeBase) -> dict[str, object]:
    """Everything a build stores, as plain values: articles, sections, vectors, token vectors, BM25."""
    data = kb._data
    tokens = {
        (name, view): [store.rows(i).tolist() for i in range(len(store))]
        for name, per_view in data.tokens.items()
        for view, store in per_view.items()
    }
    return {
        "articles": data.manifest.articles,
        "sections": data.sections,
        "vectors": {(n, v): s.vectors().tolist() for n, per_view in data.stores.items() for v, s in per_view.items()},
        "tokens": tokens,
        "bm25": {key: np.asarray(value).tolist() for key, value in data.lexical.to_state().items()},
    }


def test_incremental_build_equals_a_full_build(
    articles_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Edited, renamed and added files are parsed again and a deleted one is dropped; the index holds
    exactly what a build from scratch of the same articles holds."""
    KnowledgeBase.build(articles_dir, tmp_path / "a", encoders={"dense": HashingEncoder(64)})
    (articles_dir / "refunds.md").write_text(REFUND.replace("2 business days", "3 business days"), encoding="utf-8")
    (articles_dir / "shipping.md").rename(articles_dir / "delivery.md")
    (articles_dir / "zh" / "returns-zh.md").unlink()
    (articles_dir / "gifts.md").write_text("# Gift cards\n\nGift cards never expire.\n", encoding="utf-8")
    parsed: list[str] = []
    real_parse = load.parse_article

    def parse_article(source: str, path: str, **kwargs: str) -> Article:
        parsed.append(path)
        return real_parse(source, path, **kwargs)

    monkeypatch.setattr(load, "parse_article", parse_article)

    incremental = KnowledgeBase.build(articles_dir, tmp_path / "a", encoders={"dense": HashingEncoder(64)})
    assert sorted(Path(p).name for p in parsed) == ["delivery.md", "gifts.md", "refunds.md"]
    assert [a.path for a in incremental.articles if a.meta.id == "shipping"] == ["delivery.md"]
    assert "returns-zh" not in {a.meta.id for a in incremental.articles}
    fresh = KnowledgeBase.build(articles_dir, tmp_path / "b", encoders={"dense": HashingEncoder(64)})
    assert _index_content(incremental) == _index_content(fresh)

    parsed.clear()
    KnowledgeBase.build(articles_dir, tmp_path / "a", encoders={"dense": HashingEncoder(64)})
    assert parsed == []


def test_parsed_articles_are_reused_only_for_the_same_default_locale(articles_dir: Path, tmp_path: Path) -> None:
    encoders = {"dense": HashingEncoder(64)}
    KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders=encoders)
    kb = KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders=encoders, settings=Settings(default_locale="de"))
    assert {a.meta.id: a.meta.locale for a in kb.articles}["shipping"] == "de"  # its front matter names no locale


def test_a_bad_article_is_reported_with_its_line_although_the_others_are_cached(
    articles_dir: Path, tmp_path: Path, encoders: dict
) -> None:
    index = tmp_path / "ix"
    KnowledgeBase.build(articles_dir, index, encoders=encoders)
    before = {path.name: path.read_bytes() for path in index.iterdir() if path.is_file()}
    (articles_dir / "refunds.md").write_text(REFUND.replace("tags: [refunds]", "tagz: [refunds]"), encoding="utf-8")
    (articles_dir / "shipping-copy.md").write_bytes((articles_dir / "shipping.md").read_bytes())
    with pytest.raises(ArticlesInvalid) as caught:
        KnowledgeBase.build(articles_dir, index, encoders=encoders)
    found = {(Path(e.path).name, e.line, e.problem.split(",")[0]) for e in caught.value.errors}
    assert found == {
        ("refunds.md", 6, "unknown front-matter field 'tagz'"),
        ("shipping.md", 1, "duplicate id 'shipping'"),
    }
    assert {path.name: path.read_bytes() for path in index.iterdir() if path.is_file()} == before


def test_the_int8_model_follows_the_quantized_build_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = FileRecord(name="dense-onnx-0000000000000000.onnx", sha256="0" * 64)
    onnx = OnnxRecord(model=file, tokenizer=file, max_seq_length=8, pooling="mean", special_tokens=(), documents=file)
    previous = EncoderRecord(model_id="m", fingerprint="f", dim=4, views={}, onnx=onnx)
    encoder = HashingEncoder(4)
    assert onnx_for(encoder, previous, tmp_path, "dense", quantized=True) == onnx
    exact = onnx_for(encoder, previous, tmp_path, "dense", quantized=False)
    assert exact is not None and exact.documents is None and exact.model == file
    assert onnx_for(encoder, None, tmp_path, "dense", quantized=True) is None  # no export for a non-ST model
    monkeypatch.setenv("KBSUGGEST_QUANTIZED_BUILD", "false")
    assert Settings.from_env().quantized_build is False


def test_a_full_disk_is_a_clear_error_and_keeps_the_previous_index(tmp_path: Path) -> None:
    """A real full disk (a small tmpfs): faiss raised a bare RuntimeError. The error names the folder and the
    fix, the index already there still loads, no temp file is left, and the build succeeds once there is room."""
    articles = tmp_path / "articles"
    with small_disk(tmp_path / "disk", "8m") as disk:
        index = disk / "ix"
        write_versioned_kb(articles, MARKERS[0])
        KnowledgeBase.build(articles, index, settings=HASHING)
        write_versioned_kb(articles, MARKERS[1])
        filler = fill(disk)
        with pytest.raises(IndexWriteError, match=rf"cannot write the index in {index} .*Fix: .*free disk space"):
            KnowledgeBase.build(articles, index, settings=HASHING)
        assert not list(index.glob(".tmp-*"))
        filler.unlink()
        assert {m for s in KnowledgeBase.load(index, settings=HASHING).sections for m in MARKERS if m in s.text} == {
            MARKERS[0]
        }
        rebuilt = KnowledgeBase.build(articles, index, settings=HASHING)
        assert {m for s in rebuilt.sections for m in MARKERS if m in s.text} == {MARKERS[1]}


@pytest.mark.parametrize("where", ["the index folder", "a new folder in it"])
def test_building_into_a_read_only_folder_is_a_clear_error(articles_dir: Path, tmp_path: Path, where: str) -> None:
    """Through the command line: one error line naming the folder and the fix, exit status 2, no traceback."""
    KnowledgeBase.build(articles_dir, tmp_path / "ix", settings=HASHING)
    with read_only_view(tmp_path / "ix", tmp_path / "ro") as ro:
        index = ro if where == "the index folder" else ro / "new"
        cli = subprocess.run(
            [sys.executable, "-m", "kbsuggest.cli", "build", str(articles_dir), "--index", str(index), "--quiet"],
            env=HASHING_ENV,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 2 and "Traceback" not in cli.stderr, cli.stderr
        assert cli.stderr.startswith(f"error: cannot write the index in {index} (")
        assert "Read-only file system" in cli.stderr and "Fix: make the folder writable" in cli.stderr
        assert KnowledgeBase.load(ro, settings=HASHING, feedback=False).sections


def test_a_model_stores_export_key_names_every_file_of_the_model(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "tokenizer.json").write_text("{}")
    key = export_key(SentenceTransformerEncoder(str(model)))
    assert key is not None and key == export_key(SentenceTransformerEncoder(str(model)))
    (model / "tokenizer.json").write_text('{"lowercase": false}')  # same weights, another tokenizer
    assert export_key(SentenceTransformerEncoder(str(model))) not in (key, None)
    (model / "model.safetensors").write_bytes(b"other weights")
    assert export_key(SentenceTransformerEncoder(str(model))) not in (key, None)
    assert export_key(SentenceTransformerEncoder("someone/not-on-disk")) is None  # nothing to hash: not kept
