"""The PostgreSQL feedback store on a real server: rows per knowledge base, redacted, one snapshot."""

from __future__ import annotations

import pytest

from kbsuggest.database import Database
from kbsuggest.errors import InputError
from kbsuggest.feedback.postgres import PostgresFeedbackStore
from kbsuggest.feedback.store import LoggedSuggestion


def logged(suggestion_id: str, message: str = "where is my parcel?") -> LoggedSuggestion:
    return LoggedSuggestion(
        id=suggestion_id, message=message, language="en", article_id="shipping", confidence=0.8, escalate_reason=None
    )


def test_suggestions_and_verdicts_are_kept_per_knowledge_base(database_url: str) -> None:
    db = Database(database_url)
    shop, other = PostgresFeedbackStore(db, "shop"), PostgresFeedbackStore(db, "other")
    assert shop.last_feedback() == 0
    shop.log_suggestion(logged("s1"))
    shop.log_suggestion(logged("s1", "logged twice: the first is kept"))
    other.log_suggestion(logged("s1", "the same id in another knowledge base"))
    verdict = shop.record("s1", "edited", final_text="Call me at +1 415 555 0100", agent="ann")
    assert verdict.article_id == "shipping" and verdict.final_text is not None and "415" not in verdict.final_text
    assert shop.last_feedback() > 0 and other.last_feedback() == 0
    snapshot = shop.snapshot()
    assert [s.message for s in snapshot.suggestions] == ["where is my parcel?"]
    assert [(f.suggestion_id, f.outcome, f.agent) for f in snapshot.feedback] == [("s1", "edited", "ann")]
    assert [s.message for s in other.snapshot().suggestions] == ["the same id in another knowledge base"]
    with pytest.raises(InputError, match="no suggestion 's2' in knowledge base 'shop'"):
        shop.record("s2", "accepted")
    with pytest.raises(InputError, match="outcome 'maybe' is not one of accepted, edited, rejected"):
        shop.record("s1", "maybe")


def test_phrasing_vectors_are_cached_by_encoder_and_text_hash(database_url: str) -> None:
    store = PostgresFeedbackStore(Database(database_url), "shop")
    store.store_vectors("model@1", {"h1": b"\x00\x01", "h2": b"\x02"})
    store.store_vectors("model@1", {"h1": b"\x00\x01"})  # again: no error, unchanged
    assert store.vectors("model@1", ["h1", "h2", "h3"]) == {"h1": b"\x00\x01", "h2": b"\x02"}
    assert store.vectors("model@1", ["h2"]) == {"h2": b"\x02"}  # only the texts asked for are read
    assert store.vectors("model@2", ["h1"]) == {}
