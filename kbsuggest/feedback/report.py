"""What feedback teaches editors: acceptance per article, knowledge gaps, articles never used."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from kbsuggest.feedback.store import Feedback, LoggedSuggestion

GAP_SIMILARITY = 0.6
"""Unanswered messages at least this similar (cosine) to a cluster's first message join that cluster."""


class ArticleUsage(BaseModel):
    model_config = ConfigDict(frozen=True)

    article_id: str
    suggested: int
    accepted: int
    edited: int
    rejected: int

    @property
    def acceptance_rate(self) -> float | None:
        judged = self.accepted + self.edited + self.rejected
        return self.accepted / judged if judged else None


class Gap(BaseModel):
    """Messages the knowledge base did not answer (escalated for no_answer, or the reply was rejected)."""

    model_config = ConfigDict(frozen=True)

    count: int
    examples: tuple[str, ...]


class FeedbackReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    suggestions: int
    feedback: int
    articles: tuple[ArticleUsage, ...]
    gaps: tuple[Gap, ...]
    never_used: tuple[str, ...]


def build_report(
    article_ids: Sequence[str],
    suggestions: Sequence[LoggedSuggestion],
    feedback: Sequence[Feedback],
    embed: Callable[[list[LoggedSuggestion]], np.ndarray],
    *,
    top_gaps: int = 10,
) -> FeedbackReport:
    """`embed` turns suggestions' messages into normalised vectors (one language's encoder per call is fine:
    clusters never mix languages)."""
    suggested = Counter(s.article_id for s in suggestions if s.article_id)
    verdicts: dict[str, Counter[str]] = {a: Counter() for a in article_ids}
    for f in feedback:
        if f.article_id in verdicts:
            verdicts[f.article_id][f.outcome] += 1
    usage = tuple(
        ArticleUsage(
            article_id=a,
            suggested=suggested[a],
            accepted=verdicts[a]["accepted"],
            edited=verdicts[a]["edited"],
            rejected=verdicts[a]["rejected"],
        )
        for a in article_ids
    )
    rejected = {f.suggestion_id for f in feedback if f.outcome == "rejected"}
    unanswered = [s for s in suggestions if s.escalate_reason == "no_answer" or s.id in rejected]
    gaps: list[Gap] = []
    for language in sorted({s.language for s in unanswered}):
        group = [s for s in unanswered if s.language == language]
        gaps.extend(_clusters(group, embed(group)))
    gaps.sort(key=lambda g: -g.count)
    used = set(suggested) | {f.article_id for f in feedback if f.article_id}
    return FeedbackReport(
        suggestions=len(suggestions),
        feedback=len(feedback),
        articles=usage,
        gaps=tuple(gaps[:top_gaps]),
        never_used=tuple(a for a in article_ids if a not in used),
    )


def _clusters(items: list[LoggedSuggestion], vectors: np.ndarray) -> list[Gap]:
    """Greedy leader clustering: each message joins the first cluster whose leader it is close to."""
    leaders: list[int] = []
    members: list[list[int]] = []
    for i in range(len(items)):
        close = [c for c, leader in enumerate(leaders) if float(vectors[i] @ vectors[leader]) >= GAP_SIMILARITY]
        if close:
            members[close[0]].append(i)
        else:
            leaders.append(i)
            members.append([i])
    return [Gap(count=len(m), examples=tuple(items[i].message for i in m[:3])) for m in members]
