from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kbsuggest.cli import main
from tests.conftest import SHIPPING, write_articles


@pytest.fixture(autouse=True)
def hashing_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBSUGGEST_MODEL", "hashing")


def test_build_prints_a_summary(articles_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(articles_dir), "--index", str(tmp_path / "ix"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "3 articles, 5 sections (added 5, changed 0, removed 0, reused 0; encoded 5)" in out
    assert main(["build", str(articles_dir), "--index", str(tmp_path / "ix"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["reused"] == 5 and summary["encoded"] == 0


def test_bad_articles_report_every_problem_and_leave_the_index_alone(
    articles_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = tmp_path / "ix"
    assert main(["build", str(articles_dir), "--index", str(index), "--quiet"]) == 0
    before = {p.name: p.read_bytes() for p in index.iterdir()}
    (articles_dir / "broken.md").write_text("---\nid: x\ntags: [a\n---\n# T\n\nBody.\n", encoding="utf-8")
    (articles_dir / "typo.md").write_text("---\nstgae: pre_sale\n---\n# T\n\nBody.\n", encoding="utf-8")
    assert main(["build", str(articles_dir), "--index", str(index), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "2 problem(s)" in err
    assert "broken.md:4: invalid YAML" in err
    assert "typo.md:2: unknown front-matter field 'stgae'" in err and "did you mean 'stage'?" in err
    assert "Traceback" not in err
    assert {p.name: p.read_bytes() for p in index.iterdir()} == before


def test_missing_index_is_a_clear_error_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(tmp_path / "none"), "--index", str(tmp_path / "ix")]) == 2
    assert "the articles folder does not exist" in capsys.readouterr().err


def test_eval_prints_metrics_and_fails_under_a_threshold(
    articles_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        '{"query": "refund timing bank business days", "expected": ["refunds"]}\n'
        '{"query": "express shipping cost", "expected": ["shipping#shipping-options"]}\n'
        '{"query": "what is the capital of France", "expected": []}\n',
        encoding="utf-8",
    )
    assert main(["build", str(articles_dir), "--index", str(tmp_path / "ix"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", str(queries), "--index", str(tmp_path / "ix"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {"accuracy@1", "recall@k", "mrr", "ndcg@10", "escalation_precision", "escalation_recall"}
    assert report["in_scope"] == 2 and 0.0 <= report["accuracy@1"] <= 1.0
    assert main(["eval", str(queries), "--index", str(tmp_path / "ix"), "--min-accuracy", "1.01"]) == 1
    assert "below threshold: accuracy@1" in capsys.readouterr().err


def test_eval_scores_drafts_on_the_demo_draft_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = Path(__file__).parents[1]
    assert main(["build", str(root / "articles"), "--index", str(tmp_path / "ix"), "--quiet"]) == 0
    labels = root / "benchmarks" / "data" / "drafts_en.jsonl"
    common = ["eval", str(labels), "--index", str(tmp_path / "ix"), "--today", "2026-12-01"]
    capsys.readouterr()
    assert main([*common, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["drafts"]["drafts"] == 167 and 0.0 < report["drafts"]["must_recall"] <= 1.0
    assert all(set(f) >= {"query", "missing", "violated", "draft"} for f in report["draft_failures"])
    assert main([*common, "--min-must-recall", "1.01", "--max-must-not", "0"]) == 1
    err = capsys.readouterr().err
    assert "below threshold: must_recall" in err


def test_eval_names_the_bad_line(articles_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"query": "ok", "expected": []}\n{"query": "no expected field"}\n', encoding="utf-8")
    assert main(["build", str(articles_dir), "--index", str(tmp_path / "ix"), "--quiet"]) == 0
    assert main(["eval", str(queries), "--index", str(tmp_path / "ix")]) == 1
    assert "queries.jsonl:2:" in capsys.readouterr().err


def test_report_after_feedback(articles_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from kbsuggest import KnowledgeBase

    kb = KnowledgeBase.build(articles_dir, tmp_path / "ix")
    kb.record_feedback(kb.suggest("refund timing").id, "accepted", article_id="refunds")
    assert main(["report", "--index", str(tmp_path / "ix")]) == 0
    out = capsys.readouterr().out
    assert "1 suggestions, 1 feedback records" in out and "refunds: 100% (1/0/0;" in out
    assert main(["report", "--index", str(tmp_path / "ix"), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert next(a for a in body["articles"] if a["article_id"] == "refunds")["acceptance_rate"] == 1.0


def test_build_and_lint_refuse_an_article_over_the_configured_size(
    articles_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (articles_dir / "huge.md").write_text("# Huge\n\n" + "Refunds take a week. " * 100, encoding="utf-8")
    monkeypatch.setenv("KBSUGGEST_MAX_ARTICLE_BYTES", "1500")
    assert main(["build", str(articles_dir), "--index", str(tmp_path / "ix"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{articles_dir / 'huge.md'}: the file has 2,108 bytes, over the limit of 1,500" in err
    assert not (tmp_path / "ix").exists()
    assert main(["lint", str(articles_dir), "--no-similarity", "--json"]) == 2
    [finding] = json.loads(capsys.readouterr().out)["errors"]
    assert finding["kind"] == "invalid-article" and finding["path"] == str(articles_dir / "huge.md")
    assert "over the limit of 1,500" in finding["message"]


HOSTILE = (
    "# Refunds\n\n## Refund timing\n\nWe refund within 5 business days.\x1b[2J\x1b]0;pwned\x07 Your bank"
    " takes a week\x9b31m more.\n"
)
"""Terminal commands in an article: clear the screen, set the window title, 8-bit CSI (red)."""


def _assert_inert(text: str) -> None:
    assert not any(c in text for c in "\x1b\x07\x9b\udcff"), repr(text)


def test_human_output_shows_terminal_controls_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    articles = write_articles(tmp_path / "kb", {"refunds.md": HOSTILE, "shipping.md": SHIPPING})
    message = "we refund within 5 business days, your bank takes a week more"
    index = str(tmp_path / "ix")
    assert main(["build", str(articles), "--index", index, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["search", message, "--index", index]) == 0
    out = capsys.readouterr().out
    _assert_inert(out)
    assert "days.\\x1b[2J\\x1b]0;pwned\\x07 Your bank takes a week\\x9b31m more." in out
    assert main(["suggest", message, "--index", index]) == 0
    out = capsys.readouterr().out
    _assert_inert(out)
    assert "--- draft (friendly; cites refunds#refund-timing)" in out and "days.\\x1b[2J\\x1b]0;pwned\\x07" in out

    (articles / "title\x1b]0;pwned\x07.md").write_text("  \n", encoding="utf-8")
    assert main(["lint", str(articles), "--no-similarity", "--json"]) == 2
    assert "title\\u001b]0;pwned\\u0007.md" in capsys.readouterr().out  # JSON escapes them its own way
    (articles / os.fsdecode(b"caf\xe9.md")).write_text("  \n", encoding="utf-8")  # a Latin-1 file name
    assert main(["build", str(articles), "--index", index, "--quiet"]) == 2
    assert main(["lint", str(articles), "--no-similarity"]) == 2
    captured = capsys.readouterr()
    for text in (captured.err, captured.out):
        _assert_inert(text)
        assert "title\\x1b]0;pwned\\x07.md: " in text and "caf\\udce9.md: " in text


def test_a_setting_that_cannot_be_used_names_its_variable(
    articles_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBSUGGEST_MAX_ARTICLE_BYTES", "1MB")
    assert main(["build", str(articles_dir), "--index", str(tmp_path / "ix"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: KBSUGGEST_MAX_ARTICLE_BYTES='1MB': Input should be a valid integer")
    assert "Fix: correct the environment variable" in err
