"""Reply drafts against the labelled draft sets (benchmarks/data/drafts_{en,zh}.jsonl, written alongside the
situation rules, and drafts_heldout_{en,zh}.jsonl, written before the issue-16 date/state/cell rules and never
read while writing them): must-recall, the share of drafts stating a must-not fact, and traceability (every
draft sentence a filled template phrase or a sentence or rendered row of a cited section), per language and per
situation tag, with the real models. `--failures` prints every miss and violation with the cited sections; a
missing fact is a composition miss when a cited section states it (the composer left it out), else a
section miss (retrieval cited another section).

    PYTHONPATH=. .venv/bin/python benchmarks/bench_drafts.py [--index DIR]

Labels depend on the day: suggestions are filtered with Filters(today=2026-12-01).

Before issue 16 (commit c21cbe8, the best section's top three sentences verbatim; measured 2026-12-01):
en must-recall 0.478, must-not violated 9.0%; zh 0.585, 10.8%. Figures now: README, "Reply drafts".
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from datetime import date
from pathlib import Path

from kbsuggest import KnowledgeBase
from kbsuggest.articles.templates import load_templates
from kbsuggest.evaluation import read_drafts, score_drafts, states
from kbsuggest.reply.trace import untraced
from kbsuggest.retrieval.models import Filters

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).with_name("data")
TODAY = date(2026, 12, 1)


def run(kb: KnowledgeBase, name: str, language: str, failures: bool) -> None:
    labels = read_drafts(DATA / f"{name}_{language}.jsonl")
    suggestions = kb.suggest_many([label.query for label in labels], filters=Filters(today=TODAY))
    report = score_drafts(labels, [s.drafts[0].text for s in suggestions])
    sections = {s.id: s.text for s in kb.sections}
    templates = load_templates(ROOT / "articles")[language]
    traced = [not untraced(s.drafts[0], templates, sections) for s in suggestions]
    print(f"\n## {name}_{language}: {report.drafts} messages")
    print("| situation | lines | must-recall | must-not violated |")
    print("|---|---:|---:|---:|")
    groups = defaultdict(list)
    for label, result in zip(labels, report.results, strict=True):
        groups[result.situation].append((label, result))
    for tag, rows in sorted(groups.items(), key=lambda item: -len(item[1])):
        must = sum(len(label.must) for label, _ in rows)
        met = sum(r.met for _, r in rows)
        bad = sum(bool(r.violated) for _, r in rows)
        print(f"| {tag} | {len(rows)} | {met / must if must else 1:.2f} | {bad / len(rows):.1%} |")
    print(f"| **all** | {report.drafts} | **{report.must_recall:.3f}** | **{report.must_not_rate:.1%}** |")
    print(f"\ndrafts whose every paragraph is traceable: {sum(traced)}/{len(traced)}")
    for s, ok in zip(suggestions, traced, strict=True):
        if not ok:
            print(f"  untraceable: {untraced(s.drafts[0], templates, sections)}")
    kinds: dict[str, int] = defaultdict(int)
    for label, r, s in zip(labels, report.results, suggestions, strict=True):
        cited_text = " ".join(sections.get(c, "") for c in s.drafts[0].citations)
        composed = [m for m in r.missing if states(cited_text, m)]
        kinds["composition"] += len(composed)
        kinds["section"] += len(r.missing) - len(composed)
        kinds["violations"] += bool(r.violated)
        if failures and (r.missing or r.violated):
            cited = ", ".join(s.drafts[0].citations) or "nothing"
            kind = "composition" if composed else "section" if r.missing else "violation"
            print(f"\n- [{kind}] {r.query!r} [{r.situation}] missing {list(r.missing)} said {list(r.violated)}")
            print(f"  expected {', '.join(label.expected)}; cited {cited}\n{r.draft}")
    print(
        f"missing facts: {kinds['composition']} stated by a cited section (composition), {kinds['section']} not "
        f"(section); drafts with a violation: {kinds['violations']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="index folder to build into or reuse (default: a temporary one)")
    parser.add_argument("--failures", action="store_true", help="print each draft that misses or breaks a label")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        index = args.index or Path(scratch) / "index"
        KnowledgeBase.build(ROOT / "articles", index)
        kb = KnowledgeBase.load(index, feedback=False)
        for name in ("drafts", "drafts_heldout"):
            for language in ("en", "zh"):
                run(kb, name, language, args.failures)


if __name__ == "__main__":
    main()
