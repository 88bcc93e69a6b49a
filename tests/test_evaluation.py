"""Scoring labelled messages: article-level accuracy, and section accuracy where labels name sections."""

from __future__ import annotations

from pathlib import Path

from kbsuggest import KnowledgeBase
from kbsuggest.encoders.hashing import HashingEncoder
from kbsuggest.evaluation import LabelledQuery, score


def test_accuracy_is_article_level_and_section_accuracy_counts_the_lines_naming_sections(
    articles_dir: Path, encoders: dict[str, HashingEncoder], tmp_path: Path
) -> None:
    kb = KnowledgeBase.build(articles_dir, tmp_path / "index", encoders=encoders)
    messages = ["refund for a cancelled order", "refund for a cancelled order", "express shipping cost"]
    suggestions = kb.suggest_many(messages, k=10)
    first = suggestions[0].answers[0]
    other = next(s.id for s in kb.sections if s.article_id == first.article_id and s.id != first.section_id)
    queries = [
        LabelledQuery(query=messages[0], expected=(first.section_id,)),
        LabelledQuery(query=messages[1], expected=(other,)),  # the right article, another section
        LabelledQuery(query=messages[2], expected=(suggestions[2].answers[0].article_id,)),  # no section named
    ]
    report = score(queries, suggestions, 3)
    assert report.accuracy_at_1 == 1.0
    assert [r.section_hit for r in report.results] == [True, False, None]
    assert report.section_accuracy_at_1 == 0.5


def test_section_accuracy_is_none_when_no_line_names_a_section(
    articles_dir: Path, encoders: dict[str, HashingEncoder], tmp_path: Path
) -> None:
    kb = KnowledgeBase.build(articles_dir, tmp_path / "index", encoders=encoders)
    report = score([LabelledQuery(query="refund timing", expected=("refunds",))], kb.suggest_many(["refund timing"]), 3)
    assert report.section_accuracy_at_1 is None and report.model_dump(by_alias=True)["section_accuracy@1"] is None
