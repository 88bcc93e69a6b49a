"""Agents' feedback on suggestions, kept in SQLite, and what it teaches: see `FeedbackStore`."""

from kbsuggest.feedback.store import Feedback, FeedbackStore, Outcome

__all__ = ["Feedback", "FeedbackStore", "Outcome"]
