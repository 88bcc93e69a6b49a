"""Agents' feedback on suggestions, kept in SQLite (`FeedbackStore`) or PostgreSQL (`feedback.postgres`), and what it
teaches."""

from kbsuggest.feedback.store import Feedback, FeedbackStore, Outcome

__all__ = ["Feedback", "FeedbackStore", "Outcome"]
