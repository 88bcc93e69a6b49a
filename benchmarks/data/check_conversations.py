"""Check the conversation dev sets in benchmarks/data/ against their articles; print counts per kind.

Every line must have the conversation shape, name only article ids that exist in its knowledge base, escalate
exactly for the escalate kinds, and name slot values that appear in an earlier turn. Exits 1 on any problem.

    python benchmarks/data/check_conversations.py
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from kbsuggest.articles.load import load_articles

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "benchmarks" / "data"
SETS = {
    "conversations_helpcenter_en.jsonl": ROOT.parent / "shared/eval/helpcenter/articles",
    "conversations_helpcenter_zh.jsonl": ROOT.parent / "shared/eval/helpcenter-zh/articles",
    "conversations_demo_en.jsonl": ROOT / "articles/en",
    "conversations_demo_zh.jsonl": ROOT / "articles/zh-CN",
}
KINDS = ("follow_up", "clarification_answer", "topic_shift", "standalone", "unresolved", "out_of_scope")
ESCALATE_KINDS = ("unresolved", "out_of_scope")
FIELDS = {"history", "query", "expected", "escalate", "kind", "slots"}


def problems(row: dict[str, object], ids: set[str]) -> list[str]:
    """What is wrong with one conversation line (empty when nothing is)."""
    found = [f"unknown field {name!r}" for name in sorted(set(row) - FIELDS)]
    kind, expected, history = row.get("kind"), row.get("expected"), row.get("history")
    if kind not in KINDS:
        found.append(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if not isinstance(row.get("query"), str) or not row["query"]:
        found.append("query must be a non-empty string")
    if not isinstance(expected, list):
        return [*found, "expected must be a list of article ids"]
    found += [f"article id {e!r} does not exist" for e in expected if e not in ids]
    if (expected == []) != (kind == "out_of_scope"):
        found.append("expected is [] exactly for out_of_scope")
    if row.get("escalate") != (kind in ESCALATE_KINDS):
        found.append(f"escalate must be {kind in ESCALATE_KINDS} for {kind}")
    if not isinstance(history, list) or not 2 <= len(history) <= 6:
        return [*found, "history must hold 1-3 exchanges (2-6 turns)"]
    roles = [turn.get("role") for turn in history]
    if roles != ["customer", "agent"] * (len(history) // 2) or len(history) % 2:
        found.append(f"history roles must alternate customer, agent: {roles}")
    text = " ".join(str(turn.get("text", "")) for turn in history)
    slots = row.get("slots", {})
    if isinstance(slots, dict):
        found += [f"slot {k}={v!r} does not appear in the history" for k, v in slots.items() if str(v) not in text]
    return found


def main() -> int:
    failed = False
    for name, articles in SETS.items():
        if not articles.is_dir():
            print(f"{name}: skipped, its articles folder {articles} is absent")
            continue
        ids = {article.meta.id for article in load_articles(articles)}
        rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line]
        for number, row in enumerate(rows, start=1):
            for problem in problems(row, ids):
                failed = True
                print(f"{name}:{number}: {problem}")
        kinds = Counter(row.get("kind") for row in rows)
        unused = sorted(ids - {e for row in rows for e in row.get("expected", [])})
        print(f"{name}: {len(rows)} conversations; " + ", ".join(f"{k} {kinds[k]}" for k in KINDS))
        if unused:
            print(f"  articles never expected: {', '.join(unused)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
