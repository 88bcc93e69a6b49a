"""Answer quality on labelled messages: accuracy@1, recall@k, MRR, nDCG@10 and escalation figures.

Query files are JSON lines `{"query": "...", "expected": ["article-id" or "article-id#anchor", ...]}`;
`"expected": []` marks a message no article answers, which should be escalated. Accuracy@1, recall@k, MRR and
nDCG are article-level (an anchor counts for its article); section accuracy@1 is scored over the lines whose
expected entries name sections (`article-id#anchor` as `Answer.section_id` has it; a split section's parts count).
Conversation lines add the earlier turns, the kind and whether a person should take over: `{"history": [{"role": ...,
"text": ...}], "query": ..., "expected": [...], "escalate": bool, "kind": "follow_up"}` (benchmarks/data/README.md);
they are scored per kind."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kbsuggest.conversation import Turn
from kbsuggest.errors import InputError
from kbsuggest.reply.models import Suggestion

DEPTH = 10
Line = TypeVar("Line", bound=BaseModel)


class LabelledQuery(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    query: str
    expected: tuple[str, ...]
    history: tuple[Turn, ...] = ()
    kind: str | None = None
    escalate: bool | None = Field(default=None, description="Whether a person should take over (for any reason).")


class KindReport(BaseModel):
    """The figures of one kind of conversation line."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    lines: int
    accuracy_at_1: float = Field(alias="accuracy@1", description="Over the lines with expected articles.")
    escalated: float = Field(description="Share escalated, for any reason.")
    should_escalate: bool | None = Field(description="What the labels say for this kind; None when mixed.")


class QueryResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    query: str
    expected: tuple[str, ...]
    got: tuple[str, ...] = Field(description="Section ids returned, best first.")
    rank: int | None = Field(
        description="1-based rank of the first answer from an expected article; None when missed or out of scope."
    )
    section_hit: bool | None = Field(
        default=None, description="Whether the first answer is an expected section; None when no section is named."
    )
    escalated_no_answer: bool
    escalated: bool = Field(description="Handed to a person for any reason.")
    kind: str | None = Field(default=None, description="A conversation line's kind (follow_up, ...).")
    confidence: float


