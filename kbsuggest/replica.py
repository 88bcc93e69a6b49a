"""`Replica`: a knowledge base served from PostgreSQL that follows its published versions and its feedback by
itself, so any number of stateless processes (`kbsuggest serve --database URL`) answer from the same data.

A thread LISTENs for the notifications `index.postgres.publish` and `feedback.postgres` send on commit, and checks
the current version and the latest verdict at least every `WAKE_SECONDS` besides (a notification lost while the
connection was down is caught up then). On a new version it loads it whole and swaps `Replica.kb` in one
assignment; on new feedback it rebuilds the knowledge base over the data it has (learning the phrasings), without
reading the version again. A request takes `Replica.kb` once and finishes on that object, whatever is published
meanwhile: a loaded version is all in memory. A failure to refresh is logged and the previous knowledge base keeps
serving."""

from __future__ import annotations

import logging
import threading
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
"""The longest a replica goes without checking for a new version or feedback (two indexed one-row queries)."""


class Replica:
    """Knowledge base `name` of `database`, kept current. `kb`: the `KnowledgeBase` to answer with now. The models
    are loaded once (`settings.encoders()` unless `encoders` is given) and shared by every version."""

    def __init__(
        self,
        database: Database,
        name: str,
        *,
        settings: Settings | None = None,
        encoders: Mapping[str, Encoder] | None = None,
        model_cache: Path = MODEL_CACHE,
    ) -> None:
        self.database = database
        self.name = name
        self._settings = settings or Settings.from_env()
        self._encoders = encoders if encoders is not None else self._settings.encoders()
        self._model_cache = model_cache
        self._feedback = PostgresFeedbackStore(database, name)
        self._changed = threading.Condition()
        self._refreshing = threading.Lock()
        self._stop = threading.Event()
        self._mark = self._feedback.last_feedback()
        self.kb = self._load()
        self._thread = threading.Thread(target=self._follow, name=f"kbsuggest-replica-{name}", daemon=True)
        self._thread.start()

    def reload(self) -> KnowledgeBase:
        """Switch to the current version, or learn new feedback, if either changed; return the knowledge base now
        served. Raises `KbSuggestError` when the database cannot be read (`kb` is then unchanged)."""
        with self._refreshing:
            kb = self.kb
            mark = self._feedback.last_feedback()  # read first: a verdict recorded while loading is seen next time
            if current_version(self.database, self.name) != kb.version:
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
        """Stop following (within `WAKE_SECONDS`); `kb` keeps answering."""
        self._stop.set()
        self._thread.join()

    def _load(self) -> KnowledgeBase:
        return KnowledgeBase.from_database(
            self.database, self.name, settings=self._settings, encoders=self._encoders, model_cache=self._model_cache
        )

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                with self.database.listen() as conn:
                    while not self._stop.is_set():
                        self._refresh_logged()
                        for _ in conn.notifies(timeout=WAKE_SECONDS, stop_after=1):
                            pass
            except (KbSuggestError, psycopg.Error) as exc:
                log.warning("knowledge base %r: cannot listen for new versions (%s); retrying", self.name, exc)
                self._stop.wait(WAKE_SECONDS)

    def _refresh_logged(self) -> None:
        try:
            self.reload()
        except KbSuggestError as exc:
            log.warning("knowledge base %r: refresh failed, the loaded version keeps serving: %s", self.name, exc)
