from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import struct
import termios
import threading
from pathlib import Path

import pytest

import kbsuggest
from kbsuggest.cli import _parser, main
from tests.conftest import SHIPPING, run_cli, write_articles


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


def test_database_options_that_cannot_be_used_are_clear_errors(
    articles_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KBSUGGEST_DATABASE_URL", raising=False)
    assert main(["build", str(articles_dir), "--index", str(tmp_path / "ix"), "--kb", "shop"]) == 2
    assert "--kb names a knowledge base in a database. Fix: pass --database URL too" in capsys.readouterr().err
    assert main(["build", str(articles_dir), "--database", "postgresql://127.0.0.1:1/kb"]) == 2
    assert "--kb NAME is required with --database" in capsys.readouterr().err
    assert main(["serve"]) == 2
    assert "nothing to serve. Fix: pass --index INDEX_DIR, --kb NAME=INDEX_DIR, --kbs FOLDER or --database URL" in (
        capsys.readouterr().err
    )
    for wrong in (["--kb", f"shop={tmp_path}"], ["--kbs", str(tmp_path)]):
        assert main(["serve", "--database", "postgresql://127.0.0.1:1/kb", *wrong]) == 2
        assert "Fix: name them with --kb NAME (no =INDEX_DIR, no --kbs)" in capsys.readouterr().err
    assert not (tmp_path / "ix").exists()


def test_database_without_the_postgres_extra_says_how_to_install_it(articles_dir: Path, tmp_path: Path) -> None:
    absent = ("psycopg", "psycopg_pool")
    done = run_cli("build", articles_dir, "--database", "postgresql://127.0.0.1:1/kb", "--kb", "shop", absent=absent)
    assert done.returncode == 2
    assert b"--database needs psycopg, which is not installed. Fix: pip install 'kbsuggest[postgres]'" in done.stderr
    assert (
        run_cli("build", articles_dir, "--index", tmp_path / "ix", absent=absent).returncode == 0
    )  # folders need none


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
    assert report["section_accuracy@1"] == 1.0  # the one line naming a section
    assert main(["eval", str(queries), "--index", str(tmp_path / "ix"), "--min-accuracy", "1.01"]) == 1
    assert "below threshold: accuracy@1" in capsys.readouterr().err
    assert main(["eval", str(queries), "--index", str(tmp_path / "ix"), "--min-section-accuracy", "1.01"]) == 1
    captured = capsys.readouterr()
    assert "section accuracy@1 1.000" in captured.out
    assert "below threshold: section_accuracy@1 1.000 < 1.01" in captured.err


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
    assert main(["eval", str(queries), "--index", str(tmp_path / "ix")]) == 2
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
    assert main(["lint", str(articles_dir), "--no-similarity", "--json"]) == 1
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


def test_terminal_controls_in_articles_are_refused_and_output_shows_them_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    articles = write_articles(tmp_path / "kb", {"refunds.md": HOSTILE, "shipping.md": SHIPPING})
    index = str(tmp_path / "ix")
    assert main(["build", str(articles), "--index", index, "--quiet"]) == 2
    err = capsys.readouterr().err
    _assert_inert(err)
    assert "refunds.md:5: a control character U+001B" in err and "only tabs and line breaks are allowed" in err
    assert main(["lint", str(articles), "--no-similarity"]) == 1
    assert "refunds.md:5: error: invalid-article: a control character U+001B" in capsys.readouterr().out

    (articles / "title\x1b]0;pwned\x07.md").write_text("  \n", encoding="utf-8")
    assert main(["lint", str(articles), "--no-similarity", "--json"]) == 1
    assert "title\\u001b]0;pwned\\u0007.md" in capsys.readouterr().out  # JSON escapes them its own way
    (articles / os.fsdecode(b"caf\xe9.md")).write_text("  \n", encoding="utf-8")  # a Latin-1 file name
    assert main(["build", str(articles), "--index", index, "--quiet"]) == 2
    assert main(["lint", str(articles), "--no-similarity"]) == 1
    captured = capsys.readouterr()
    for text in (captured.err, captured.out):
        _assert_inert(text)
        assert "title\\x1b]0;pwned\\x07.md: " in text and "caf\\udce9.md: " in text


def test_a_setting_that_cannot_be_used_names_its_variable(
    articles_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBSUGGEST_MAX_ARTICLE_BYTES", "1MB")
    assert main(["build", str(articles_dir), "--index", str(tmp_path / "ix"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: KBSUGGEST_MAX_ARTICLE_BYTES='1MB': Input should be a valid integer")
    assert "Fix: correct the environment variable" in err


@pytest.fixture
def index(articles_dir: Path, tmp_path: Path) -> Path:
    assert main(["build", str(articles_dir), "--index", str(tmp_path / "ix"), "--quiet"]) == 0
    return tmp_path / "ix"


def test_a_message_of_dash_is_read_from_standard_input(index: Path) -> None:
    message = "退款 refund timing: bank business days?"
    piped = run_cli("suggest", "-", "--index", index, "--json", stdin=f"{message}\n".encode())
    assert piped.returncode == 0, piped.stderr
    suggestion = json.loads(piped.stdout)
    assert suggestion["message"] == message
    assert suggestion["answers"][0]["article_id"] == "refunds"
    searched = run_cli("search", "-", "--index", index, "--json", stdin=message.encode())
    assert [a["section_id"] for a in json.loads(searched.stdout)] == [a["section_id"] for a in suggestion["answers"]]
    latin1 = run_cli("search", "-", "--index", index, stdin="remboursé".encode("latin-1"))
    assert latin1.returncode == 2
    assert b"standard input is not UTF-8 text (byte 8 cannot be decoded)" in latin1.stderr


def test_version() -> None:
    done = run_cli("--version")
    assert (done.returncode, done.stdout.decode()) == (0, f"kbsuggest {kbsuggest.__version__}\n")


def test_exit_status_is_0_success_1_findings_2_could_not_run(index: Path, articles_dir: Path, tmp_path: Path) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"query": "refund timing bank business days", "expected": ["refunds"]}\n', encoding="utf-8")
    (articles_dir / "old.md").write_text(
        "---\nvalid_until: 2020-01-01\n---\n# Old\n\nAn old offer.\n", encoding="utf-8"
    )
    statuses = {
        "search": run_cli("search", "refunds", "--index", index),
        "lint with a warning": run_cli("lint", articles_dir, "--no-similarity"),
        "lint --strict with a warning": run_cli("lint", articles_dir, "--no-similarity", "--strict"),
        "lint --max-warnings 1": run_cli("lint", articles_dir, "--no-similarity", "--max-warnings", "1"),
        "eval under --min-accuracy": run_cli("eval", queries, "--index", index, "--min-accuracy", "1.01"),
        "no --index": run_cli("search", "refunds"),
        "an unknown option": run_cli("report", "--index", index, "--colour"),
        "an empty message": run_cli("search", " ", "--index", index),
        "no index there": run_cli("report", "--index", tmp_path / "none"),
        "a bad --context": run_cli("suggest", "hi", "--index", index, "--context", "Ann"),
        "an empty --api-key": run_cli("serve", "--index", index, "--api-key", ""),
    }
    assert {what: done.returncode for what, done in statuses.items()} == {
        "search": 0,
        "lint with a warning": 0,
        "lint --strict with a warning": 1,
        "lint --max-warnings 1": 0,
        "eval under --min-accuracy": 1,
        "no --index": 2,
        "an unknown option": 2,
        "an empty message": 2,
        "no index there": 2,
        "a bad --context": 2,
        "an empty --api-key": 2,
    }
    for done in statuses.values():
        assert b"Traceback" not in done.stderr
    assert b"argument --context: 'Ann' is not KEY=VALUE" in statuses["a bad --context"].stderr


def test_errors_are_json_with_json(index: Path, articles_dir: Path, tmp_path: Path) -> None:
    def error(*args: str | Path) -> dict[str, object]:
        done = run_cli(*args, "--json")
        assert done.returncode == 2 and done.stderr == b"", done.stderr
        body: dict[str, object] = json.loads(done.stdout)["error"]
        return body

    assert error("search", "", "--index", index) == {
        "type": "InputError",
        "message": "the message is empty. Fix: pass the customer's text",
    }
    assert error("search", "refunds") == {
        "type": "UsageError",
        "message": "kbsuggest search: the following arguments are required: --index",
    }
    assert error("report", "--index", tmp_path / "none")["type"] == "IndexCorruptError"
    assert error("search", "refunds", "--index", index, "ann@example.com") == {  # personal data quoted is masked
        "type": "UsageError",
        "message": "kbsuggest: unrecognized arguments: [EMAIL]",
    }
    (articles_dir / "typo.md").write_text("---\nstgae: pre_sale\n---\n# T\n\nBody.\n", encoding="utf-8")
    invalid = error("build", articles_dir, "--index", index)
    assert invalid["type"] == "ArticlesInvalid"
    [problem] = invalid["problems"]  # type: ignore[misc]
    assert (problem["path"], problem["line"], problem["problem"]) == (
        str(articles_dir / "typo.md"),
        2,
        "unknown front-matter field 'stgae'",
    )
    assert problem["fix"].startswith("did you mean 'stage'?")


def test_no_progress_bar_unless_stderr_is_a_terminal(articles_dir: Path, tmp_path: Path) -> None:
    piped = run_cli("build", articles_dir, "--index", tmp_path / "piped")
    assert piped.returncode == 0 and piped.stderr == b""
    for quiet, bar in (((), True), (("--quiet",), False)):
        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # a new one is 0 wide
        shown = bytearray()

        def read(fd: int = leader, into: bytearray = shown) -> None:
            with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
                while chunk := os.read(fd, 4096):
                    into.extend(chunk)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            done = run_cli("build", articles_dir, "--index", tmp_path / f"tty{bar}", *quiet, stderr=follower)
        finally:
            os.close(follower)
            reader.join(timeout=60)
            os.close(leader)
        assert done.returncode == 0
        assert (b"encoding: 100%" in shown) is bar, bytes(shown)


def test_every_command_and_option_has_help_and_examples() -> None:
    parser = _parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(commands.choices) == {"build", "search", "suggest", "eval", "report", "mcp", "serve", "lint"}
    for name, command in commands.choices.items():
        assert command.epilog and command.epilog.startswith("examples:\n  kbsuggest "), name
        for action in command._actions:
            assert action.help, f"{name} {action.dest}"
    shown = run_cli("lint", "--help").stdout.decode()
    assert "examples:\n  kbsuggest lint articles\n" in shown and "--strict" in shown
    top = run_cli("--help").stdout.decode()
    assert "exit status:\n  0  success" in top and "  2  the command could not run" in top
