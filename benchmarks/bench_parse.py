"""Parse time of one large article against its size: linear parsing keeps seconds per MB flat.

Each section: a heading, a paragraph, a list, and a tiny sub-section that joins it. Prints the best of
--repeat parses per size and its ratio to the smallest size's time, beside the ratio of the sizes.

    .venv/bin/python benchmarks/bench_parse.py [--sizes 0.5,1,2,4,8] [--repeat 1]
"""

from __future__ import annotations

import argparse
import random
import time

from synthetic import sentence

from kbsuggest.articles.parse import parse_article


def article(megabytes: float, seed: int = 0) -> str:
    rng = random.Random(seed)
    parts = ["# Help centre\n\n"]
    size, i = len(parts[0]), 0
    while size < megabytes * 1_000_000:
        part = (
            f"## Question {i}\n\n{sentence(rng)} {sentence(rng)}\n\n- {sentence(rng)}\n- {sentence(rng)}\n\n"
            f"### Note {i}\n\nSee above.\n\n"
        )
        parts.append(part)
        size, i = size + len(part.encode("utf-8")), i + 1
    return "".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0.5,1,2,4,8", help="article sizes in MB, comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="parses per size; the best is kept")
    args = parser.parse_args()
    sizes = [float(s) for s in args.sizes.split(",")]
    print("| size | sections | parse | s per MB | size ratio | time ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    first: float | None = None
    for megabytes in sizes:
        source = article(megabytes)
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            parsed = parse_article(source, "big.md", default_id="big", default_locale="en")
            best = min(best, time.perf_counter() - started)
        first = first or best
        print(
            f"| {megabytes:g} MB | {len(parsed.sections):,} | {best:.2f} s | {best / megabytes:.2f} "
            f"| {megabytes / sizes[0]:.0f}x | {best / first:.1f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
