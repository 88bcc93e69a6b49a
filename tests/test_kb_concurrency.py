"""One shared KnowledgeBase serves many threads while the index is rebuilt and swapped under them; two processes
building the same index take turns (an fcntl lock on INDEX_DIR/.lock)."""

from __future__ import annotations

import fcntl
import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from kbsuggest import KnowledgeBase
from kbsuggest.feedback.store import Feedback
from kbsuggest.retrieval.models import Answer
from tests.conftest import HASHING, HASHING_ENV, MARKERS, write_versioned_kb

MESSAGES = (
    "how long do refunds take?",
    "what does shipping cost",
    "warranty timing for my order",
    "退款多久到账",
    "invoices costs",
    "is there a fee for returns under $30",
    "payment request handled when?",
    "😡 where is my refund A1048321",
)
READERS = 16


def markers(texts: list[str]) -> set[str]:
    return {m for text in texts for m in MARKERS if m in text}


def test_readers_never_mix_two_index_versions_while_it_is_rebuilt_and_swapped(tmp_path: Path) -> None:
    articles, index = write_versioned_kb(tmp_path / "articles", MARKERS[0]), tmp_path / "ix"
    shared = {"kb": KnowledgeBase.build(articles, index, settings=HASHING)}
    shared["kb"].search("退款")  # jieba loads its dictionary once (a second); not while the readers should run
    stop = threading.Event()
    problems: list[str] = []
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def reader(number: int) -> None:
        rng = random.Random(number)
        while not stop.is_set():
            kb = shared["kb"]  # one reference per call, as a server handling a request would take it
            version = markers([s.text for s in kb.sections])
            message = rng.choice(MESSAGES)
            try:
                if number % 2:
                    answers: list[Answer] = kb.search(message, k=5)
                else:
                    suggestion = kb.suggest(message, context={"customer_name": f"reader {number}"})
                    answers = list(suggestion.answers)
                    draft = suggestion.drafts[0]
                    # of the answered articles (a close second section of one may be cited beside it)
                    assert {c.split("#")[0] for c in draft.citations} <= {a.article_id for a in answers}
                    json.loads(suggestion.model_dump_json())
            except Exception as exc:
                problems.append(f"reader {number}: {type(exc).__name__}: {exc}")
                return
            found = markers([a.text for a in answers])
            if answers and (len(version) != 1 or found != version):
                problems.append(f"reader {number}: {message!r} on version {version} answered from {found}")
            with lock:
                seen.update(found)
            stop.wait(0.01)  # a breath between requests, so the rebuilding thread gets the GIL too

    def rebuilder() -> None:
        try:
            for marker in MARKERS[1:]:
                time.sleep(0.05)  # let every reader make calls on the current version
                write_versioned_kb(articles, marker)
                KnowledgeBase.build(articles, index, settings=HASHING)
                shared["kb"] = KnowledgeBase.load(index, settings=HASHING)
            time.sleep(0.1)
        except Exception as exc:
            problems.append(f"rebuilder: {type(exc).__name__}: {exc}")
        finally:
            stop.set()

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(READERS)]
    threads.append(threading.Thread(target=rebuilder))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not [t for t in threads if t.is_alive()], "a thread hung"
    assert problems == []
    assert set(seen) == set(MARKERS), seen  # every version answered some readers
    assert markers([s.text for s in KnowledgeBase.load(index, settings=HASHING).sections]) == {MARKERS[-1]}


def _blocked_on_a_lock(pid: int) -> bool:
    """Whether `pid` waits for a lock (Linux lists waiters in /proc/locks as '-> FLOCK ...')."""
    with open("/proc/locks", encoding="ascii") as locks:
        return any("->" in line and line.split()[5] == str(pid) for line in locks if "FLOCK" in line)


def _build(articles: Path, index: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kbsuggest.cli", "build", str(articles), "--index", str(index), "--json", "--quiet"],
        env=HASHING_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_building_one_index_take_turns(tmp_path: Path) -> None:
    first = write_versioned_kb(tmp_path / "first", MARKERS[0])
    second = write_versioned_kb(tmp_path / "second", MARKERS[0])
    (second / "returns-0.md").write_text(
        "# Returns 0\n\nReturns are accepted within 30 days of delivery (bravo edition), unused and with tags.\n",
        encoding="utf-8",
    )
    index = tmp_path / "ix"
    index.mkdir()
    with (index / ".lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a build in progress, as far as the two processes can tell
        processes = [_build(first, index), _build(second, index)]
        deadline = time.monotonic() + 20
        while not all(_blocked_on_a_lock(p.pid) for p in processes):
            assert time.monotonic() < deadline, "the builds never reached the lock"
            assert all(p.poll() is None for p in processes), [p.communicate() for p in processes]
            time.sleep(0.02)
        assert not (index / "manifest.json").exists()  # nothing is written while they wait
        fcntl.flock(held, fcntl.LOCK_UN)
    results = [p.communicate(timeout=60) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in results]
    summaries = [json.loads(out) for out, _ in results]
    # One after the other: whichever went second reused the vectors the first one had just written.
    fresh, reusing = sorted(summaries, key=lambda s: s["reused"])
    assert fresh["reused"] == 0 and fresh["encoded"] == fresh["sections"]
    assert reusing["reused"] >= reusing["sections"] - 2 and reusing["encoded"] <= 2
    kb = KnowledgeBase.load(index, settings=HASHING)
    winner = first if reusing is summaries[0] else second
    assert ("bravo" in " ".join(s.text for s in kb.sections)) == (winner == second)  # the later build, whole
    assert kb.search("returns within 30 days") and not list(index.glob(".tmp-*"))


FEEDBACK_WRITER = """
import sys
from kbsuggest import KnowledgeBase
from kbsuggest.feedback.store import Feedback
from tests.conftest import HASHING
kb = KnowledgeBase.load(sys.argv[1], settings=HASHING)
print("ready", flush=True)
for n in range(100000):
    kb.record_feedback(kb.suggest(f"how long do refunds take? {n}").id, "accepted")
"""


def test_loading_while_suggestions_and_feedback_are_written_reads_one_consistent_snapshot(tmp_path: Path) -> None:
    """Two processes log suggestions and accept each at once while this one loads the knowledge base again and
    again: every load learns from one consistent state. (It read the suggestions, then the feedback, and
    raised a bare KeyError for feedback on a suggestion logged in between: 3 loads in 20.)"""
    articles, index = tmp_path / "articles", tmp_path / "ix"
    write_versioned_kb(articles, MARKERS[0])
    KnowledgeBase.build(articles, index, settings=HASHING)
    writers = [
        subprocess.Popen([sys.executable, "-c", FEEDBACK_WRITER, str(index)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for writer in writers:
            assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        learned = [len(feedback_of(KnowledgeBase.load(index, settings=HASHING))) for _ in range(20)]
    finally:
        for writer in writers:
            writer.kill()
            writer.communicate()
    assert learned == sorted(learned) and learned[-1] > learned[0]  # the writers were writing throughout


def feedback_of(kb: KnowledgeBase) -> tuple[Feedback, ...]:
    assert kb.feedback is not None
    return kb.feedback.snapshot().feedback
