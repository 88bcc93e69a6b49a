from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.errors import FeedbackError, InputError
from kbsuggest.feedback import FeedbackStore
from kbsuggest.feedback.store import MIGRATIONS, LoggedSuggestion
from kbsuggest.surfaces.http import create_app
from kbsuggest.tools import call_tool
from tests.conftest import HASHING, HASHING_ENV, read_only_view
from tests.surfaces.test_http import running


@pytest.fixture
def kb(articles_dir: Path, tmp_path: Path) -> KnowledgeBase:
    KnowledgeBase.build(articles_dir, tmp_path / "ix", settings=HASHING)
    return KnowledgeBase.load(tmp_path / "ix", settings=HASHING)


def test_feedback_is_persisted_with_personal_data_masked(kb: KnowledgeBase, tmp_path: Path) -> None:
    s = kb.suggest("refund timing for card 4111 1111 1111 1111? mail ann@example.com")
    final = "Sent to ann@example.com, card 4111-1111-1111-1111"
    kb.record_feedback(s.id, "edited", final_text=final, article_id="refunds", agent="kim")
    again = FeedbackStore(tmp_path / "ix" / "feedback.sqlite")  # a fresh reader of the same file
    (logged,) = again.snapshot().suggestions
    assert logged.id == s.id and "4111" not in logged.message and "[EMAIL]" in logged.message
    (stored,) = again.snapshot().feedback
    assert stored.outcome == "edited" and stored.agent == "kim" and stored.article_id == "refunds"
    assert stored.final_text == "Sent to [EMAIL], card [CARD]"


def test_feedback_errors_are_clear(kb: KnowledgeBase) -> None:
    s = kb.suggest("express shipping cost")
    with pytest.raises(InputError, match="outcome 'liked'"):
        kb.record_feedback(s.id, "liked")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="no suggestion 'nope'"):
        kb.record_feedback("nope", "accepted")
    with pytest.raises(InputError, match="article 'ghost'"):
        kb.record_feedback(s.id, "accepted", article_id="ghost")


def test_rebuilding_the_index_keeps_the_feedback(kb: KnowledgeBase, articles_dir: Path, tmp_path: Path) -> None:
    kb.record_feedback(kb.suggest("refund timing").id, "accepted")
    (articles_dir / "shipping.md").unlink()
    KnowledgeBase.build(articles_dir, tmp_path / "ix", settings=HASHING)
    assert len(FeedbackStore(tmp_path / "ix" / "feedback.sqlite").snapshot().feedback) == 1


def test_report_counts_acceptance_gaps_and_unused_articles(kb: KnowledgeBase) -> None:
    for outcome in ("accepted", "accepted", "rejected"):
        s = kb.suggest("refund timing bank business days")
        kb.record_feedback(s.id, outcome, article_id="refunds")
    for message in ("what is the weather in paris", "weather in paris tomorrow?"):
        s = kb.suggest(message)
        kb.record_feedback(s.id, "rejected")
    report = kb.report()
    refunds = next(a for a in report.articles if a.article_id == "refunds")
    assert (refunds.accepted, refunds.rejected, refunds.acceptance_rate) == (2, 1, 2 / 3)
    assert report.suggestions == 5 and report.feedback == 5
    assert sum(g.count for g in report.gaps) >= 3  # the rejected ones, clustered
    assert "returns-zh" in report.never_used
    assert type(report).model_validate_json(report.model_dump_json()) == report


def test_concurrent_threads_lose_no_rows(kb: KnowledgeBase) -> None:
    ids = [kb.suggest(f"refund timing {i}").id for i in range(8)]

    def worker(suggestion_id: str) -> None:
        for _ in range(25):
            kb.record_feedback(suggestion_id, "accepted")

    threads = [threading.Thread(target=worker, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert kb.feedback is not None and len(kb.feedback.snapshot().feedback) == 200


WRITER = """
import sys
from kbsuggest.feedback.store import FeedbackStore
from kbsuggest import KnowledgeBase, Settings
from tests.conftest import HASHING
kb = KnowledgeBase.load(sys.argv[1], settings=Settings(model="hashing"))
sid = kb.suggest("refund timing").id
for n in range(1, 100000):
    kb.record_feedback(sid, "accepted", agent=sys.argv[2])
    print(n, flush=True)
"""


def test_concurrent_processes_and_a_killed_writer_lose_no_committed_rows(kb: KnowledgeBase, tmp_path: Path) -> None:
    index = str(tmp_path / "ix")
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, index, f"p{i}"], stdout=subprocess.PIPE, text=True, bufsize=1)
        for i in range(2)
    ]
    committed = [0, 0]

    def follow(i: int) -> None:
        stdout = writers[i].stdout
        assert stdout is not None
        for line in stdout:
            committed[i] = int(line)

    readers = [threading.Thread(target=follow, args=(i,)) for i in range(2)]
    for r in readers:
        r.start()
    deadline = time.monotonic() + 30
    while min(committed) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    for w in writers:
        w.kill()  # SIGKILL, mid-write
        w.wait()
    for r in readers:
        r.join()
    for w in writers:
        assert w.stdout is not None
        w.stdout.close()
    assert min(committed) >= 40
    rows = FeedbackStore(tmp_path / "ix" / "feedback.sqlite").snapshot().feedback
    for i in range(2):
        assert sum(1 for f in rows if f.agent == f"p{i}") >= committed[i]


