"""Scoring drafts against must / must_not labels (benchmarks/data/README.md, "Drafts")."""

from __future__ import annotations

from pathlib import Path

import pytest

from kbsuggest.errors import InputError
from kbsuggest.evaluation import LabelledDraft, read_drafts, score_drafts, states


def test_the_matching_rule_folds_digits_dashes_space_and_case() -> None:
    assert states("Our M is for 170–178 cm", "170-178")
    assert states("７个工作日内", "7个工作日")
    assert states("Go  by your\nCHEST", ["go by chest", "go by your chest"])
    assert not states("refund reference number", "order number")


def test_recall_counts_entries_and_violations_count_lines() -> None:
    labels = [
        LabelledDraft(query="a", must=("x", ("y", "why")), must_not=("bad",)),
        LabelledDraft(query="b", must=("z",), must_not=()),
    ]
    report = score_drafts(labels, ["x and why, bad", "nothing"])
    assert report.must_recall == pytest.approx(2 / 3) and report.must_not_rate == 0.5
    assert report.results[1].missing == ("z",) and report.results[0].violated == ("bad",)


def test_the_shipped_draft_sets_read_and_a_bad_line_names_its_number(tmp_path: Path) -> None:
    data = Path(__file__).parents[1] / "benchmarks" / "data"
    assert len(read_drafts(data / "drafts_en.jsonl")) >= 120 and len(read_drafts(data / "drafts_zh.jsonl")) >= 120
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "x", "must": ["a"]}\n{"must": ["a"]}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:2: "):
        read_drafts(bad)
