"""The ONNX query path against its sentence-transformers reference, with the real bundled model."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.config import Settings
from kbsuggest.encoders import Encoder, SentenceTransformerEncoder
from kbsuggest.encoders.base import PooledOnly, sha256_file
from kbsuggest.encoders.onnx import OnnxEncoder
from kbsuggest.errors import IndexCorruptError
from kbsuggest.index import model_store, onnx_export
from kbsuggest.index.storage import MANIFEST, seal
from kbsuggest.index.views import view_texts

ROOT = Path(__file__).resolve().parents[2]
SHARED_EVAL = ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="module")
def index_dir(demo_kb: KnowledgeBase, demo_index: Path) -> Path:
    """The demo store's index: its build stored the ONNX export."""
    return demo_index


def _dev_messages() -> list[str]:
    files = [SHARED_EVAL / "helpcenter" / "queries_dev.jsonl", SHARED_EVAL / "helpcenter-zh" / "queries.jsonl"]
    if not all(f.is_file() for f in files):
        pytest.skip(f"the shared dev queries are not beside the checkout ({SHARED_EVAL})")
    return [json.loads(line)["query"] for f in files for line in f.read_text(encoding="utf-8").splitlines()]


def test_onnx_vectors_equal_sentence_transformers_on_the_shared_dev_queries(
    index_dir: Path, real_encoders: dict[str, Encoder]
) -> None:
    kb = KnowledgeBase.load(index_dir, feedback=False)
    fast, reference = kb.encoders["dense"], real_encoders["dense"]
    assert isinstance(fast, OnnxEncoder) and isinstance(reference, SentenceTransformerEncoder)
    assert (fast.model_id, fast.fingerprint, fast.dim) == (reference.model_id, reference.fingerprint, reference.dim)
    messages = _dev_messages()
    assert len(messages) > 1000
    for query in (True, False):
        pooled, tokens = fast.encode_with_tokens(messages, query=query)
        ref_pooled, ref_tokens = reference.encode_with_tokens(messages, query=query)
        assert np.sum(pooled * ref_pooled, axis=1).min() >= 0.999
        for ours, theirs in zip(tokens, ref_tokens, strict=True):
            assert ours.shape == theirs.shape
            assert np.sum(ours * theirs, axis=1).min() >= 0.999
    np.testing.assert_allclose(fast.encode_queries(messages[:50]), reference.encode_queries(messages[:50]), atol=1e-4)


def test_fast_path_answers_like_the_reference(index_dir: Path) -> None:
    fast = KnowledgeBase.load(index_dir, feedback=False)
    reference = KnowledgeBase.load(index_dir, settings=Settings(fast_queries=False), feedback=False)
    assert isinstance(fast.encoders["dense"], OnnxEncoder)
    assert isinstance(reference.encoders["dense"], SentenceTransformerEncoder)
    lines = (ROOT / "tests/data/demo_queries.jsonl").read_text(encoding="utf-8").splitlines()
    messages = [json.loads(line)["query"] for line in lines]
    for ours, theirs in zip(fast.suggest_many(messages), reference.suggest_many(messages), strict=True):
        assert [(a.section_id, a.matched_by) for a in ours.answers] == [
            (a.section_id, a.matched_by) for a in theirs.answers
        ]
        np.testing.assert_allclose([a.score for a in ours.answers], [a.score for a in theirs.answers], atol=1e-3)
        assert (ours.escalate, ours.escalate_reason) == (theirs.escalate, theirs.escalate_reason)


def test_a_knowledge_base_built_in_process_answers_on_the_fast_path(demo_kb: KnowledgeBase, index_dir: Path) -> None:
    loaded = KnowledgeBase.load(index_dir, feedback=False)
    assert isinstance(demo_kb.encoders["dense"], OnnxEncoder)
    messages = ["does the M fit someone 175cm?", "我的退款怎么还没到账？", "where is my order A1048321"]
    assert demo_kb.search_many(messages) == loaded.search_many(messages)