BUILD_ELSEWHERE = """
import sys
from kbsuggest import KnowledgeBase
from tests.conftest import HASHING
kb = KnowledgeBase.build(sys.argv[1], sys.argv[2], settings=HASHING)
if sys.argv[3] == "with feedback":
    kb.record_feedback(kb.suggest("refund timing").id, "accepted")
"""


@pytest.mark.parametrize("database", ["none yet", "with feedback"])
def test_a_read_only_index_answers_on_every_surface_with_one_warning(
    articles_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, database: str
) -> None:
    """Logging a suggestion must never fail its answer: with the folder read-only (a bind mount; root cannot
    write there either), the library, the agent tools, HTTP and the command line answer, warning once. The
    index is built (and its feedback database written) by another process, as on a deployed server."""
    subprocess.run(
        [sys.executable, "-c", BUILD_ELSEWHERE, str(articles_dir), str(tmp_path / "ix"), database], check=True
    )
    if database == "none yet":
        (tmp_path / "ix" / "feedback.sqlite").unlink()
    with read_only_view(tmp_path / "ix", tmp_path / "ro") as index:
        with caplog.at_level(logging.WARNING, logger="kbsuggest"):
            ro = KnowledgeBase.load(index, settings=HASHING)
            first, second = ro.suggest("refund timing"), ro.suggest("express shipping cost")
            assert first.answers[0].article_id == "refunds" and second.answers[0].article_id == "shipping"
            assert "result" in call_tool(ro, "suggest_reply", {"message": "how long is a refund?"})
        (warning,) = caplog.records
        assert f"{index / 'feedback.sqlite'} cannot be used" in warning.getMessage()
        assert f"Fix: make {index} writable" in warning.getMessage()
        with pytest.raises(FeedbackError, match=r"Fix: make .* writable"):
            ro.record_feedback(first.id, "accepted")

        with running(create_app(index, settings=HASHING)) as url:
            r = httpx.post(f"{url}/v1/suggest", json={"message": "refund timing"})
            assert r.status_code == 200 and r.json()["answers"][0]["article_id"] == "refunds", r.text

        cli = subprocess.run(
            [sys.executable, "-m", "kbsuggest.cli", "suggest", "refund timing", "--index", str(index), "--json"],
            env=HASHING_ENV,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout)["answers"][0]["article_id"] == "refunds"
        assert cli.stderr.count("feedback.sqlite cannot be used") == 1 and "Traceback" not in cli.stderr


BEFORE_MIGRATIONS = """
CREATE TABLE suggestions (id TEXT PRIMARY KEY, created_at TEXT NOT NULL, message TEXT NOT NULL,
    language TEXT NOT NULL, article_id TEXT, confidence REAL NOT NULL, escalate_reason TEXT);
CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, suggestion_id TEXT NOT NULL REFERENCES suggestions(id),
    created_at TEXT NOT NULL, outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'edited', 'rejected')),
    article_id TEXT, final_text TEXT, agent TEXT);
CREATE TABLE example_vectors (encoder TEXT NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (encoder, text_hash));
INSERT INTO suggestions VALUES ('s1', '2026-11-30T10:00:00+00:00', 'where is my refund', 'en', 'refunds', 0.9, NULL);
INSERT INTO feedback (suggestion_id, created_at, outcome, article_id) VALUES
    ('s1', '2026-11-30T10:01:00+00:00', 'accepted', 'refunds');
"""


def test_a_file_from_before_migrations_opens_upgraded_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(BEFORE_MIGRATIONS)
    store = FeedbackStore(path)
    snapshot = store.snapshot()
    assert [s.id for s in snapshot.suggestions] == ["s1"] and snapshot.feedback[0].outcome == "accepted"
    store.record("s1", "rejected")
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert [r[0] for r in db.execute("SELECT name FROM _migrations")] == [name for name, _ in MIGRATIONS]


def test_a_later_migration_adds_a_column_without_breaking_existing_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "feedback.sqlite"
    FeedbackStore(path).log_suggestion(
        LoggedSuggestion(id="s1", message="hi", language="en", article_id=None, confidence=0.0, escalate_reason=None)
    )
    later = (*MIGRATIONS, ("m999_channel", ("ALTER TABLE suggestions ADD COLUMN channel TEXT",)))
    monkeypatch.setattr("kbsuggest.feedback.store.MIGRATIONS", later)
    store = FeedbackStore(path)  # a new store: a new connection, which migrates
    store.log_suggestion(
        LoggedSuggestion(id="s2", message="yo", language="en", article_id=None, confidence=0.0, escalate_reason=None)
    )
    assert [s.id for s in store.snapshot().suggestions] == ["s1", "s2"]
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert "channel" in [r[1] for r in db.execute("PRAGMA table_info(suggestions)")]
        assert db.execute("SELECT COUNT(*) FROM _migrations WHERE name = 'm999_channel'").fetchone() == (1,)
    monkeypatch.setattr("kbsuggest.feedback.store.MIGRATIONS", MIGRATIONS)
    assert len(FeedbackStore(path).snapshot().suggestions) == 2  # an older kbsuggest still reads the newer file


def test_phrasing_vectors_are_read_only_for_the_texts_asked_for(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    store.store_vectors("model@1", {f"h{i}": bytes([i % 256]) for i in range(1200)})
    asked = [f"h{i}" for i in range(0, 1300, 2)]  # more than one statement's parameters, some not cached
    assert store.vectors("model@1", asked) == {h: bytes([int(h[1:]) % 256]) for h in asked if int(h[1:]) < 1200}
    assert store.vectors("model@2", asked) == {}
