"""PII redaction: precision / recall / F1 per kind on tests/data/pii_cases.jsonl (exact span match, order numbers
masked so they are scored too), and throughput beside a naive baseline (one email regex through `re.sub`).

    .venv/bin/python benchmarks/bench_redact.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from pathlib import Path

from kbsuggest.privacy import find_pii, redact

CASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii_cases.jsonl"
KINDS = ("card", "id_number", "email", "phone", "iban", "order")
NAIVE_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def gold_spans(row: dict[str, object]) -> set[tuple[str, int, int]]:
    """(kind, start, end) of each labelled value, found left to right in the text."""
    text = str(row["text"])
    gold: set[tuple[str, int, int]] = set()
    cursor: dict[str, int] = {}
    for span in row["spans"]:  # type: ignore[attr-defined]
        start = text.index(span["value"], cursor.get(span["value"], 0))
        cursor[span["value"]] = start + 1
        gold.add((span["kind"], start, start + len(span["value"])))
    return gold


def quality(rows: list[dict[str, object]]) -> list[str]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for row in rows:
        gold = gold_spans(row)
        found = {(s.kind, s.start, s.end) for s in find_pii(str(row["text"]), keep_order_numbers=False).spans}
        tp.update(kind for kind, _, _ in gold & found)
        fp.update(kind for kind, _, _ in found - gold)
        fn.update(kind for kind, _, _ in gold - found)
    lines = ["| kind | labelled | TP | FP | FN | precision | recall | F1 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in KINDS:
        precision = tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else 1.0
        recall = tp[kind] / (tp[kind] + fn[kind]) if tp[kind] + fn[kind] else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        lines.append(
            f"| {kind} | {tp[kind] + fn[kind]} | {tp[kind]} | {fp[kind]} | {fn[kind]} "
            f"| {precision:.3f} | {recall:.3f} | {f1:.3f} |"
        )
    return lines


def messages_per_second(texts: list[str], repeat: int, redactor: object) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        for text in texts:
            redactor(text)  # type: ignore[operator]
    return repeat * len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="passes over the cases for throughput")
    args = parser.parse_args()
    rows = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [str(row["text"]) for row in rows]
    print(f"{len(rows)} messages, {sum(len(row['spans']) for row in rows)} labelled spans\n")
    print("\n".join(quality(rows)))
    ours = messages_per_second(texts, args.repeat, redact)
    naive = messages_per_second(texts, args.repeat, lambda text: NAIVE_EMAIL.sub("[EMAIL]", text))
    print("\n| redactor | messages/s |\n|---|---:|")
    print(f"| kbsuggest.privacy.redact | {ours:,.0f} |")
    print(f"| naive re.sub(email regex) | {naive:,.0f} |")


if __name__ == "__main__":
    main()
