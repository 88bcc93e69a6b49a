"""Faster MiniLM document encoding for builds (issue #7 item 4): each option's speed and answer quality
beside the sentence-transformers (ST) fp32 reference that builds use today, measured in one run.

    .venv/bin/python benchmarks/bench_build_speed.py [--sections 200] [--rounds 4] [--shared ../shared/eval]

Options: ST fp32 with batch 16 / 32 (the reference) / 64; torch int8 dynamic quantisation of the Linear
layers, per tensor and per output channel; ONNX Runtime (ORT) on the export builds store, fp32 and int8
dynamic (per tensor, per channel), two threads and 32 texts per call.
Speed: the distinct view texts of `--sections` synthetic sections (about 150 word pieces each), sorted by
length (as a build sorts them) and passed 64 at a time to `encode_with_tokens(query=False)`; every option
encodes each chunk in turn, in a rotated order, so a busy machine slows all of them alike. "vs reference" is
the median over `--rounds` rounds of the round's time ratio, with its range.
Quality: a full kbsuggest build of each shared dev set whose MiniLM document vectors come from the option;
messages are encoded by the reference ONNX fp32 query path (one thread, as a loaded index answers), so the
figures are what adopting the option would give. Agreement: cosines with the reference of the pooled vectors
and of the stored (int8) token vectors, over every document text both encoded (synthetic and shared).
An option passes with >= 1.5x speed and at most 0.01 lower accuracy@1 on each dev set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from synthetic import write_kb
from torch.ao.quantization import per_channel_dynamic_qconfig

from kbsuggest import KnowledgeBase
from kbsuggest.articles import load_articles
from kbsuggest.config import Settings
from kbsuggest.encoders import Encoder, SentenceTransformerEncoder, UseEncoder
from kbsuggest.encoders.onnx import OnnxEncoder
from kbsuggest.evaluation import DEPTH, EvalReport, read_queries, score
from kbsuggest.index.build import BATCH
from kbsuggest.index.manifest import EncoderRecord
from kbsuggest.index.onnx_export import export_onnx, fast_encoder
from kbsuggest.index.tokens import quantize
from kbsuggest.index.views import view_texts
from kbsuggest.retrieval.fusion import DEFAULT_WEIGHTS

ROOT = Path(__file__).resolve().parents[1]
K = 3
SPEEDUP = 1.5
MAX_ACCURACY_LOSS = 0.01
REFERENCE = "ST fp32, batch 32 (reference)"
CHUNK = 64  # texts per timed call: the largest batch size under test


class Documents:
    """`inner`'s document vectors under the reference's identity (so an index built with them loads with the
    reference query encoder), `batch` texts per forward pass; keeps what the index stores of each text
    (pooled vector, int8 token vectors) for agreement with the reference."""

    def __init__(self, inner: Any, reference: Encoder, batch: int) -> None:
        self.inner, self.batch = inner, batch
        self.model_id, self.fingerprint, self.dim = reference.model_id, reference.fingerprint, reference.dim
        self.seen: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def encode_with_tokens(self, texts: Sequence[str], *, query: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        pooled, tokens = [], []
        for start in range(0, len(texts), self.batch):
            p, t = self.inner.encode_with_tokens(texts[start : start + self.batch], query=query)
            pooled.append(p)
            tokens += t
        vectors = np.vstack(pooled) if pooled else np.zeros((0, self.dim), np.float32)
        self.seen.update((text, (v, quantize(m))) for text, v, m in zip(texts, vectors, tokens, strict=True))
        return vectors, tokens

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_with_tokens(texts, query=False)[0]

    encode_queries = encode_documents


def options(reference: SentenceTransformerEncoder, record: EncoderRecord, tmp: Path) -> dict[str, Documents]:
    def st(batch: int, model: Any = reference.model) -> SentenceTransformerEncoder:
        encoder = SentenceTransformerEncoder(batch_size=batch)
        encoder.model = model  # type: ignore[misc]  # share the loaded (or quantised) model
        return encoder

    def ort(model: Path) -> OnnxEncoder:
        assert record.onnx is not None
        return OnnxEncoder(
            record.model_id,
            record.fingerprint,
            (model, tmp / record.onnx.tokenizer.name),
            max_seq_length=record.onnx.max_seq_length,
            pooling=record.onnx.pooling,
            special_tokens=record.onnx.special_tokens,
            threads=2,  # a build encodes one batch at a time, not concurrent messages
        )

    assert record.onnx is not None
    fp32 = tmp / record.onnx.model.name
    ort_int8 = {}
    for granularity, per_channel in (("per-tensor", False), ("per-channel", True)):
        started = time.perf_counter()
        ort_int8[granularity] = tmp / f"dense-int8-{granularity}.onnx"
        quantize_dynamic(fp32, ort_int8[granularity], weight_type=QuantType.QInt8, per_channel=per_channel)
        print(f"one-off cost: ONNX Runtime int8 {granularity} quantisation {time.perf_counter() - started:.1f} s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
        dynamic = torch.ao.quantization.quantize_dynamic
        torch_int8 = {
            "per-tensor": dynamic(reference.model, {torch.nn.Linear}, dtype=torch.qint8),
            "per-channel": dynamic(reference.model, {torch.nn.Linear: per_channel_dynamic_qconfig}),
        }
    inner = {
        REFERENCE: reference,
        "ST fp32, batch 16": st(16),
        "ST fp32, batch 64": st(64),
        **{f"torch int8 {g}": st(32, model) for g, model in torch_int8.items()},
        "ORT fp32": ort(fp32),
        **{f"ORT int8 {g}": ort(path) for g, path in ort_int8.items()},
    }
    return {
        name: Documents(encoder, reference, 32 if isinstance(encoder, OnnxEncoder) else BATCH)
        for name, encoder in inner.items()
    }


def speed(candidates: dict[str, Documents], use: Encoder, texts: list[str], rounds: int) -> dict[str, list[float]]:
    """Seconds per round for each option (and USE, the build's other encoder) to encode `texts`, chunk by chunk,
    every option encoding each chunk in turn in a rotated order, so that all of them see the same load."""
    runs: dict[str, Callable[[list[str]], object]] = {
        **{name: lambda t, d=d: d.encode_with_tokens(t, query=False) for name, d in candidates.items()},
        "USE": use.encode_documents,
    }
    for run in runs.values():
        run(texts[:8])  # load and warm up outside the timings
    names = list(runs)
    seconds = {name: [0.0] * rounds for name in names}
    for r in range(rounds):
        for i, start in enumerate(range(0, len(texts), CHUNK)):
            turn = (r + i) % len(names)
            for name in names[turn:] + names[:turn]:
                started = time.perf_counter()
                runs[name](texts[start : start + CHUNK])
                seconds[name][r] += time.perf_counter() - started
    return seconds


def quality(
    candidate: Documents, query_encoder: Encoder, use: Encoder, dataset: tuple[Path, Path], index: Path
) -> EvalReport:
    articles, queries_path = dataset
    KnowledgeBase.build(articles, index, encoders={"dense": candidate, "multilingual": use})
    kb = KnowledgeBase.load(
        index,
        encoders={"dense": query_encoder, "multilingual": use},
        feedback=False,
        settings=Settings(fast_queries=False),  # query_encoder already is the ONNX fp32 query path
    )
    queries = read_queries(queries_path)
    return score(queries, kb.suggest_many([q.query for q in queries], k=DEPTH), K)


def spread(series: Iterable[list[float]]) -> float:
    return statistics.median((max(v) - min(v)) / statistics.median(v) for v in series)


def flipped(ours: EvalReport, reference: EvalReport) -> str:
    """Messages whose first answer became right / wrong compared with the reference."""
    right = [(a.rank == 1, b.rank == 1) for a, b in zip(ours.results, reference.results, strict=True)]
    return f"+{sum(a and not b for a, b in right)}/-{sum(b and not a for a, b in right)}"


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def agreement(candidate: Documents, reference: Documents) -> tuple[np.ndarray, np.ndarray]:
    """Cosines with the reference of the pooled vectors, and of the stored token vectors, of every text both
    encoded."""
    shared = [t for t in candidate.seen if t in reference.seen]
    ours, theirs = [candidate.seen[t] for t in shared], [reference.seen[t] for t in shared]
    pooled = cosines(np.array([p for p, _ in ours]), np.array([p for p, _ in theirs]))
    tokens = cosines(np.vstack([m for _, m in ours]), np.vstack([m for _, m in theirs]))
    return pooled, tokens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sections", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "eval")
    args = parser.parse_args()
    datasets = {
        "en": (args.shared / "helpcenter" / "articles", args.shared / "helpcenter" / "queries_dev.jsonl"),
        "zh": (args.shared / "helpcenter-zh" / "articles", args.shared / "helpcenter-zh" / "queries.jsonl"),
    }
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        reference, use = SentenceTransformerEncoder(), UseEncoder()
        onnx = export_onnx(reference, tmp, "dense")
        assert onnx is not None, "the ONNX export failed"
        record = EncoderRecord(
            model_id=reference.model_id, fingerprint=reference.fingerprint, dim=reference.dim, views={}, onnx=onnx
        )
        query_encoder = fast_encoder(record, tmp)
        candidates = options(reference, record, tmp)

        messages = [q.query for _, path in datasets.values() for q in read_queries(path)]
        query_cos = cosines(query_encoder.encode_queries(messages), reference.encode_queries(messages))
        print(
            f"ONNX fp32 query path (1 thread) vs sentence-transformers on {len(messages)} dev messages (en + zh): "
            f"cosine min {query_cos.min():.6f}, mean {query_cos.mean():.6f}"
        )

        sections = [s for a in load_articles(write_kb(tmp / "synthetic", args.sections)) for s in a.sections]
        texts = sorted({t for rows in view_texts(sections).values() for t in rows}, key=len)
        seconds = speed(candidates, use, texts, args.rounds)
        reports = {
            (option, lang): quality(candidate, query_encoder, use, dataset, tmp / f"{lang}-{i}")
            for i, (option, candidate) in enumerate(candidates.items())
            for lang, dataset in datasets.items()
        }

    print(
        f"\nspeed: {len(sections)} synthetic sections ({len(texts)} distinct view texts), {args.rounds} rounds, "
        f"torch threads {torch.get_num_threads()}; seconds per round:"
    )
    for option, runs in seconds.items():
        print(f"  {option}: {' '.join(f'{s:.1f}' for s in runs)}")
    base, use_seconds = statistics.median(seconds[REFERENCE]), statistics.median(seconds["USE"])
    print(
        f"USE (the build's other encoder): {len(sections) / use_seconds:.1f} sections/s; MiniLM is "
        f"{base / (base + use_seconds):.0%} of the two encoders' time in a build today"
    )
    print(
        "\n| option | sections/s | texts/s | speed vs reference (range) | build encoding time vs today "
        "| pooled cosine min / mean | token cosine min / mean "
        "| en acc@1 / R@3 / MRR | zh acc@1 / R@3 / MRR | Δacc@1 en / zh (messages +right/-wrong) | passes |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ratios = {o: [b / s for b, s in zip(seconds[REFERENCE], seconds[o], strict=True)] for o in seconds}
    passing = []
    for option, candidate in candidates.items():
        median = statistics.median(seconds[option])
        ratio = statistics.median(ratios[option])
        pooled, tokens = agreement(candidate, candidates[REFERENCE])
        en, zh = reports[option, "en"], reports[option, "zh"]
        deltas = [reports[option, lang].accuracy_at_1 - reports[REFERENCE, lang].accuracy_at_1 for lang in datasets]
        flips = [flipped(reports[option, lang], reports[REFERENCE, lang]) for lang in datasets]
        passes = option != REFERENCE and ratio >= SPEEDUP and min(deltas) >= -MAX_ACCURACY_LOSS
        passing += [option] if passes else []
        print(
            f"| {option} | {len(sections) / median:.1f} | {len(texts) / median:.1f} "
            f"| {ratio:.2f}x ({min(ratios[option]):.2f}-{max(ratios[option]):.2f}) "
            f"| {(base / ratio + use_seconds) / (base + use_seconds):.2f}x "
            f"| {pooled.min():.4f} / {pooled.mean():.4f} | {tokens.min():.4f} / {tokens.mean():.4f} "
            f"| {en.accuracy_at_1:.3f} / {en.recall_at_k:.3f} / {en.mrr:.3f} "
            f"| {zh.accuracy_at_1:.3f} / {zh.recall_at_k:.3f} / {zh.mrr:.3f} "
            f"| {deltas[0]:+.3f} ({flips[0]}) / {deltas[1]:+.3f} ({flips[1]}) | {'yes' if passes else 'no'} |"
        )
    print(
        f"\nMiniLM's weight in the fused score: en {DEFAULT_WEIGHTS.en.dense}, zh {DEFAULT_WEIGHTS.zh.dense} "
        "(messages detected as Chinese rank with BM25 and USE alone: the zh set moves only through the others)"
    )
    print(
        f"noise (median over options of (max - min) / median over rounds): times {spread(seconds.values()):.0%}, "
        f"the same round's ratio to the reference {spread(r for o, r in ratios.items() if o != REFERENCE):.0%}; "
        f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"passes the adoption rule (>= {SPEEDUP}x, acc@1 at most {MAX_ACCURACY_LOSS} lower on en and zh): "
        f"{', '.join(passing) or 'none'}"
    )


if __name__ == "__main__":
    main()
