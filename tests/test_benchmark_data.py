"""The labelled data under benchmarks/data stays true to the articles it was written from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def check(script: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/data" / script)], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def test_drafts_labels_match_the_articles() -> None:
    """Every expected anchor exists and every `must` fact is in an expected section (check_drafts.py)."""
    assert check("check_drafts.py").strip().endswith("ok")


def test_conversation_labels_match_the_articles() -> None:
    """Shapes, kinds, escalation and slots are consistent and every expected id exists (check_conversations.py)."""
    assert "conversations_demo_zh.jsonl: 66 conversations" in check("check_conversations.py")
