"""Many knowledge bases served by one process (`kbsuggest.registry.Registry`), with the real models: the
three targets of issue 18 in one run.

1. RSS of one process after every knowledge base has answered once (at the default memory budget, 1024 MiB,
   so the least recently used are unloaded on the way), with VmHWM (the peak).
2. First answer from a cold knowledge base (`registry.get(name).suggest(message)`, models already loaded by
   an earlier one): p50 and p95 over every knowledge base, each asked once.
3. Warm `suggest` p50 on a loaded knowledge base of that process, against the same knowledge base alone in a
   process of its own (a second process, same messages, interleaved runs of each message), as a ratio.

How the knowledge bases are made: DISTINCT knowledge bases of ~100 sections (10 articles of 10 sections,
`synthetic.write_kb` with seeds 0..DISTINCT-1: distinct text, so distinct vectors) are built with the real
models, each from scratch in a new folder with one model store (`Settings.model_store`): the first exports
the ONNX model into the store, each next one links that export instead of exporting again; the build times
of the first (cold store) and of the others (warm store) are printed. Building 1,000
distinct ones would take hours on 2 shared cores, so the TOTAL index folders are replicas: folder i is a
hard-linked copy of distinct knowledge base i % DISTINCT (its own folder, manifest and feedback database;
the data files share inodes with the original, as the model files of every index share the store's). Each
replica is loaded as its own knowledge base: its own arrays in memory, its own feedback store.

    .venv/bin/python benchmarks/bench_fleet.py [--distinct 10] [--total 1000] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import write_kb

from kbsuggest import KnowledgeBase, Settings
from kbsuggest.registry import Registry

MESSAGES = [
    "when is my refund issued?",
    "does the warranty cover defects on the jacket?",
    "how long until the parcel arrives?",
    "can I use a coupon on an order over $49?",
    "where is my invoice?",
    "我的退款什么时候到账？",
]
WARM_RUNS = 30
"""Suggestions per message for the warm p50 (after one discarded)."""


def build(root: Path, distinct: int, total: int, store: Path) -> Path:
    """`total` index folders in `root/kbs` (see the module docstring); returns that folder."""
    settings = Settings(model_store=store)
    built = root / "built"
    for i in range(distinct):
        articles = write_kb(root / "articles" / f"d{i}", sections=100, per_article=10, seed=i)
        started = time.perf_counter()
        KnowledgeBase.build(articles, built / f"d{i}", settings=settings)
        state = "warm" if i else "cold"
        print(
            f"built distinct knowledge base {i + 1}/{distinct} in a new folder, {state} model store: "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
    kbs = root / "kbs"
    for i in range(total):
        _link_copy(built / f"d{i % distinct}", kbs / f"kb-{i:04}")
    return kbs


def _link_copy(source: Path, target: Path) -> None:
    """`target` with a hard link of each index file of `source` (not its feedback database or lock)."""
    target.mkdir(parents=True)
    for path in source.iterdir():
        if path.is_file() and not path.name.startswith((".", "feedback.sqlite")):
            os.link(path, target / path.name)


def status() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in kB."""
    text = Path("/proc/self/status").read_text()
    return {key: int(value) for key, value in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M)}


def warm_p50(kb: KnowledgeBase) -> float:
    times = []
    for message in MESSAGES:
        kb.suggest(message)
        for _ in range(WARM_RUNS):
            started = time.perf_counter()
            kb.suggest(message)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure_single(kbs: Path) -> dict[str, float]:
    kb = KnowledgeBase.load(kbs / "kb-0000")
    return {"warm_p50": warm_p50(kb), "rss_kb": status()["VmRSS"]}


def measure_fleet(kbs: Path) -> dict[str, object]:
    registry = Registry.from_folder(kbs)
    names = list(registry.names)
    started = time.perf_counter()
    registry.get(names[0]).suggest(MESSAGES[0])  # loads the models: every later knowledge base is cold, not the process
    first_process = time.perf_counter() - started
    after_first = status()["VmRSS"]
    order = names[1:]
    random.Random(0).shuffle(order)
    cold, estimates = [], []
    for i, name in enumerate(order):
        started = time.perf_counter()
        kb = registry.get(name)
        kb.suggest(MESSAGES[i % len(MESSAGES)])
        cold.append(time.perf_counter() - started)
        estimates.append(kb.memory_bytes())
    after_all = status()
    loaded = len(registry.loaded())
    warm = warm_p50(registry.get(names[0]))
    quantiles = statistics.quantiles(cold, n=20)
    return {
        "knowledge_bases": len(names),
        "loaded_at_end": loaded,
        "first_answer_of_the_process_s": first_process,
        "cold_p50": statistics.median(cold),
        "cold_p95": quantiles[18],
        "cold_max": max(cold),
        "rss_kb": after_all["VmRSS"],
        "peak_rss_kb": after_all["VmHWM"],
        "rss_after_first_kb": after_first,
        "estimate_mean_bytes": statistics.mean(estimates),
        "estimated_loaded_bytes": registry.memory_bytes(),
        "warm_p50": warm,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--distinct", type=int, default=10, help="distinct knowledge bases built (default 10)")
    parser.add_argument("--total", type=int, default=1000, help="knowledge bases served (default 1000)")
    parser.add_argument("--work", type=Path, help="where to build (default: a temp folder, removed after)")
    parser.add_argument("--measure", choices=["single", "fleet"], help=argparse.SUPPRESS)
    parser.add_argument("--kbs", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        result = measure_single(args.kbs) if args.measure == "single" else measure_fleet(args.kbs)
        print(json.dumps(result))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    try:
        kbs = work / "kbs"
        if not kbs.is_dir():
            kbs = build(work, args.distinct, args.total, work / "model-store")
        disk = sum(p.stat().st_size for p in (work / "model-store").iterdir())
        print(f"{args.total} index folders from {args.distinct} distinct; model store {disk / 1e6:.0f} MB on disk")
        single = _run("single", kbs)
        fleet = _run("fleet", kbs)
        print(json.dumps({"single": single, "fleet": fleet}, indent=1))
        print(
            f"knowledge bases served by one process: {fleet['knowledge_bases']} ({fleet['loaded_at_end']} loaded "
            f"at the end, budget 1024 MiB; estimated {fleet['estimated_loaded_bytes'] / 2**20:.0f} MiB)"
        )
        print(
            f"RSS after every one answered: {fleet['rss_kb'] / 1024:.0f} MiB (peak {fleet['peak_rss_kb'] / 1024:.0f} "
            f"MiB; after the first: {fleet['rss_after_first_kb'] / 1024:.0f} MiB)"
        )
        print(
            f"first answer from a cold knowledge base: p50 {fleet['cold_p50'] * 1000:.0f} ms, p95 "
            f"{fleet['cold_p95'] * 1000:.0f} ms, max {fleet['cold_max'] * 1000:.0f} ms "
            f"(the process's first answer, models loading: {fleet['first_answer_of_the_process_s']:.1f} s)"
        )
        print(
            f"warm suggest p50: {fleet['warm_p50'] * 1000:.1f} ms served among {fleet['knowledge_bases']}, "
            f"{single['warm_p50'] * 1000:.1f} ms alone: ratio {fleet['warm_p50'] / single['warm_p50']:.2f}"
        )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


def _run(what: str, kbs: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--measure", what, "--kbs", str(kbs)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"measuring {what} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
