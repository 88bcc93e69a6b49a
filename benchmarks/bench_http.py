"""`POST /v1/suggest` over loopback (uvicorn in a subprocess, httpx clients in threads) beside in-process
`suggest` in the same run, on the synthetic knowledge base of bench_latency.py.

    .venv/bin/python benchmarks/bench_http.py --workdir /tmp/kb10k [--clients 4] [--requests 400]

Run bench_latency.py --workdir first to build the index (or let this script build it).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from synthetic import write_kb

from kbsuggest import KnowledgeBase

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ms(values: list[float]) -> str:
    return f"p50 {np.percentile(values, 50):.1f} ms, p95 {np.percentile(values, 95):.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, help="where bench_latency.py built (or should build) the index")
    parser.add_argument("--sections", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    lines = (ROOT / "tests/data/demo_queries.jsonl").read_text(encoding="utf-8").splitlines()
    messages = [json.loads(line)["query"] for line in lines]
    with tempfile.TemporaryDirectory() as temporary:
        work = args.workdir or Path(temporary)
        index = work / "index"
        if not (index / "manifest.json").exists():
            root = write_kb(work / "articles", args.sections - 200, sentences=2)
            for source in (ROOT / "articles").rglob("*.md"):
                if source.name != "README.md":
                    (root / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
            KnowledgeBase.build(root, index, progress=True)
        kb = KnowledgeBase.load(index)  # logs suggestions to feedback.sqlite, as the service does
        for message in messages[:20]:
            kb.suggest(message)
        in_process = []
        for message in messages[:200]:
            started = time.perf_counter()
            kb.suggest(message)
            in_process.append((time.perf_counter() - started) * 1000)
        del kb

        port = free_port()
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        server = subprocess.Popen(
            [sys.executable, "-m", "kbsuggest.cli", "serve", "--index", str(index), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            with httpx.Client(base_url=url, timeout=30) as client:
                for message in messages[:20]:
                    client.post("/v1/suggest", json={"message": message})
                sequential = []
                for message in messages[:200]:
                    started = time.perf_counter()
                    client.post("/v1/suggest", json={"message": message}).raise_for_status()
                    sequential.append((time.perf_counter() - started) * 1000)
            loaded: list[float] = []
            failures = [0]
            lock = threading.Lock()

            def worker(offset: int) -> None:
                with httpx.Client(base_url=url, timeout=30) as c:
                    for i in range(offset, args.requests, args.clients):
                        started = time.perf_counter()
                        ok = c.post("/v1/suggest", json={"message": messages[i % len(messages)]}).status_code == 200
                        with lock:
                            loaded.append((time.perf_counter() - started) * 1000)
                            failures[0] += not ok

            started = time.perf_counter()
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait()
    overhead = np.percentile(sequential, 50) - np.percentile(in_process, 50)
    print(f"index: {index}, 200 messages one at a time, then {args.requests} from {args.clients} clients")
    print(f"in-process suggest:          {ms(in_process)}")
    print(f"HTTP /v1/suggest, 1 client:  {ms(sequential)}  (overhead at p50: {overhead:.1f} ms)")
    print(
        f"HTTP /v1/suggest, {args.clients} clients: {ms(loaded)}; {len(loaded) / elapsed:.1f} requests/s, "
        f"{failures[0]} failed"
    )


if __name__ == "__main__":
    main()
