"""Multi-turn messages: kbsuggest with the history beside two baselines measured in the same run, per kind and
language, on the conversation dev sets (benchmarks/data/conversations_*.jsonl).

    .venv/bin/python benchmarks/bench_conversations.py [--shared ../shared/eval] [--index-dir DIR]

Baselines: the latest message alone (no history), and the whole history pasted in front of the message as one
query. The rules' probability thresholds (kbsuggest/conversation.py) are fitted on the help-center files and
checked on the demo-store files by benchmarks/fit_conversations.py (the demo files' failures were read while
writing the cue lists, so they are not a clean held-out set). `Filters(today=2026-12-01)`: some labels are dated
promotions.
accuracy@1 is over the lines with expected articles; "esc" counts any escalation reason; the last column counts
the labelled slot values (customer name, order number) that appear in the drafts (the phrases use the order number
only when handing off, so not every value has a place in its draft).
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

from kbsuggest import KnowledgeBase
from kbsuggest.config import Settings
from kbsuggest.evaluation import DEPTH, LabelledQuery, read_queries, score
from kbsuggest.kb import MAX_MESSAGE_CHARS
from kbsuggest.reply.models import Suggestion
from kbsuggest.retrieval.models import Filters

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
K = 3
TODAY = Filters(today=date(2026, 12, 1))
KINDS = ("follow_up", "clarification_answer", "topic_shift", "standalone", "unresolved", "out_of_scope")


def kind_cell(kind: str, accuracy: float | None, escalated: float) -> str:
    """One kind's table cell: how often it was escalated, and for the kinds with expected articles accuracy@1."""
    if kind == "out_of_scope":
        return f"esc {escalated:.2f}"
    if kind == "unresolved":
        return f"esc {escalated:.2f} (acc {accuracy:.2f})"
    return f"{accuracy:.2f} (esc {escalated:.2f})"


def pasted(q: LabelledQuery) -> str:
    """The whole conversation as one query, the latest message last, cut to the message limit from the front."""
    return " ".join([*(t.text for t in q.history), q.query])[-MAX_MESSAGE_CHARS:]


def slots_filled(queries: Sequence[LabelledQuery], suggestions: Sequence[Suggestion]) -> tuple[int, int]:
    """Labelled slot values (customer name, order number given earlier) found in the drafts, and how many there are.
    The phrases use the order number only when handing off, so not every value has a place in its draft."""
    found = total = 0
    for q, s in zip(queries, suggestions, strict=True):
        slots = (q.model_extra or {}).get("slots") or {}
        total += len(slots)
        found += sum(value in s.drafts[0].text for value in slots.values())
    return found, total


def evaluate(name: str, kb: KnowledgeBase, path: Path) -> None:
    queries = read_queries(path)
    runs = {
        "message alone": kb.suggest_many([q.query for q in queries], k=DEPTH, filters=TODAY),
        "history pasted in": kb.suggest_many([pasted(q) for q in queries], k=DEPTH, filters=TODAY),
        "**kbsuggest, history**": kb.suggest_many(
            [q.query for q in queries], k=DEPTH, filters=TODAY, histories=[q.history for q in queries]
        ),
    }
    print(f"\n## {name}: {len(queries)} conversations ({path.name})")
    print(
        "| method | "
        + " | ".join(f"{k} (n={sum(q.kind == k for q in queries)})" for k in KINDS)
        + " | slot values in draft |"
    )
    print("|---|" + "---|" * (len(KINDS) + 1))
    for label, suggestions in runs.items():
        report = score(queries, suggestions, K)
        cells = [
            kind_cell(kind, report.per_kind[kind].accuracy_at_1, report.per_kind[kind].escalated) for kind in KINDS
        ]
        found, total = slots_filled(queries, suggestions)
        print(f"| {label} | " + " | ".join(cells) + f" | {found}/{total} |")
    ours = runs["**kbsuggest, history**"]
    decided = [(q.kind, s.conversation.kind if s.conversation else None) for q, s in zip(queries, ours, strict=True)]
    print(
        "\ndecided kind per labelled kind: "
        + "; ".join(
            f"{kind}: "
            + ", ".join(
                f"{d} {sum(1 for k, x in decided if k == kind and x == d)}"
                for d in dict.fromkeys(x for k, x in decided if k == kind)
            )
            for kind in KINDS
        )
    )


def add_index_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--index-dir", type=Path, default=None, help="keep (and reuse) the built indexes here")
    parser.add_argument("--no-build", action="store_true", help="load the indexes in --index-dir as they are")


def conversation_sets(shared: Path, root: Path, build: bool) -> Iterator[tuple[str, KnowledgeBase, Path]]:
    """Each conversation file with its name and knowledge base, built in `root` (unless `build` is False)."""
    sets = [
        ("help center, English", shared / "helpcenter" / "articles", "hc_en", "helpcenter_en"),
        ("help center, Chinese", shared / "helpcenter-zh" / "articles", "hc_zh", "helpcenter_zh"),
        ("demo store, English", ROOT / "articles", "demo", "demo_en"),
        ("demo store, Chinese", ROOT / "articles", "demo", "demo_zh"),
    ]
    encoders = Settings().encoders()
    built: dict[str, KnowledgeBase] = {}
    for name, articles, index, data in sets:
        if index not in built:
            if build:
                KnowledgeBase.build(articles, root / index, encoders=encoders)
            built[index] = KnowledgeBase.load(root / index, encoders=encoders, feedback=False)
        yield name, built[index], DATA / f"conversations_{data}.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser()
    add_index_options(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, kb, path in conversation_sets(args.shared, args.index_dir or Path(tmp), not args.no_build):
            evaluate(name, kb, path)


if __name__ == "__main__":
    main()
