"""Fit and check when a draft asks a clarifying question (kbsuggest/reply/suggest.py: CLARIFY_BELOW, CLARIFY_MARGIN,
CHOICE), and measure the drafts each variant gives.

    PYTHONPATH=. .venv/bin/python benchmarks/fit_clarify.py [--index DIR]

A question is offered for the best two articles. It helps when the first article is wrong and the second right
(the customer picks the second), and is needless when the first is right; a message whose labels name neither
gains nothing either way. The thresholds are the grid pair (confidence below, fused margin below) with the most
helped minus needless questions on the fitting set (ties: the fewest questions); the other sets check it. Fitted
on the demo dev set (tests/data/demo_queries.jsonl) and checked on the draft sets, then the other way round.
Each variant's drafts are scored on the draft labels (must-recall, drafts stating a must-not fact): a question
"alone" is the draft without the answer paragraphs (the composer before this script), "+ answer" the draft as
composed now (the question, then the answer to its first option). Labels depend on the day: Filters(today=2026-12-01).
"""

from __future__ import annotations

import argparse
import math
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import kbsuggest.kb as kb_module
from kbsuggest import KnowledgeBase
from kbsuggest.articles.templates import load_templates
from kbsuggest.evaluation import LabelledDraft, read_drafts, read_queries, states
from kbsuggest.reply import suggest
from kbsuggest.reply.models import Draft
from kbsuggest.reply.trace import untraced
from kbsuggest.retrieval.models import Filters

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).with_name("data")
TODAY = Filters(today=date(2026, 12, 1))
BELOW = [round(x * 0.05, 2) for x in range(21)]
MARGIN = [round(x * 0.05, 2) for x in range(41)]
HAND_SET = (0.6, 0.25)


@dataclass(frozen=True)
class Line:
    """One message: what the decision reads, whether a question would be offered at all (in scope, one answer
    block, two articles, no situation that decides), and the scores of its drafts with and without the answer."""

    query: str
    confidence: float
    margin: float
    choice: bool
    eligible: bool  # before the CHOICE exception
    first_right: bool
    second_right: bool
    must: tuple[Any, ...] = ()
    must_not: tuple[Any, ...] = ()
    answered: str = ""  # the draft text without a question
    asked_alone: str = ""  # the question draft without the answer paragraphs


def collect(
    kb: KnowledgeBase,
    queries: Sequence[str],
    expected: Sequence[Sequence[str]],
    labels: Sequence[LabelledDraft] | None,
) -> list[Line]:
    seen: dict[str, tuple[float, float]] = {}
    original = suggest.build_suggestion

    def record(suggestion_id: str, message: str, retrieval: Any, *args: Any, **kwargs: Any) -> Any:
        fused = retrieval.fused
        seen[message] = (retrieval.answer_probability, float(fused[0] - fused[1]) if len(fused) > 1 else math.inf)
        return original(suggestion_id, message, retrieval, *args, **kwargs)

    saved = (suggest.CLARIFY_BELOW, suggest.CLARIFY_MARGIN, suggest.CHOICE)
    vars(kb_module)["build_suggestion"] = record  # what KnowledgeBase.suggest_many calls
    try:
        suggest.CLARIFY_BELOW, suggest.CLARIFY_MARGIN = -1.0, -1.0
        answered = kb.suggest_many(list(queries), filters=TODAY)
        suggest.CLARIFY_BELOW, suggest.CLARIFY_MARGIN, suggest.CHOICE = 2.0, math.inf, re.compile("(?!)")
        asked = kb.suggest_many(list(queries), filters=TODAY)
    finally:
        vars(kb_module)["build_suggestion"] = original
        suggest.CLARIFY_BELOW, suggest.CLARIFY_MARGIN, suggest.CHOICE = saved
    sections = {s.id: s.text for s in kb.sections}
    templates = load_templates(ROOT / "articles")
    out = []
    for i, (query, a, q) in enumerate(zip(queries, answered, asked, strict=True)):
        wanted = {e.split("#")[0] for e in expected[i]}
        ids = [x.article_id for x in a.answers[:2]]
        draft = q.drafts[0]
        facts = untraced(Draft(**{**draft.model_dump(), "citations": ()}), templates[draft.language], sections)
        alone = "\n\n".join(p for p in draft.text.split("\n\n") if p not in facts)
        label = labels[i] if labels else None
        out.append(
            Line(
                query,
                *seen[query],
                choice=bool(saved[2].search(query)),
                eligible=q.clarifying_question is not None,
                first_right=bool(ids) and ids[0] in wanted,
                second_right=len(ids) > 1 and ids[1] in wanted,
                must=tuple(label.must) if label else (),
                must_not=tuple(label.must_not) if label else (),
                answered=a.drafts[0].text,
                asked_alone=alone,
            )
        )
    return out