def test_wrapped_encoders_keep_their_wrapper(index_dir: Path, real_encoders: dict[str, Encoder]) -> None:
    pooled = PooledOnly(real_encoders["dense"])
    kb = KnowledgeBase.load(index_dir, encoders={**real_encoders, "dense": pooled}, feedback=False)
    assert kb.encoders["dense"] is pooled  # the fast path would bring back the token vectors it leaves out


def test_one_shot_cli_imports_neither_torch_nor_sentence_transformers(index_dir: Path) -> None:
    script = (
        "import sys\n"
        "from kbsuggest.cli import main\n"
        "try:\n"
        f"    main(['suggest', 'where is my parcel? ordered 10 days ago', '--index', {str(index_dir)!r}, '--json'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)\n"
        "print(heavy, file=sys.stderr)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answers"][0]["article_id"] == "lost-delayed-parcels"


def test_failed_export_leaves_the_reference_path(
    tmp_path: Path, real_encoders: dict[str, Encoder], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(transformer: object, path: Path) -> None:
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(onnx_export, "_export", broken)
    with caplog.at_level(logging.WARNING):
        KnowledgeBase.build(ROOT / "articles", tmp_path / "index", encoders=real_encoders)
    assert "export failed (exporter exploded)" in caplog.text
    assert not list((tmp_path / "index").glob("*.onnx"))
    kb = KnowledgeBase.load(tmp_path / "index", feedback=False)
    assert isinstance(kb.encoders["dense"], SentenceTransformerEncoder)
    assert kb.search("where is my parcel?", k=1)[0].article_id == "lost-delayed-parcels"


def test_build_encodes_documents_with_the_int8_export(
    demo_kb: KnowledgeBase, real_encoders: dict[str, Encoder]
) -> None:
    record = demo_kb.manifest.encoders["dense"].onnx
    assert record is not None and record.documents is not None
    texts = view_texts(demo_kb.sections)
    for view, store in demo_kb._data.stores["dense"].items():
        cosines = np.sum(store.vectors() * real_encoders["dense"].encode_documents(texts[view]), axis=1)
        assert cosines.min() >= onnx_export.QUANTIZED_MIN_COSINE
        assert cosines.mean() >= 0.98
        assert cosines.min() < 0.9999  # quantised: not the model's own vectors


def test_failed_quantisation_encodes_documents_exactly(
    tmp_path: Path, real_encoders: dict[str, Encoder], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("quantizer exploded")

    monkeypatch.setattr("onnxruntime.quantization.quantize_dynamic", broken)
    with caplog.at_level(logging.WARNING):
        kb = KnowledgeBase.build(ROOT / "articles", tmp_path / "index", encoders=real_encoders)
    assert "quantisation failed (quantizer exploded)" in caplog.text
    record = kb.manifest.encoders["dense"].onnx
    assert record is not None and record.documents is None  # the query path stays
    assert len(list((tmp_path / "index").glob("*.onnx"))) == 1
    body = kb._data.stores["dense"]["body"].vectors()
    exact = real_encoders["dense"].encode_documents(view_texts(kb.sections)["body"])
    assert np.sum(body * exact, axis=1).min() >= 0.9999


def test_the_onnx_export_is_opened_at_load_so_a_removed_index_still_answers(index_dir: Path, tmp_path: Path) -> None:
    """The model and tokenizer were opened at the first message: an index folder removed (or replaced) after
    the load failed that message."""
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns("feedback.sqlite*"))
    kb = KnowledgeBase.load(copy, feedback=False)
    assert isinstance(kb.encoders["dense"], OnnxEncoder)
    shutil.rmtree(copy)
    assert kb.search("where is my parcel? ordered 10 days ago", k=1)[0].article_id == "lost-delayed-parcels"


def test_an_onnx_export_that_cannot_be_opened_is_refused_at_load(index_dir: Path, tmp_path: Path) -> None:
    """Garbage under a matching checksum (the manifest edited and sealed again): refused by the load, with the
    rebuild command, not by the first message."""
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns("feedback.sqlite*"))
    raw = json.loads((copy / MANIFEST).read_text(encoding="utf-8"))
    del raw["checksum"]
    model = raw["encoders"]["dense"]["onnx"]["model"]
    (copy / model["name"]).write_bytes(b"not an ONNX model")
    model["sha256"] = sha256_file(copy / model["name"])
    (copy / MANIFEST).write_text(json.dumps(seal(raw)), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match=rf"{model['name']} .*cannot be opened .*kbsuggest build ARTICLES_DIR"):
        KnowledgeBase.load(copy, feedback=False)


