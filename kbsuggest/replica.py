"""`Replica`: a knowledge base served from PostgreSQL that follows its published versions and its feedback by
itself, so any number of stateless processes (`kbsuggest serve --database URL`) answer from the same data.

Every replica of a process is kept current by one `Follower` per `Database`: one thread, one connection that
LISTENs for the notifications `index.postgres.publish` and `feedback.postgres` send on commit, and one query per
wake-up (a notification, or `WAKE_SECONDS` without one, which catches up what was lost while the connection was
down) reading the current version and the latest verdict of every knowledge base followed. A replica whose
version changed loads the new one whole and swaps `Replica.kb` in one assignment; one with new feedback rebuilds
its knowledge base over the data it has (learning the phrasings), without reading the version again. A request
takes `Replica.kb` once and finishes on that object, whatever is published meanwhile: a loaded version is all in
memory. A failure to refresh is logged and the previous knowledge base keeps serving."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import psycopg

from kbsuggest.config import Settings
from kbsuggest.database import Database
from kbsuggest.encoders import Encoder
from kbsuggest.errors import KbSuggestError
from kbsuggest.feedback.postgres import PostgresFeedbackStore
from kbsuggest.index.postgres import current_version
from kbsuggest.kb import MODEL_CACHE, KnowledgeBase

log = logging.getLogger(__name__)
WAKE_SECONDS = 1.0
"""The longest a follower goes without checking for new versions and feedback (one query for all replicas)."""
_LOCK = threading.Lock()  # guards _FOLLOWERS and each follower's replicas
_FOLLOWERS: dict[Database, Follower] = {}  # the followers running, by database (by identity)


class Replica:
    """Knowledge base `name` of `database`, kept current by the process's `Follower` of `database`. `kb`: the
    `KnowledgeBase` to answer with now. The models are loaded once (`settings.encoders()` unless `encoders` is
    given) and shared by every version. `feedback`: as for `KnowledgeBase.from_database`."""

    def __init__(
        self,
        database: Database,
        name: str,
        *,
        settings: Settings | None = None,
        encoders: Mapping[str, Encoder] | None = None,
        model_cache: Path = MODEL_CACHE,
        feedback: bool = True,
    ) -> None:
        self.database = database
        self.name = name
        self._settings = settings or Settings.from_env()
        self._encoders = encoders if encoders is not None else self._settings.encoders()
        self._model_cache = model_cache
        self._with_feedback = feedback
        self._feedback = PostgresFeedbackStore(database, name)
        self._changed = threading.Condition()
        self._refreshing = threading.Lock()
        self._mark = self._feedback.last_feedback()
        self.kb = self._load()
        self.follower = _follow(self)

    def reload(self) -> KnowledgeBase:
        """Switch to the current version, or learn new feedback, if either changed; return the knowledge base now
        served. Raises `KbSuggestError` when the database cannot be read (`kb` is then unchanged)."""
        mark = self._feedback.last_feedback()  # read first: a verdict recorded while loading is seen next time
        return self.refresh(current_version(self.database, self.name), mark)

    def refresh(self, version: int | None, mark: int) -> KnowledgeBase:
        """Load the current version if it is not `version` (the current one's number), else learn the feedback
        if the latest verdict is not `mark`; return the knowledge base now served (`KbSuggestError` as `reload`)."""
        with self._refreshing:
            kb = self.kb
            if version != kb.version:
                fresh = self._load()
            elif mark != self._mark:
                fresh = kb.relearned()
            else:
                return kb
            with self._changed:
                self.kb, self._mark = fresh, mark
                self._changed.notify_all()
            return fresh

    def wait_for(self, predicate: Callable[[KnowledgeBase], bool], timeout: float) -> KnowledgeBase:
        """The knowledge base served once `predicate` holds for it; `TimeoutError` after `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.kb), timeout):
                raise TimeoutError(f"knowledge base {self.name!r} did not change as expected in {timeout} s")
            return self.kb

    def close(self) -> None:
        """Stop following (a refresh under way still ends); `kb` keeps answering."""
        with _LOCK:
            self.follower.replicas.discard(self)

    def _load(self) -> KnowledgeBase:
        return KnowledgeBase.from_database(
            self.database,
            self.name,
            settings=self._settings,
            encoders=self._encoders,
            model_cache=self._model_cache,
            feedback=self._with_feedback,
        )


class Follower:
    """The thread that keeps every `Replica` of `database` in this process current (see the module's docstring).
    It runs while it has replicas to follow (`_follow` starts it with the first one) and ends after the last
    one is closed; it refreshes the replicas that changed one after the other, in the order of their names."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.replicas: set[Replica] = set()
        self.thread = threading.Thread(target=self._run, name=f"kbsuggest-follower-{database.address}", daemon=True)

    def refresh(self, replicas: list[Replica]) -> None:
        """Read the current version and the latest verdict of every knowledge base of `replicas` in one query,
        and refresh those that changed (`KbSuggestError` when that query fails; a refresh failing is logged, and
        that replica keeps serving what it had)."""
        names = sorted({r.name for r in replicas})
        with self.database.connection(read=True) as conn:
            rows = conn.execute(
                "SELECT n.kb, c.version, (SELECT coalesce(max(f.id), 0) FROM feedback f WHERE f.kb = n.kb)"
                " FROM unnest(%s::text[]) AS n (kb) LEFT JOIN kb_current c ON c.kb = n.kb",
                (names,),
            ).fetchall()
        state = {name: (version, int(mark)) for name, version, mark in rows}
        for replica in replicas:
            try:
                replica.refresh(*state[replica.name])
            except Exception:  # whatever it was, the other replicas are still followed
                log.exception("knowledge base %r: refresh failed, the loaded version keeps serving", replica.name)

    def _following(self) -> list[Replica]:
        """The replicas to follow; none: this follower is done (a replica made from now on starts another)."""
        with _LOCK:
            if not self.replicas:
                del _FOLLOWERS[self.database]
            return sorted(self.replicas, key=lambda r: r.name)

    def _run(self) -> None:
        conn: psycopg.Connection | None = None
        try:
            while replicas := self._following():
                try:
                    conn = conn or self.database.listen()
                    self.refresh(replicas)
                    if list(conn.notifies(timeout=WAKE_SECONDS, stop_after=1)):
                        list(conn.notifies(timeout=0))  # and those already come: one query answers them all
                except (KbSuggestError, psycopg.Error) as exc:
                    log.warning("cannot follow the database %s (%s); retrying", self.database.address, exc)
                    if conn is not None:
                        conn.close()
                        conn = None
                    time.sleep(WAKE_SECONDS)
        finally:
            if conn is not None:
                conn.close()


def _follow(replica: Replica) -> Follower:
    """The follower of `replica.database`, following `replica` from now on (started if none runs)."""
    with _LOCK:
        follower = _FOLLOWERS.get(replica.database)
        if follower is None:
            follower = _FOLLOWERS[replica.database] = Follower(replica.database)
            follower.thread.start()
        follower.replicas.add(replica)
        return follower


def following(database: Database) -> Follower | None:
    """The follower running for `database` in this process (None when it follows no replica)."""
    with _LOCK:
        return _FOLLOWERS.get(database)
