"""PII redaction: precision / recall / F1 per kind on tests/data/pii_cases.jsonl (exact span match, order numbers
masked so they are scored too), and throughput beside a naive baseline (one email regex through `re.sub`).

    .venv/bin/python benchmarks/bench_redact.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from kbsuggest.privacy import redact
from kbsuggest.privacy.quality import KindCounts, LabelledText, read_labelled, span_counts
from kbsuggest.privacy.redact import _spans

CASES = Path(__file__).resolve().parent.parent / "tests" / "data" / "pii_cases.jsonl"
KINDS = ("card", "id_number", "email", "phone", "iban", "order")
NAIVE_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def quality(rows: list[LabelledText]) -> list[str]:
    counts = span_counts(rows)
    lines = ["| kind | labelled | TP | FP | FN | precision | recall | F1 |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in KINDS:
        c = counts.get(kind, KindCounts(true_positives=0, false_positives=0, false_negatives=0))
        p, r = c.precision, c.recall
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        lines.append(
            f"| {kind} | {c.true_positives + c.false_negatives} | {c.true_positives} | {c.false_positives} "
            f"| {c.false_negatives} | {p:.3f} | {r:.3f} | {f1:.3f} |"
        )
    return lines


def messages_per_second(texts: list[str], repeat: int, redactor: object) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        _spans.cache_clear()  # every pass redacts from scratch, as for a new message
        for text in texts:
            redactor(text)  # type: ignore[operator]
    return repeat * len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="passes over the cases for throughput")
    args = parser.parse_args()
    rows = read_labelled(CASES)
    texts = [row.text for row in rows]
    print(f"{len(rows)} messages, {sum(len(row.spans) for row in rows)} labelled spans\n")
    print("\n".join(quality(rows)))
    ours = messages_per_second(texts, args.repeat, redact)
    naive = messages_per_second(texts, args.repeat, lambda text: NAIVE_EMAIL.sub("[EMAIL]", text))
    print("\n| redactor | messages/s |\n|---|---:|")
    print(f"| kbsuggest.privacy.redact | {ours:,.0f} |")
    print(f"| naive re.sub(email regex) | {naive:,.0f} |")


if __name__ == "__main__":
    main()
