"""Suggestions and agents' feedback in one SQLite file (stdlib sqlite3, WAL).

Safe with concurrent writers, threads and processes alike: each thread has its own connection, every
write is one short transaction, and a writer waits (busy timeout) rather than failing while another
commits.
A committed row survives a killed process (WAL with synchronous=NORMAL: only a power cut can lose the
last transactions). Messages and edited replies are
stored only after `kbsuggest.privacy.redact`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from kbsuggest.errors import FeedbackError, InputError
from kbsuggest.privacy import redact

Outcome = Literal["accepted", "edited", "rejected"]
OUTCOMES: tuple[Outcome, ...] = ("accepted", "edited", "rejected")
BUSY_TIMEOUT_MS = 30_000

MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "m001_initial",
        (
            """CREATE TABLE IF NOT EXISTS suggestions (
                id TEXT PRIMARY KEY,
                created_at TEXT NOT NULL,
                message TEXT NOT NULL,
                language TEXT NOT NULL,
                article_id TEXT,
                confidence REAL NOT NULL,
                escalate_reason TEXT
            )""",
            """CREATE TABLE IF NOT EXISTS feedback (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                suggestion_id TEXT NOT NULL REFERENCES suggestions(id),
                created_at TEXT NOT NULL,
                outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'edited', 'rejected')),
                article_id TEXT,
                final_text TEXT,
                agent TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS feedback_suggestion ON feedback(suggestion_id)",
            """CREATE TABLE IF NOT EXISTS example_vectors (
                encoder TEXT NOT NULL,
                text_hash TEXT NOT NULL,
                vector BLOB NOT NULL,
                PRIMARY KEY (encoder, text_hash)
            )""",
        ),
    ),
)
"""The schema as a named, ordered list of migrations, each applied once per file and recorded in `_migrations`
(as simonw/llm does). Append new ones (e.g. `ALTER TABLE ... ADD COLUMN`); never edit or reorder applied ones.
`m001_initial` uses IF NOT EXISTS, so files written before migrations existed upgrade in place. Every INSERT
names its columns, so a column added later never breaks a statement."""


def migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations `db` lacks, in one transaction; other processes opening the file wait (IMMEDIATE).
    Names a newer kbsuggest recorded are left alone."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    db.execute("BEGIN IMMEDIATE")
    try:
        applied = {row[0] for row in db.execute("SELECT name FROM _migrations")}
        for name, statements in MIGRATIONS:
            if name not in applied:
                for statement in statements:
                    db.execute(statement)
                db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, _now()))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


class Feedback(BaseModel):
    """One agent's verdict on one suggestion, as stored."""

    model_config = ConfigDict(frozen=True)

    suggestion_id: str
    outcome: Outcome
    article_id: str | None
    final_text: str | None
    agent: str | None
    created_at: datetime


class LoggedSuggestion(BaseModel):
    """A suggestion as the store keeps it: `message` redacted, `article_id` the first answer's (None when there
    was no answer or it was escalated for no_answer)."""

    model_config = ConfigDict(frozen=True)

    id: str
    message: str
    language: str
    article_id: str | None
    confidence: float
    escalate_reason: str | None


@dataclass(frozen=True)
class Snapshot:
    """The logged suggestions (oldest first) and the verdicts on them (in the order they were recorded)."""

    suggestions: tuple[LoggedSuggestion, ...]
    feedback: tuple[Feedback, ...]


class FeedbackBackend(Protocol):
    """What a knowledge base needs of a feedback store: this SQLite one (`FeedbackStore`) or the PostgreSQL one
    (`kbsuggest.feedback.postgres`)."""

    def log_suggestion(self, logged: LoggedSuggestion) -> None: ...

    def record(
        self,
        suggestion_id: str,
        outcome: str,
        *,
        final_text: str | None = None,
        article_id: str | None = None,
        agent: str | None = None,
    ) -> Feedback: ...

    def vectors(self, encoder: str, hashes: Sequence[str]) -> dict[str, bytes]: ...

    def store_vectors(self, encoder: str, vectors: Mapping[str, bytes]) -> None: ...

    def snapshot(self) -> Snapshot: ...


