"""Answer quality on the shared eval sets and the demo dev set: kbsuggest beside simple baselines,
all measured in this run through the same index.

    .venv/bin/python benchmarks/bench_quality.py [--shared ../shared/eval]

Baselines: one signal alone, without example phrasings, through the same sections, views and per-article
aggregation (BM25; the default dense model all-MiniLM-L6-v2 as a pooled cosine, without token-level MaxSim;
USE multilingual), and naive reciprocal-rank fusion of BM25 and that dense baseline.

Sets: the shared dev sets, the shared real sets (tweets to retailers, JD.com chats: never used to fit anything but the
fusion weights, where each real set was the held-out fold of the other, see benchmarks/fit_fusion.py),
benchmarks/data/real_more_* (fitted on by fit_fusion.py and fit_confidence.py: in sample for ours),
benchmarks/data/real_more_zh_pass2.jsonl (more turns of the same Taobao chats, fitted on by nothing: held out, but
from the same shops as real_more_zh), the demo store's dev set and the draft label sets over the demo store (their
`expected` sections; both with validity checked on 2026-12-01, the day they were labelled on).

Columns: accuracy@1, recall@3 and MRR are article-level on answerable messages. "oos escalated": out-of-scope
messages handed to a person for any reason; "no_answer": answerable messages handed over as no_answer;
"wrong, kept": answerable messages whose first answer is wrong and that were not handed over; "ECE": expected
calibration error (5 equal-width bins) of `confidence` against "the first answer is right" (out-of-scope
messages count as not right). "section acc@1": the first answer is an expected section (sets whose labels name
sections: the demo store's dev set and draft labels).
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

from kbsuggest import KnowledgeBase
from kbsuggest.config import Settings
from kbsuggest.encoders.base import PooledOnly
from kbsuggest.evaluation import DEPTH, EvalReport, LabelledQuery, read_queries, score
from kbsuggest.retrieval.examples import DEFAULT_EXAMPLE_WEIGHTS, ExampleWeights
from kbsuggest.retrieval.fusion import DEFAULT_WEIGHTS, FusionWeights
from kbsuggest.retrieval.models import Filters

ROOT = Path(__file__).resolve().parents[1]
K = 3
LABELLED_ON = Filters(today=date(2026, 12, 1))
"""The demo store's sets were labelled on this day: promotions valid then are expected, ended ones are not."""


def alone(signal: str) -> FusionWeights:
    return FusionWeights(en={signal: 1.0}, zh={signal: 1.0}, stage={})


BASELINES = {
    "BM25": alone("bm25"),
    "dense (MiniLM, pooled)": alone("dense"),
    "multilingual (USE)": alone("multilingual"),
}


def articles_ranked(kb: KnowledgeBase, messages: list[str], filters: Filters | None) -> list[list[str]]:
    return [[a.article_id for a in answers] for answers in kb.search_many(messages, k=DEPTH, filters=filters)]


def rrf_metrics(queries: list[LabelledQuery], rankings: list[list[list[str]]]) -> tuple[float, float, float]:
    hits, recall, mrr, n = 0, 0, 0.0, 0
    for i, q in enumerate(queries):
        if not q.expected:
            continue
        expected = {e.split("#", 1)[0] for e in q.expected}
        fused: dict[str, float] = {}
        for ranking in rankings:
            for position, article in enumerate(ranking[i]):
                fused[article] = fused.get(article, 0.0) + 1 / (60 + position + 1)
        order = sorted(fused, key=lambda a: -fused[a])
        rank = next((j + 1 for j, a in enumerate(order) if a in expected), None)
        n += 1
        hits += rank == 1
        recall += rank is not None and rank <= K
        mrr += 1 / rank if rank else 0.0
    return hits / n, recall / n, mrr / n


def hand_over(report: EvalReport) -> tuple[float, float, float, float]:
    """Out of scope escalated (any reason), answerable handed over as no_answer, answerable wrong and kept, ECE."""
    results = report.results
    oos = [r for r in results if not r.expected]
    scoped = [r for r in results if r.expected]
    bins: dict[int, list[tuple[float, bool]]] = {}
    for r in results:
        bins.setdefault(min(int(r.confidence * 5), 4), []).append((r.confidence, r.rank == 1))
    ece = sum(abs(sum(c for c, _ in b) - sum(right for _, right in b)) for b in bins.values()) / len(results)
    return (
        sum(r.escalated for r in oos) / max(1, len(oos)),
        sum(r.escalated_no_answer for r in scoped) / len(scoped),
        sum(not r.escalated and r.rank != 1 for r in scoped) / len(scoped),
        ece,
    )


