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


def test_lint_with_an_index_needs_no_build_extra(demo_kb: KnowledgeBase, demo_index: Path) -> None:
    """`lint --index` compares sections with the index's encoders (its ONNX export), not sentence-transformers."""
    root = Path(__file__).resolve().parents[2]
    demo = run_cli(
        "lint", root / "articles", "--index", demo_index, "--today", "2026-11-25", "--json", absent=BUILD_EXTRA
    )
    assert demo.returncode == 0, demo.stderr.decode()
    assert {w["kind"] for w in json.loads(demo.stdout)["warnings"]} == {"expired", "expiring"}  # no near-duplicates
    seeded_dir = root / "tests" / "fixtures" / "lint"
    seeded = run_cli("lint", seeded_dir, "--index", demo_index, "--json", absent=BUILD_EXTRA)
    assert seeded.returncode == 1  # its planted errors
    copies = [w for w in json.loads(seeded.stdout)["warnings"] if w["kind"] == "near-duplicate"]
    assert [(Path(w["path"]).relative_to(seeded_dir).as_posix(), w["line"]) for w in copies] == [
        ("en/returns-policy.md", 14)
    ]
    without = run_cli("lint", root / "articles", absent=BUILD_EXTRA)
    assert without.returncode == 2 and b"kbsuggest[build]" in without.stderr
