"""Warm `suggest` latency for one message on a synthetic knowledge base, beside the bare query encoding
of the same message in the same run (what remains is kbsuggest's own work): with the fast query path (the
index's ONNX export of MiniLM) and with the sentence-transformers reference, one after the other. Then the same
messages with 6 turns of history (a demo-store conversation in the message's language), against without.

    .venv/bin/python benchmarks/bench_latency.py [--sections 10000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from synthetic import write_kb

from kbsuggest import KnowledgeBase
from kbsuggest.config import Settings
from kbsuggest.encoders.base import TokenEncoder
from kbsuggest.text.tokenize import detect_language, encoder_text, normalize_query

ROOT = Path(__file__).resolve().parents[1]


def percentiles(values: list[float]) -> str:
    return f"p50 {np.percentile(values, 50):.1f} ms, p95 {np.percentile(values, 95):.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sections", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--workdir", type=Path, help="keep the synthetic articles and index here, to reuse them")
    args = parser.parse_args()
    lines = (ROOT / "tests/data/demo_queries.jsonl").read_text(encoding="utf-8").splitlines()
    messages = [json.loads(line)["query"] for line in lines][: args.messages]
    with tempfile.TemporaryDirectory() as temporary:
        tmp = args.workdir or Path(temporary)
        # Short sections: retrieval cost does not depend on their length, and they encode fast.
        root = write_kb(Path(tmp) / "articles", args.sections - 200, sentences=2)
        for source in (ROOT / "articles").rglob("*.md"):
            if source.name != "README.md":
                (root / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        encoders = Settings().encoders()
        started = time.perf_counter()
        kb = KnowledgeBase.build(root, Path(tmp) / "index", encoders=encoders, progress=True)
        print(f"built {len(kb.sections)} sections in {time.perf_counter() - started:.0f} s")
        print(f"{len(messages)} messages (en and zh), {len(kb.sections)} sections, warm, one thread")
        for fast in (True, False):
            kb = KnowledgeBase.load(Path(tmp) / "index", settings=Settings(fast_queries=fast))
            print(f"query path: {'ONNX export (default)' if fast else 'sentence-transformers (reference)'}")
            measure(kb, messages)


def measure(kb: KnowledgeBase, messages: list[str]) -> None:
    for message in messages:  # warm: both languages' encoders loaded, caches filled
        kb.suggest(message)
        kb.suggest(message, history=HISTORIES[detect_language(normalize_query(message))])
    total, encode, rest, with_history = [], [], [], []
    for message in messages:
        text = normalize_query(message)
        started = time.perf_counter()
        if detect_language(text) == "zh":
            kb.encoders["multilingual"].encode_queries([encoder_text(text)])
        else:  # the English path takes token vectors from the same forward pass
            dense = kb.encoders["dense"]
            assert isinstance(dense, TokenEncoder)
            dense.encode_with_tokens([encoder_text(text)], query=True)
        encoded = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        kb.suggest(message)
        took = (time.perf_counter() - started) * 1000
        total.append(took)
        encode.append(encoded)
        rest.append(took - encoded)
        started = time.perf_counter()  # interleaved, so a busy spell slows both alike
        kb.suggest(message, history=HISTORIES[detect_language(text)])
        with_history.append((time.perf_counter() - started) * 1000)
    print(f"  suggest:                 {percentiles(total)}")
    print(f"  query encoding alone:    {percentiles(encode)}")
    print(f"  suggest minus encoding:  {percentiles(rest)}")
    ratio = np.percentile(with_history, 50) / np.percentile(total, 50)
    print(f"  suggest, 6 turns of history: {percentiles(with_history)} (p50 {ratio:.2f}x without)")


def _six_turns(path: Path) -> list[dict[str, str]]:
    """The first conversation of `path` with 6 turns of history."""
    for line in path.read_text(encoding="utf-8").splitlines():
        history: list[dict[str, str]] = json.loads(line)["history"]
        if len(history) == 6:
            return history
    raise ValueError(f"{path} has no conversation with 6 turns of history")


HISTORIES = {
    language: _six_turns(ROOT / f"benchmarks/data/conversations_demo_{language}.jsonl") for language in ("en", "zh")
}


if __name__ == "__main__":
    main()