class EvalReport(BaseModel):
    """Retrieval metrics over in-scope queries; escalation metrics over all (out of scope = should escalate)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    queries: int
    in_scope: int
    k: int
    accuracy_at_1: float = Field(alias="accuracy@1")
    section_accuracy_at_1: float | None = Field(
        alias="section_accuracy@1",
        description="Share of the lines naming expected sections whose first answer is one; None when no line does.",
    )
    recall_at_k: float = Field(alias="recall@k")
    mrr: float
    ndcg_at_10: float = Field(alias="ndcg@10")
    escalation_precision: float
    escalation_recall: float
    wrongly_escalated: float = Field(description="Share of in-scope queries escalated for no_answer.")
    per_kind: dict[str, KindReport] = Field(default_factory=dict, description="Conversation lines, by kind.")
    results: tuple[QueryResult, ...]


def read_queries(path: Path | str) -> list[LabelledQuery]:
    """Read a JSON-lines query file; errors name the line."""
    fix = 'write {"query": "...", "expected": ["article-id", ...]}, with "history": [...] in a conversation'
    return _read_lines(path, LabelledQuery, fix)


def _read_lines(path: Path | str, model: type[Line], fix: str) -> list[Line]:
    """One `model` per non-blank JSON line of `path`; an invalid line is an `InputError` naming it and `fix`."""
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(model.model_validate_json(line))
        except ValidationError as exc:
            problem = exc.errors()[0]["msg"]
            raise InputError(f"{path}:{number}: {problem}. Fix: {fix}") from None
    return out


def _article(entry: str) -> str:
    return entry.split("#", 1)[0]


def _section_hit(section_id: str, expected: tuple[str, ...]) -> bool:
    """`section_id` is a named section (or one of its parts), or belongs to an expected article named without one."""
    return any(e in (section_id, _article(section_id)) or section_id.startswith(e + "~") for e in expected)


def score(queries: Sequence[LabelledQuery], suggestions: Sequence[Suggestion], k: int) -> EvalReport:
    """Metrics for `suggestions` (from `suggest_many(..., k=DEPTH)`) against the labels."""
    results = []
    for q, s in zip(queries, suggestions, strict=True):
        got = tuple(a.section_id for a in s.answers)
        articles = {_article(e) for e in q.expected}
        rank = next((i + 1 for i, sid in enumerate(got) if _article(sid) in articles), None)
        named = any("#" in e for e in q.expected)
        results.append(
            QueryResult(
                query=q.query,
                expected=q.expected,
                got=got,
                rank=rank,
                section_hit=bool(got) and _section_hit(got[0], q.expected) if named else None,
                escalated_no_answer=s.escalate_reason == "no_answer",
                escalated=s.escalate,
                kind=q.kind,
                confidence=s.confidence,
            )
        )
    per_kind = {}
    for kind in dict.fromkeys(q.kind for q in queries if q.kind):
        lines = [(q, r) for q, r in zip(queries, results, strict=True) if q.kind == kind]
        answerable = [r for _, r in lines if r.expected]
        labels = {q.escalate for q, _ in lines}
        per_kind[kind] = KindReport.model_validate(
            {
                "lines": len(lines),
                "accuracy@1": sum(r.rank == 1 for r in answerable) / max(1, len(answerable)),
                "escalated": sum(r.escalated for _, r in lines) / len(lines),
                "should_escalate": labels.pop() if len(labels) == 1 else None,
            }
        )
    scoped = [r for r in results if r.expected]
    n = max(1, len(scoped))
    flagged = [r for r in results if r.escalated_no_answer]
    out_of_scope = [r for r in results if not r.expected]
    sectioned = [r.section_hit for r in scoped if r.section_hit is not None]
    return EvalReport.model_validate(
        {
            "queries": len(results),
            "in_scope": len(scoped),
            "k": k,
            "accuracy@1": sum(r.rank == 1 for r in scoped) / n,
            "section_accuracy@1": sum(sectioned) / len(sectioned) if sectioned else None,
            "recall@k": sum(r.rank is not None and r.rank <= k for r in scoped) / n,
            "mrr": sum(1 / r.rank for r in scoped if r.rank) / n,
            "ndcg@10": sum(1 / math.log2(r.rank + 1) for r in scoped if r.rank and r.rank <= DEPTH) / n,
            "escalation_precision": sum(not r.expected for r in flagged) / len(flagged) if flagged else 1.0,
            "escalation_recall": sum(r.escalated_no_answer for r in out_of_scope) / len(out_of_scope)
            if out_of_scope
            else 1.0,
            "wrongly_escalated": sum(r.escalated_no_answer for r in scoped) / n,
            "per_kind": per_kind,
            "results": results,
        }
    )


def report_line(report: EvalReport) -> str:
    return json.dumps(
        {key: round(value, 3) for key, value in report.model_dump(by_alias=True).items() if isinstance(value, float)}
    )


# Reply drafts: what a draft must and must not say (benchmarks/data/README.md, "Drafts").

_FOLD = str.maketrans({**{chr(0xFF10 + d): str(d) for d in range(10)}, **dict.fromkeys("‐‑‒–—―−", "-")})

Fragment = str | tuple[str, ...]
"""A fact a draft must (or must not) state: one wording, or alternatives of which any one counts."""


class LabelledDraft(BaseModel):
    """A message with the facts a correct draft states (`must`, in the order asked) and those it must not."""

    model_config = ConfigDict(extra="allow", frozen=True)

    query: str
    expected: tuple[str, ...] = ()
    must: tuple[Fragment, ...] = ()
    must_not: tuple[Fragment, ...] = ()
    situation: str = ""


class DraftResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    query: str
    situation: str
    draft: str
    missing: tuple[Fragment, ...] = Field(description="`must` entries the draft does not state.")
    violated: tuple[Fragment, ...] = Field(description="`must_not` entries the draft states.")
    met: int


class DraftReport(BaseModel):
    """`must_recall`: share of `must` entries stated, over all lines; `must_not_rate`: share of lines stating a
    `must_not` fact."""

    model_config = ConfigDict(frozen=True)

    drafts: int
    must_recall: float
    must_not_rate: float
    results: tuple[DraftResult, ...]


def normalise(text: str) -> str:
    """The matching rule of the labels: full-width digits to ASCII, dashes to '-', whitespace collapsed, case
    folded."""
    return " ".join(text.translate(_FOLD).split()).casefold()


def states(draft: str, fragment: Fragment) -> bool:
    """True when `draft` (normalised) contains `fragment`, or any one of its alternatives."""
    text = normalise(draft)
    return any(normalise(a) in text for a in ((fragment,) if isinstance(fragment, str) else fragment))


def read_drafts(path: Path | str) -> list[LabelledDraft]:
    """Read a JSON-lines draft label file; errors name the line."""
    fix = 'write {"query": "...", "must": ["fact", ["fact", "paraphrase"]], "must_not": [...]}'
    return _read_lines(path, LabelledDraft, fix)


def score_drafts(labels: Sequence[LabelledDraft], drafts: Sequence[str]) -> DraftReport:
    """Must-recall and must-not violations of `drafts` (one per label, e.g. each suggestion's first draft)."""
    results = []
    for label, draft in zip(labels, drafts, strict=True):
        missing = tuple(f for f in label.must if not states(draft, f))
        results.append(
            DraftResult(
                query=label.query,
                situation=label.situation,
                draft=draft,
                missing=missing,
                violated=tuple(f for f in label.must_not if states(draft, f)),
                met=len(label.must) - len(missing),
            )
        )
    total = sum(len(label.must) for label in labels)
    return DraftReport(
        drafts=len(results),
        must_recall=sum(r.met for r in results) / total if total else 1.0,
        must_not_rate=sum(bool(r.violated) for r in results) / len(results) if results else 0.0,
        results=tuple(results),
    )
