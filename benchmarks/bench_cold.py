"""One-shot CLI answers in a new process (`kbsuggest search` / `suggest`), wall time median of 5, with the
fast query path (the index's ONNX export) beside the sentence-transformers reference
(KBSUGGEST_FAST_QUERIES=0) in the same run; also checks both print the same answers.

    .venv/bin/python benchmarks/bench_cold.py [--index DIR]   # default: builds articles/ into a temp folder
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kbsuggest import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]
KBSUGGEST = str(Path(sys.executable).with_name("kbsuggest"))
MESSAGES = {"en": "where is my parcel? ordered 10 days ago", "zh": "我的退款怎么还没到账？"}
RUNS = 5


def one_shot(command: str, message: str, index: Path, fast: bool) -> tuple[float, list[tuple[str, float]]]:
    """Wall seconds of one `kbsuggest COMMAND MESSAGE --json` process, and its (section, score) answers."""
    env = {**os.environ, "KBSUGGEST_FAST_QUERIES": "1" if fast else "0"}
    started = time.perf_counter()
    done = subprocess.run(
        [KBSUGGEST, command, message, "--index", str(index), "--json"], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"kbsuggest {command} failed: {done.stderr}")
    output = json.loads(done.stdout)
    answers = output if command == "search" else output["answers"]
    return seconds, [(a["section_id"], round(a["score"], 3)) for a in answers]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, help="a built index (default: build articles/ into a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index or Path(tmp) / "index"
        if args.index is None:
            KnowledgeBase.build(ROOT / "articles", index)
        print(f"one-shot CLI, wall seconds, median of {RUNS} (first of each discarded as a page-cache warm-up)")
        print(f"{'command':8} {'lang':4} {'fast path':>10} {'reference':>10}  same answers")
        for command in ("search", "suggest"):
            for language, message in MESSAGES.items():
                runs: dict[bool, list[float]] = {True: [], False: []}
                answers: dict[bool, list[tuple[str, float]]] = {}
                for fast in (True, False):
                    one_shot(command, message, index, fast)
                for _ in range(RUNS):  # interleaved, so both paths see the same machine load
                    for fast in (True, False):
                        seconds, answers[fast] = one_shot(command, message, index, fast)
                        runs[fast].append(seconds)
                fast_s, reference_s = statistics.median(runs[True]), statistics.median(runs[False])
                same = answers[True] == answers[False]
                print(f"{command:8} {language:4} {fast_s:>9.2f}s {reference_s:>9.2f}s  {same}")


if __name__ == "__main__":
    main()
