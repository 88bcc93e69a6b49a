"""The labelled data under benchmarks/data stays true to the articles it was written from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_drafts_labels_match_the_articles() -> None:
    """Every expected anchor exists and every `must` fact is in an expected section (check_drafts.py)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/data/check_drafts.py")], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith("ok")