def test_indexes_holding_the_same_export_share_one_onnx_session(index_dir: Path, tmp_path: Path) -> None:
    """Two folders with their own copies of the export (not links): one session, the same encoder object."""
    copies = [tmp_path / name for name in ("a", "b")]
    for copy in copies:
        shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns("feedback.sqlite*"))
    first, second = (KnowledgeBase.load(copy, feedback=False) for copy in copies)
    assert isinstance(first.encoders["dense"], OnnxEncoder)
    assert first.encoders["dense"] is second.encoders["dense"]
    assert first.encoders["multilingual"] is second.encoders["multilingual"]


def test_a_model_store_keeps_one_copy_of_the_export_for_many_indexes(index_dir: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    copies = [tmp_path / name for name in ("a", "b")]
    for copy in copies:
        shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns("feedback.sqlite*"))
    manifest = KnowledgeBase.load(copies[0], feedback=False).manifest
    files = model_store.model_files(manifest)
    assert len(files) == 3  # model, tokenizer, int8 model
    for copy in copies:
        assert model_store.share_models(copy, manifest, store) == 3
    for file in files:
        kept = store / f"{file.sha256}{Path(file.name).suffix}"
        assert all(os.path.samefile(copy / file.name, kept) for copy in copies)
    assert sorted(p.name for p in store.iterdir()) == sorted(f"{f.sha256}{Path(f.name).suffix}" for f in files)
    for copy in copies:  # each folder is still a whole index
        assert KnowledgeBase.load(copy, feedback=False).search("where is my parcel?", k=1)


def test_a_build_with_a_model_store_links_its_export_into_it(index_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns("feedback.sqlite*"))
    articles = tmp_path / "articles"
    shutil.copytree(ROOT / "articles", articles)
    (articles / "gift-cards.md").write_text("---\nid: gift-cards-new\n---\n# Gift cards\n\nThey never expire.\n")
    kb = KnowledgeBase.build(articles, copy, settings=Settings(model_store=tmp_path / "store"))
    for file in model_store.model_files(kb.manifest):
        assert os.path.samefile(copy / file.name, tmp_path / "store" / f"{file.sha256}{Path(file.name).suffix}")


def test_a_model_file_changed_after_a_load_is_refused_at_the_next(index_dir: Path, tmp_path: Path) -> None:
    """Model files verified once are not hashed again while unchanged: a change in place (same size) is seen."""
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns("feedback.sqlite*"))
    KnowledgeBase.load(copy, feedback=False)
    name = json.loads((copy / MANIFEST).read_text(encoding="utf-8"))["encoders"]["dense"]["onnx"]["model"]["name"]
    with (copy / name).open("r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(IndexCorruptError, match=rf"{name} does not match its checksum"):
        KnowledgeBase.load(copy, feedback=False)


def test_a_new_folder_takes_the_model_stores_export_instead_of_exporting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports: list[Path] = []
    export = onnx_export._export

    def counted(transformer: object, path: Path) -> None:
        exports.append(path)
        export(transformer, path)

    monkeypatch.setattr(onnx_export, "_export", counted)
    settings = Settings(model_store=tmp_path / "store")
    first = KnowledgeBase.build(ROOT / "articles", tmp_path / "first", settings=settings)
    assert len(exports) == 1
    second = KnowledgeBase.build(ROOT / "articles", tmp_path / "second", settings=settings)
    assert len(exports) == 1  # the second folder's build exported nothing
    assert second.manifest.encoders == first.manifest.encoders
    for file in model_store.model_files(second.manifest):
        kept = tmp_path / "store" / f"{file.sha256}{Path(file.name).suffix}"
        assert os.path.samefile(tmp_path / "second" / file.name, kept)
    for message in _dev_messages()[:40]:
        assert second.search(message) == first.search(message)
