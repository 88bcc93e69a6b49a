"""A built index answers on an install without the `build` extra: none of its packages is imported on the
load and query path (the index's ONNX export encodes messages)."""

from __future__ import annotations

import json
from pathlib import Path

from kbsuggest import KnowledgeBase
from tests.conftest import BUILD_EXTRA, run_cli


def test_a_built_index_answers_without_the_build_extra(demo_kb: KnowledgeBase, demo_index: Path) -> None:
    message = "where is my parcel? ordered 10 days ago"
    search = run_cli("search", message, "--index", demo_index, "--json", absent=BUILD_EXTRA)
    assert search.returncode == 0, search.stderr.decode()
    assert json.loads(search.stdout)[0]["article_id"] == "lost-delayed-parcels"
    suggest = run_cli("suggest", "我的退款怎么还没到账？", "--index", demo_index, "--json", absent=BUILD_EXTRA)
    assert suggest.returncode == 0, suggest.stderr.decode()
    assert json.loads(suggest.stdout)["answers"][0]["article_id"] == "refunds-zh"
    assert search.stderr == suggest.stderr == b""