def evaluate(name: str, articles: Path, queries_path: Path, index: Path, filters: Filters | None = None) -> None:
    queries = read_queries(queries_path)
    encoders = Settings().encoders()
    KnowledgeBase.build(articles, index, encoders=encoders)
    messages = [q.query for q in queries]
    print(f"\n## {name}: {len(queries)} messages ({sum(1 for q in queries if not q.expected)} out of scope)")
    print("| method | acc@1 | section acc@1 | recall@3 | MRR | oos escalated | no_answer | wrong, kept | ECE |")
    print("|---|---|---|---|---|---|---|---|---|")
    rankings = {}
    pooled = {**encoders, "dense": PooledOnly(encoders["dense"])}
    for label, weights in {**BASELINES, "**kbsuggest**": DEFAULT_WEIGHTS}.items():
        ours = label.startswith("**")
        kb = KnowledgeBase.load(
            index,
            encoders=encoders if ours else pooled,
            weights=weights,
            example_weights=DEFAULT_EXAMPLE_WEIGHTS if ours else ExampleWeights(en=0.0, zh=0.0),
            feedback=False,
        )
        report = score(queries, kb.suggest_many(messages, k=DEPTH, filters=filters), K)
        rankings[label] = articles_ranked(kb, messages, filters)
        section = "" if report.section_accuracy_at_1 is None else f"{report.section_accuracy_at_1:.3f}"
        print(
            f"| {label} | {report.accuracy_at_1:.3f} | {section} | {report.recall_at_k:.3f} | {report.mrr:.3f} | "
            + " | ".join(f"{v:.3f}" for v in hand_over(report))
            + " |"
        )
    acc, rec, mrr = rrf_metrics(queries, [rankings["BM25"], rankings["dense (MiniLM, pooled)"]])
    print(f"| naive RRF (BM25 + MiniLM) | {acc:.3f} | | {rec:.3f} | {mrr:.3f} | | | | |")
    print(f"\nreliability of `confidence` (kbsuggest, {name}): P(first answer right) vs observed")
    print("| confidence | messages | mean confidence | observed accuracy@1 |")
    print("|---|---|---|---|")
    for low in np.arange(0.0, 1.0, 0.2):
        members = [r for r in report.results if low <= r.confidence < low + 0.2 or (low >= 0.8 and r.confidence == 1.0)]
        if members:
            mean = sum(r.confidence for r in members) / len(members)
            observed = sum(r.rank == 1 for r in members) / len(members)
            print(f"| {low:.1f}-{low + 0.2:.1f} | {len(members)} | {mean:.2f} | {observed:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "eval")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        more = ROOT / "benchmarks" / "data"
        for name, kb, queries in (
            ("shared English dev (helpcenter)", "helpcenter", args.shared / "helpcenter" / "queries_dev.jsonl"),
            ("shared Chinese (helpcenter-zh)", "helpcenter-zh", args.shared / "helpcenter-zh" / "queries.jsonl"),
            ("real tweets to retailers (shared real, en)", "helpcenter", args.shared / "real" / "queries_en.jsonl"),
            ("real JD.com chats (shared real, zh)", "helpcenter-zh", args.shared / "real" / "queries_zh.jsonl"),
            ("real Amazon product questions (real_more_en)", "helpcenter", more / "real_more_en.jsonl"),
            ("real Taobao chats (real_more_zh)", "helpcenter-zh", more / "real_more_zh.jsonl"),
            ("real Taobao chats, second pass (real_more_zh_pass2)", "helpcenter-zh", more / "real_more_zh_pass2.jsonl"),
        ):
            evaluate(name, args.shared / kb / "articles", queries, Path(tmp) / kb)
        for name, queries in (
            ("demo store dev set (articles/)", ROOT / "tests/data/demo_queries.jsonl"),
            ("demo store draft labels, English (drafts_en)", more / "drafts_en.jsonl"),
            ("demo store draft labels, Chinese (drafts_zh)", more / "drafts_zh.jsonl"),
        ):
            evaluate(name, ROOT / "articles", queries, Path(tmp) / "demo", LABELLED_ON)


if __name__ == "__main__":
    main()