Rule = Callable[[Line], bool]


def rule(below: float, margin: float, choice: bool) -> Rule:
    """Ask when eligible, confidence < below and margin < margin; with `choice`, not when the message offers one."""
    return lambda x: x.eligible and x.confidence < below and x.margin < margin and not (choice and x.choice)


def net(lines: Sequence[Line], asks: Rule) -> tuple[int, int, int, int]:
    """helped - needless, helped, needless, asked."""
    asked = [x for x in lines if asks(x)]
    helped = sum(not x.first_right and x.second_right for x in asked)
    needless = sum(x.first_right for x in asked)
    return helped - needless, helped, needless, len(asked)


def fit(lines: Sequence[Line], choice: bool) -> tuple[float, float]:
    scored = [(net(lines, rule(b, m, choice)), b, m) for b in BELOW for m in MARGIN]
    (_, b, m) = max(scored, key=lambda t: (t[0][0], -t[0][3], -t[1], -t[2]))
    return b, m


def drafts_score(lines: Sequence[Line], asks: Rule, alone: bool) -> str:
    must = sum(len(x.must) for x in lines)
    met = violated = 0
    for x in lines:
        text = x.asked_alone if alone and asks(x) else x.answered
        met += sum(states(text, f) for f in x.must)
        violated += any(states(text, f) for f in x.must_not)
    return f"{met / must:.3f} / {violated}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="index folder to build into or reuse (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        index = args.index or Path(scratch) / "index"
        if not (index / "manifest.json").exists():
            KnowledgeBase.build(ROOT / "articles", index)
        kb = KnowledgeBase.load(index, feedback=False)
        lines: dict[str, list[Line]] = {}
        for name in ("drafts_en", "drafts_zh", "drafts_heldout_en", "drafts_heldout_zh"):
            labels = read_drafts(DATA / f"{name}.jsonl")
            lines[name] = collect(kb, [x.query for x in labels], [x.expected for x in labels], labels)
        dev = read_queries(ROOT / "tests" / "data" / "demo_queries.jsonl")
        lines["dev"] = collect(kb, [q.query for q in dev], [q.expected for q in dev], None)
    groups = {
        "dev": ["dev"],
        "drafts": ["drafts_en", "drafts_zh"],
        "held out": ["drafts_heldout_en", "drafts_heldout_zh"],
    }
    pooled = {g: [x for n in names for x in lines[n]] for g, names in groups.items()}
    print("questions: helped - needless (helped, needless, asked)")
    print("| rule | dev | drafts | held out |\n|---|---|---|---|")
    variants: dict[str, Rule] = {"never": lambda x: False, "hand-set 0.6 / 0.25": rule(*HAND_SET, False)}
    for fitted_on in ("dev", "drafts"):
        for choice in (False, True):
            b, m = fit(pooled[fitted_on], choice)
            label = f"fitted on {fitted_on}{' + choice' if choice else ''}: < {b} / < {m}"
            variants[label] = rule(b, m, choice)
    for label, asks in variants.items():
        print(f"| {label} | " + " | ".join(str(net(pooled[g], asks)) for g in groups) + " |")
    print("\ndrafts: must-recall / drafts stating a must-not fact, question alone | question + answer")
    names = [n for n in lines if n != "dev"]
    print("| rule | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for label, asks in variants.items():
        cells = [f"{drafts_score(lines[n], asks, True)} \\| {drafts_score(lines[n], asks, False)}" for n in names]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
