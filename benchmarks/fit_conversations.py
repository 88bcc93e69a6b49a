"""Fit the conversation rules' probability thresholds (kbsuggest/conversation.py: THRESHOLDS) and print them, with
per-kind figures of the current and the fitted thresholds, measured in the same run, on the files fitted on and
on the files held out. Rerun it whenever the confidence models change (benchmarks/fit_confidence.py).

    .venv/bin/python benchmarks/fit_conversations.py [--shared ../shared/eval] [--index-dir DIR] [--no-build]
        [--compare MARGIN,FLOOR,NEW_QUESTION_FLOOR ...]

Each conversation line is planned as `KnowledgeBase.suggest` plans it (conversation.in_language, plan), and its
query and contextual query are retrieved once. The thresholds only choose between those two retrievals and
whether an unsure new question is handed over (conversation.needs_contextual, decide), so every combination of
the grid is scored from them, with the same rules as `suggest` (reply.suggest.escalation).

Score of a combination: the mean, over the six kinds, of the share of lines handled right. Lines of the
answerable kinds (follow_up, clarification_answer, topic_shift, standalone) are right when the first answer is
an expected article and the line is not handed over for no_answer; unresolved and out_of_scope lines, when
they are handed over (for any reason). The score moves in steps of one line, so many combinations tie: the mean
score of a combination's grid neighbours breaks ties (the middle of a plateau, not its edge).

Fitted on the help-center files (both languages), checked on the demo-store files; then the other way round, to
show how much the choice depends on the files it is fitted on.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bench_conversations import KINDS, TODAY, add_index_options, conversation_sets, kind_cell

from kbsuggest.analysis import MessageAnalysis, analyse
from kbsuggest.conversation import THRESHOLDS, Plan, Thresholds, decide, in_language, needs_contextual, plan
from kbsuggest.evaluation import DEPTH, LabelledQuery, read_queries
from kbsuggest.kb import KnowledgeBase
from kbsuggest.reply.suggest import escalation
from kbsuggest.retrieval.retriever import Retrieval

MARGINS = tuple(round(0.05 * i, 2) for i in range(11))
FLOORS = tuple(round(0.05 * i, 2) for i in range(20))
ESCALATE_KINDS = ("unresolved", "out_of_scope")


@dataclass(frozen=True)
class Line:
    """One conversation line, planned and retrieved as `suggest` does, before the thresholds decide."""

    file: str
    query: LabelledQuery
    analysis: MessageAnalysis
    plan: Plan
    first: Retrieval
    contextual: Retrieval | None


@dataclass(frozen=True)
class Outcome:
    hit: bool  # the first answer is an expected article
    escalated: bool  # for any reason
    no_answer: bool  # handed over because no answer was sure enough


def retrieved(file: str, kb: KnowledgeBase, path: Path) -> list[Line]:
    queries = read_queries(path)
    analyses = [in_language(q.query, analyse(q.query), q.history) for q in queries]
    plans = [plan(q.query, a, q.history, kb._own_questions, kb._titles) for q, a in zip(queries, analyses, strict=True)]
    languages = [a.language for a in analyses]
    first = kb._retriever.retrieve_many([p.query for p in plans], languages, DEPTH, TODAY)
    wanted = [i for i, p in enumerate(plans) if p.kind is None and p.contextual is not None]
    texts = [plans[i].contextual or "" for i in wanted]
    found = kb._retriever.retrieve_many(texts, [languages[i] for i in wanted], DEPTH, TODAY)
    contextual = dict(zip(wanted, found, strict=True))
    return [
        Line(file, q, a, p, f, contextual.get(i))
        for i, (q, a, p, f) in enumerate(zip(queries, analyses, plans, first, strict=True))
    ]


def outcome(line: Line, thresholds: Thresholds) -> Outcome:
    asked = line.contextual if needs_contextual(line.plan, line.first, thresholds) else None
    chosen, use = decide(line.plan, line.first, asked, thresholds)
    reason = escalation(line.analysis, chosen.in_scope, use.kind == "unresolved")
    hit = bool(chosen.answers) and chosen.answers[0].article_id in line.query.expected
    return Outcome(hit, reason is not None, reason == "no_answer")


def right(line: Line, o: Outcome) -> bool:
    return o.escalated if line.query.kind in ESCALATE_KINDS else o.hit and not o.no_answer


def score(lines: Sequence[Line], thresholds: Thresholds) -> float:
    per_kind = [[right(x, outcome(x, thresholds)) for x in lines if x.query.kind == kind] for kind in KINDS]
    return float(np.mean([np.mean(rights) for rights in per_kind if rights]))


def fit(lines: Sequence[Line]) -> Thresholds:
    """The combination of the grid with the best score, then the best mean score of its neighbours."""
    shape = (len(MARGINS), len(FLOORS), len(FLOORS))
    scores = np.zeros(shape)
    for m, f, n in itertools.product(*(range(size) for size in shape)):
        scores[m, f, n] = score(lines, Thresholds(MARGINS[m], FLOORS[f], FLOORS[n]))
    padded = np.pad(scores, 1, constant_values=np.nan)  # the grid's edges have fewer neighbours
    neighbours = np.nanmean(
        [padded[1 + dm : 1 + dm + shape[0], 1 + df : 1 + df + shape[1], 1 + dn : 1 + dn + shape[2]]
         for dm, df, dn in itertools.product((-1, 0, 1), repeat=3)],
        axis=0,
    )  # fmt: skip
    best = np.flatnonzero(scores == scores.max())
    m, f, n = np.unravel_index(best[np.argmax(neighbours.flat[best])], shape)
    return Thresholds(MARGINS[m], FLOORS[f], FLOORS[n])


def cells(lines: Sequence[Line], thresholds: Thresholds) -> list[str]:
    """Per kind, as bench_conversations.py prints them: accuracy@1 (escalated) or escalated (accuracy@1)."""
    out = []
    for kind in KINDS:
        of_kind = [(x, outcome(x, thresholds)) for x in lines if x.query.kind == kind]
        hit = np.mean([o.hit for x, o in of_kind if x.query.expected]) if kind != "out_of_scope" else None
        escalated = np.mean([o.escalated for _, o in of_kind])
        out.append(kind_cell(kind, hit, escalated))
    return out


def described(t: Thresholds) -> str:
    return f"margin {t.follow_up_margin:.2f}, floor {t.follow_up_floor:.2f}, new question {t.new_question_floor:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    add_index_options(parser)
    parser.add_argument(
        "--compare", nargs="*", default=[], help="more thresholds to show, e.g. 0.25,0.45,0.45 (the values before)"
    )
    args = parser.parse_args()
    compared = {f"compared: {c}": Thresholds(*map(float, c.split(","))) for c in args.compare}
    with tempfile.TemporaryDirectory() as tmp:
        sets = conversation_sets(args.shared, args.index_dir or Path(tmp), not args.no_build)
        lines = [line for name, kb, path in sets for line in retrieved(name, kb, path)]
    files = list(dict.fromkeys(x.file for x in lines))
    help_center = [x for x in lines if x.file.startswith("help center")]
    demo = [x for x in lines if x.file.startswith("demo store")]
    candidates = {
        **compared,
        "current": THRESHOLDS,
        "fitted on the help center": fit(help_center),
        "fitted on the demo store": fit(demo),
    }
    print("| thresholds | " + " | ".join(candidates) + " |\n|---|" + "---|" * len(candidates))
    print("| margin, floor, new question | " + " | ".join(described(t) for t in candidates.values()) + " |")
    for label, group in (("help center", help_center), ("demo store", demo)):
        print(f"| score on the {label} | " + " | ".join(f"{score(group, t):.3f}" for t in candidates.values()) + " |")
    for file in files:
        of_file = [x for x in lines if x.file == file]
        print(f"\n#### {file}: {len(of_file)} conversations")
        counts = [f"{k} (n={sum(x.query.kind == k for x in of_file)})" for k in KINDS]
        print("| thresholds | score | " + " | ".join(counts) + " |")
        print("|---|---|" + "---|" * len(KINDS))
        for label, t in candidates.items():
            print(f"| {label} | {score(of_file, t):.3f} | " + " | ".join(cells(of_file, t)) + " |")
    fitted = candidates["fitted on the help center"]
    print(
        "\nkbsuggest/conversation.py:\nTHRESHOLDS = Thresholds("
        f"follow_up_margin={fitted.follow_up_margin}, follow_up_floor={fitted.follow_up_floor}, "
        f"new_question_floor={fitted.new_question_floor})"
    )


if __name__ == "__main__":
    main()