class FeedbackStore:
    """The SQLite file at `path`, created on first use."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._local = threading.local()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, opened and set up once (WAL, busy timeout, schema). SQLite's errors (a
        read-only folder, a full disk, a damaged file) are raised as `FeedbackError`."""
        try:
            yield self._connection()
        except sqlite3.Error as exc:
            raise FeedbackError(
                f"{self.path} cannot be used ({exc}). Fix: make {self.path.parent} writable by this process "
                "and free disk space there, or load the knowledge base with feedback=False"
            ) from exc

    def _connection(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                migrate(db)
            except sqlite3.Error:
                db.close()
                raise
            self._local.db = db
        return db

    def log_suggestion(self, logged: LoggedSuggestion) -> None:
        """Keep what feedback and reports need of a suggestion: its (already redacted) message and what was
        answered. Logging the same id again changes nothing."""
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO suggestions (id, created_at, message, language, article_id, confidence,"
                " escalate_reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    logged.id,
                    _now(),
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
        """Store one verdict. `article_id` is the article the reply was really answered with (default: the
        suggestion's first answer)."""
        if outcome not in OUTCOMES:
            raise InputError(f"outcome {redact(repr(outcome))} is not one of {', '.join(OUTCOMES)}")
        with self._connect() as db:
            row = db.execute("SELECT article_id FROM suggestions WHERE id = ?", (suggestion_id,)).fetchone()
            if row is None:
                raise InputError(
                    f"no suggestion {redact(repr(suggestion_id))} in {self.path}. Fix: pass the `id` of a Suggestion "
                    "made by a KnowledgeBase using this feedback store"
                )
            feedback = Feedback(
                suggestion_id=suggestion_id,
                outcome=outcome,
                article_id=article_id or row[0],
                final_text=redact(final_text) if final_text else None,
                agent=agent,
                created_at=datetime.now(UTC),
            )
            db.execute(
                "INSERT INTO feedback (suggestion_id, created_at, outcome, article_id, final_text, agent)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    feedback.suggestion_id,
                    feedback.created_at.isoformat(),
                    feedback.outcome,
                    feedback.article_id,
                    feedback.final_text,
                    feedback.agent,
                ),
            )
        return feedback

    def vectors(self, encoder: str, hashes: Sequence[str]) -> dict[str, bytes]:
        """The cached phrasing vectors of `encoder` (model id and fingerprint) among the texts with `hashes`."""
        found: dict[str, bytes] = {}
        with self._connect() as db:
            for start in range(0, len(hashes), 500):  # within SQLite's limit on parameters
                chunk = hashes[start : start + 500]
                rows = db.execute(
                    "SELECT text_hash, vector FROM example_vectors WHERE encoder = ?"
                    f" AND text_hash IN ({', '.join('?' * len(chunk))})",
                    (encoder, *chunk),
                )
                found.update(rows.fetchall())
        return found

    def store_vectors(self, encoder: str, vectors: Mapping[str, bytes]) -> None:
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO example_vectors (encoder, text_hash, vector) VALUES (?, ?, ?)",
                [(encoder, h, blob) for h, blob in vectors.items()],
            )

    def snapshot(self) -> Snapshot:
        """Every suggestion and verdict as of one moment: both are read in one transaction, so each verdict's
        suggestion is there although other threads and processes keep writing."""
        with self._connect() as db:
            db.execute("BEGIN")
            try:
                suggestions = db.execute(
                    "SELECT id, message, language, article_id, confidence, escalate_reason FROM suggestions"
                    " ORDER BY created_at"
                ).fetchall()
                feedback = db.execute(
                    "SELECT suggestion_id, outcome, article_id, final_text, agent, created_at FROM feedback ORDER BY id"
                ).fetchall()
            finally:
                db.execute("COMMIT")
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


def _now() -> str:
    return datetime.now(UTC).isoformat()
