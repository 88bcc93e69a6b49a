"""With the real models: a knowledge base published to PostgreSQL and read back answers every message of the demo
dev set and the shared dev sets exactly as the folder it was built in (the same ranked articles, sections, scores),
the ONNX fast query path included (its exports travel through the database)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.database import Database
from kbsuggest.encoders import Encoder

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "eval"
SETS = {
    "demo": (ROOT / "articles", ROOT / "tests" / "data" / "demo_queries.jsonl"),
    "helpcenter": (SHARED / "helpcenter" / "articles", SHARED / "helpcenter" / "queries_dev.jsonl"),
    "helpcenter-zh": (SHARED / "helpcenter-zh" / "articles", SHARED / "helpcenter-zh" / "queries.jsonl"),
}


@pytest.mark.parametrize("name", list(SETS))
def test_answers_from_postgres_equal_answers_from_the_folder(
    name: str, database_url: str, real_encoders: dict[str, Encoder], tmp_path: Path
) -> None:
    articles, queries = SETS[name]
    if not queries.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{queries} is missing: CI lays the shared eval sets beside the clone")
        pytest.skip(f"{queries} is missing (the shared eval sets are laid beside the clone)")
    messages = [json.loads(line)["query"] for line in queries.read_text(encoding="utf-8").splitlines() if line]
    db = Database(database_url)
    published = KnowledgeBase.publish(articles, db, name, index_dir=tmp_path / "index", encoders=real_encoders)
    assert published.version == 1
    from_folder = KnowledgeBase.load(tmp_path / "index", encoders=real_encoders, feedback=False)
    from_database = KnowledgeBase.from_database(
        db, name, encoders=real_encoders, feedback=False, model_cache=tmp_path / "models"
    )
    assert any(type(e).__name__ == "OnnxEncoder" for e in from_database.encoders.values())  # the fast path
    expected = from_folder.search_many(messages, k=10)
    assert [[a.article_id for a in answers] for answers in from_database.search_many(messages, k=10)] == [
        [a.article_id for a in answers] for answers in expected
    ]
    assert from_database.search_many(messages, k=10) == expected  # sections and scores too
