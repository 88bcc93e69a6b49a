"""Suggestions and agents' feedback in PostgreSQL, keyed by knowledge base: the `FeedbackBackend` of knowledge
bases read from a database. Every replica writes and reads the same rows, so feedback recorded through any of them
teaches all of them: a verdict notifies them on commit (`kbsuggest.replica` learns the verdicts after the last
it learned from: `verdicts_after`).

Messages and edited replies are stored only after `kbsuggest.privacy.redact`, as in the SQLite store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import psycopg

from kbsuggest.database import CHANNEL, Database
from kbsuggest.errors import InputError
from kbsuggest.feedback.store import OUTCOMES, Feedback, LoggedSuggestion, Snapshot
from kbsuggest.privacy import redact


class PostgresFeedbackStore:
    """The rows of knowledge base `kb` in `database`'s `suggestions` and `feedback` tables."""

    def __init__(self, database: Database, kb: str) -> None:
        self.database = database
        self.kb = kb

    def log_suggestion(self, logged: LoggedSuggestion) -> None:
        """Keep a suggestion's (already redacted) message and what was answered; the same id again changes nothing."""
        with self.database.connection() as conn:
            conn.execute(
                "INSERT INTO suggestions (kb, id, created_at, message, language, article_id, confidence,"
                " escalate_reason) VALUES (%s, %s, now(), %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (
                    self.kb,
                    logged.id,
                    logged.message,
                    logged.language,
                    logged.article_id,
                    logged.confidence,
                    logged.escalate_reason,
                ),
            )

    def record(
        self,
        suggestion_id: str,
        outcome: str,
        *,
        final_text: str | None = None,
        article_id: str | None = None,
        agent: str | None = None,
    ) -> Feedback:
        """Store one verdict and notify the replicas. `article_id`: the article the reply was really answered
        with (default: the suggestion's first answer)."""
        if outcome not in OUTCOMES:
            raise InputError(f"outcome {redact(repr(outcome))} is not one of {', '.join(OUTCOMES)}")
        with self.database.connection() as conn, conn.transaction():
            # One verdict of a knowledge base at a time, until commit: its ids become visible in increasing order.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('kbsuggest.feedback'), hashtext(%s))", (self.kb,))
            row = conn.execute(
                "SELECT article_id FROM suggestions WHERE kb = %s AND id = %s", (self.kb, suggestion_id)
            ).fetchone()
            if row is None:
                raise InputError(
                    f"no suggestion {redact(repr(suggestion_id))} in knowledge base {self.kb!r}. Fix: pass the `id` "
                    "of a Suggestion made by this knowledge base"
                )
            feedback = Feedback(
                suggestion_id=suggestion_id,
                outcome=outcome,
                article_id=article_id or row[0],
                final_text=redact(final_text) if final_text else None,
                agent=agent,
                created_at=datetime.now(UTC),
            )
            conn.execute(
                "INSERT INTO feedback (kb, suggestion_id, created_at, outcome, article_id, final_text, agent)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    self.kb,
                    feedback.suggestion_id,
                    feedback.created_at,
                    feedback.outcome,
                    feedback.article_id,
                    feedback.final_text,
                    feedback.agent,
                ),
            )
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self.kb))
        return feedback

    def last_feedback(self) -> int:
        """The id of the latest verdict on this knowledge base (0 for none): it grows whenever one is recorded."""
        with self.database.connection() as conn:
            row = conn.execute("SELECT coalesce(max(id), 0) FROM feedback WHERE kb = %s", (self.kb,)).fetchone()
        return int(row[0]) if row else 0

    def verdicts_after(self, mark: int) -> tuple[int, list[tuple[Feedback, str]]]:
        """The verdicts with ids after `mark`, in order, each with its suggestion's message, and the last id
        (`mark` when there is none). Exact because `record` commits a knowledge base's verdicts one at a time:
        once an id is visible, every smaller one of the same knowledge base is."""
        with self.database.connection() as conn:
            rows = conn.execute(
                "SELECT f.id, f.suggestion_id, f.outcome, f.article_id, f.final_text, f.agent, f.created_at, s.message"
                " FROM feedback f JOIN suggestions s ON s.kb = f.kb AND s.id = f.suggestion_id"
                " WHERE f.kb = %s AND f.id > %s ORDER BY f.id",
                (self.kb, mark),
            ).fetchall()
        verdicts = [
            (
                Feedback(
                    suggestion_id=r[1], outcome=r[2], article_id=r[3], final_text=r[4], agent=r[5], created_at=r[6]
                ),
                r[7],
            )
            for r in rows
        ]
        return (int(rows[-1][0]) if rows else mark), verdicts

    def vectors(self, encoder: str, hashes: Sequence[str]) -> dict[str, bytes]:
        """The cached phrasing vectors of `encoder` (model id and fingerprint) among the texts with `hashes`."""
        with self.database.connection() as conn:
            rows = conn.execute(
                "SELECT text_hash, vector FROM example_vectors WHERE encoder = %s AND text_hash = ANY(%s)",
                (encoder, list(hashes)),
            )
            return {h: bytes(v) for h, v in rows.fetchall()}

    def store_vectors(self, encoder: str, vectors: Mapping[str, bytes]) -> None:
        with self.database.connection() as conn, conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO example_vectors (encoder, text_hash, vector) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                [(encoder, h, blob) for h, blob in vectors.items()],
            )

    def snapshot(self) -> Snapshot:
        """Every suggestion and verdict of this knowledge base as of one moment (one repeatable-read transaction)."""
        with self.database.connection() as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            try:
                with conn.transaction():
                    suggestions = conn.execute(
                        "SELECT id, message, language, article_id, confidence, escalate_reason FROM suggestions"
                        " WHERE kb = %s ORDER BY created_at, id",
                        (self.kb,),
                    ).fetchall()
                    feedback = conn.execute(
                        "SELECT suggestion_id, outcome, article_id, final_text, agent, created_at FROM feedback"
                        " WHERE kb = %s ORDER BY id",
                        (self.kb,),
                    ).fetchall()
            finally:
                conn.isolation_level = None
        return Snapshot(
            suggestions=tuple(
                LoggedSuggestion(
                    id=r[0], message=r[1], language=r[2], article_id=r[3], confidence=r[4], escalate_reason=r[5]
                )
                for r in suggestions
            ),
            feedback=tuple(
                Feedback(
                    suggestion_id=r[0], outcome=r[1], article_id=r[2], final_text=r[3], agent=r[4], created_at=r[5]
                )
                for r in feedback
            ),
        )
