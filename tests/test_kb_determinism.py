"""The same message gets the same suggestion in every process, whatever Python's string hash seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kbsuggest import KnowledgeBase
from tests.conftest import HASHING

REPO = Path(__file__).resolve().parents[1]
MESSAGES = [  # demo queries whose BM25 scores once summed their terms in set order
    "换了一次还是不合适 还能再换吗",
    "订单A1048321 退款啥时候能到",
    "明天就要出发去爬山了 有没有第二天能到的快递",
    "is the ridge jacket legit waterproof or will i get soaked in a real downpour",
]
SUGGEST = """
import json, sys
from kbsuggest import KnowledgeBase, Settings
kb = KnowledgeBase.load(sys.argv[1], settings=Settings(model="hashing"), feedback=False)
print(json.dumps([kb.suggest(m).model_dump(mode="json", exclude={"id"}) for m in json.loads(sys.argv[2])]))
"""


def _suggestions(index: Path, seed: str) -> object:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    done = subprocess.run(
        [sys.executable, "-c", SUGGEST, str(index), json.dumps(MESSAGES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def test_suggestions_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    """Scores summed over a set's terms differed in the 6th decimal between seeds (zh messages of the demo)."""
    index = tmp_path / "ix"
    KnowledgeBase.build(REPO / "articles", index, settings=HASHING)
    assert _suggestions(index, "1") == _suggestions(index, "2")
