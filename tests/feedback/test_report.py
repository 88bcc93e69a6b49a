"""`build_report`: acceptance per article, knowledge gaps clustered per language, articles never used."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from kbsuggest.feedback.report import GAP_SIMILARITY, build_report
from kbsuggest.feedback.store import Feedback, LoggedSuggestion

ARTICLES = ["refunds", "shipping", "warranty", "invoices"]
TOPICS = {"kayak": np.array([1.0, 0.0, 0.0]), "pets": np.array([0.0, 1.0, 0.0]), "宠物": np.array([0.0, 0.0, 1.0])}


def logged(
    id: str, message: str, article_id: str | None, reason: str | None = None, language: str = "en"
) -> LoggedSuggestion:
    return LoggedSuggestion(
        id=id, message=message, language=language, article_id=article_id, confidence=0.5, escalate_reason=reason
    )


def verdict(suggestion_id: str, outcome: str, article_id: str | None) -> Feedback:
    return Feedback(
        suggestion_id=suggestion_id,
        outcome=outcome,  # type: ignore[arg-type]
        article_id=article_id,
        final_text=None,
        agent=None,
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
    )


def embed(items: list[LoggedSuggestion]) -> np.ndarray:
    """Each message's topic vector: the first topic word it contains."""
    return np.array([next(v for word, v in TOPICS.items() if word in s.message) for s in items])


SUGGESTIONS = [
    logged("1", "refund please", "refunds"),
    logged("2", "where is my refund", "refunds"),
    logged("3", "express shipping?", "shipping"),
    logged("4", "do you sell a kayak", None, "no_answer"),
    logged("5", "kayak paddles?", None, "no_answer"),
    logged("6", "can I bring my pets", "shipping"),  # answered, but the agent rejected it: a gap too
    logged("7", "能带宠物吗", None, "no_answer", language="zh"),
]
FEEDBACK = [
    verdict("1", "accepted", "refunds"),
    verdict("2", "edited", "refunds"),
    verdict("3", "accepted", "shipping"),
    verdict("6", "rejected", "shipping"),
]


def test_acceptance_per_article_counts_every_verdict() -> None:
    report = build_report(ARTICLES, SUGGESTIONS, FEEDBACK, embed)
    usage = {u.article_id: u for u in report.articles}
    assert (usage["refunds"].suggested, usage["refunds"].accepted, usage["refunds"].edited) == (2, 1, 1)
    assert usage["refunds"].acceptance_rate == 0.5
    assert (usage["shipping"].suggested, usage["shipping"].accepted, usage["shipping"].rejected) == (2, 1, 1)
    assert usage["warranty"].acceptance_rate is None
    assert (report.suggestions, report.feedback) == (7, 4)


def test_gaps_cluster_similar_unanswered_and_rejected_messages_largest_first_never_across_languages() -> None:
    assert GAP_SIMILARITY < 1.0  # identical topic vectors always join
    gaps = build_report(ARTICLES, SUGGESTIONS, FEEDBACK, embed).gaps
    assert [(g.count, g.examples) for g in gaps] == [
        (2, ("do you sell a kayak", "kayak paddles?")),
        (1, ("can I bring my pets",)),
        (1, ("能带宠物吗",)),
    ]


def test_articles_never_suggested_nor_named_in_feedback_are_listed() -> None:
    assert build_report(ARTICLES, SUGGESTIONS, FEEDBACK, embed).never_used == ("warranty", "invoices")
    assert build_report(ARTICLES, [], [], embed).never_used == tuple(ARTICLES)
