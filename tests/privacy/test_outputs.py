"""Personal numbers in a customer message reach no output: the real `kbsuggest suggest` command on a built index,
its text and JSON output, its error messages and the feedback database it writes (issue 12, items 1 and 2)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kbsuggest import KnowledgeBase
from kbsuggest.kb import FEEDBACK_FILE
from kbsuggest.tools import call_tool
from tests.conftest import HASHING, HASHING_ENV, REFUND, RETURNS_ZH, SHIPPING, write_articles

HUMAN = "I want a human"
"""Asks for a person, so the draft hands over with the phrase that names the order number when it knows one."""

ATTACKS = {
    "card": (f"my card 4111111111111111 was charged twice, {HUMAN}", "4111111111111111"),
    "IBAN": (f"refund it to DE89370400440532013000 please, {HUMAN}", "DE89370400440532013000"),
    "CN mobile": ("退款还没到账，我的手机13800138000，转人工", "13800138000"),
    "UK mobile": (f"parcel never came, call me on 07911 123456, {HUMAN}", "07911 123456"),
    "UK landline as 'order'": (f"my order is 020-7946-0958, {HUMAN}", "020-7946-0958"),
    "UK from abroad": (f"ring 0044 7911 123456 about the refund, {HUMAN}", "0044 7911 123456"),
    "FR mobile": (f"remboursement ? appelez le 06 12 34 56 78, {HUMAN}", "06 12 34 56 78"),
}


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("privacy")
    articles = write_articles(root / "articles", {"refunds.md": REFUND, "shipping.md": SHIPPING, "zh/r.md": RETURNS_ZH})
    KnowledgeBase.build(articles, root / "ix", settings=HASHING)
    return root / "ix"


def suggest(index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kbsuggest.cli", "suggest", *args, "--index", str(index)],
        env=HASHING_ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_absent(value: str, text: str) -> None:
    """Neither as written nor with its separators removed."""
    assert value not in text
    assert re.sub(r"[ \-]", "", value) not in text


def logged_messages(index: Path) -> str:
    with sqlite3.connect(index / FEEDBACK_FILE) as db:
        return "\n".join(row[0] for row in db.execute("SELECT message FROM suggestions"))


@pytest.mark.parametrize(("message", "value"), ATTACKS.values(), ids=ATTACKS.keys())
def test_a_personal_number_reaches_no_output(index: Path, message: str, value: str) -> None:
    shown = suggest(index, message)
    as_json = suggest(index, message, "--json")
    assert shown.returncode == 0 and as_json.returncode == 0, shown.stderr + as_json.stderr
    suggestion = json.loads(as_json.stdout)
    assert suggestion["escalate_reason"] == "human_requested"
    assert suggestion["analysis"]["order_ids"] == []
    for output in (shown.stdout, shown.stderr, as_json.stdout, as_json.stderr, logged_messages(index)):
        assert_absent(value, output)


def test_an_order_number_is_still_named_in_the_hand_over(index: Path) -> None:
    """The control for the test above: the slot it protects is filled when the message names an order."""
    result = suggest(index, f"where is order A1048321? {HUMAN}", "--json")
    suggestion = json.loads(result.stdout)
    assert suggestion["analysis"]["order_ids"] == ["A1048321"]
    assert "order A1048321" in suggestion["drafts"][0]["text"]


def test_a_personal_number_given_as_context_or_in_a_bad_argument_is_masked(index: Path) -> None:
    result = suggest(index, f"where is my refund? {HUMAN}", "--context", "order_id=4111 1111 1111 1111")
    assert result.returncode == 0, result.stderr
    assert "[CARD]" in result.stdout
    assert_absent("4111 1111 1111 1111", result.stdout)
    refused = suggest(index, "where is my refund?", "--context", "07911 123456")
    assert refused.returncode == 2 and "is not KEY=VALUE" in refused.stderr
    assert_absent("07911 123456", refused.stderr)


def test_tool_errors_quoting_the_arguments_are_masked(index: Path) -> None:
    kb = KnowledgeBase.load(index, settings=HASHING)
    bad_context = call_tool(kb, "suggest_reply", {"message": "refund?", "context": {"07911 123456": 5}})
    unknown_id = call_tool(
        kb, "record_feedback", {"suggestion_id": "4111111111111111", "outcome": "accepted"}, feedback=True
    )
    for result in (bad_context, unknown_id):
        assert set(result) == {"error"}
    assert "context.[PHONE]" in bad_context["error"]["message"]
    assert "no suggestion '[CARD]'" in unknown_id["error"]["message"]
