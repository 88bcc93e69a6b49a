"""The MCP server as a client sees it: spawned over stdio and driven with the official SDK's ClientSession."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client, types

from kbsuggest.cli import main
from kbsuggest.config import Settings
from kbsuggest.kb import KnowledgeBase
from kbsuggest.tools import CONTENT_NOTICE, anthropic_tools


@pytest.fixture
def index_dir(articles_dir: Path, tmp_path: Path) -> Path:
    KnowledgeBase.build(articles_dir, tmp_path / "ix", settings=Settings(model="hashing"))
    return tmp_path / "ix"


def _payload(result: types.CallToolResult) -> dict[str, Any]:
    [content] = result.content
    assert isinstance(content, types.TextContent)
    payload: dict[str, Any] = json.loads(content.text)
    assert result.structured_content == payload
    return payload


def test_a_real_client_lists_and_calls_the_tools(index_dir: Path, tmp_path: Path) -> None:
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "kbsuggest.cli", "mcp", "--index", str(index_dir)],
        env={"KBSUGGEST_MODEL": "hashing"},
    )
    results: dict[str, Any] = {}

    async def session() -> None:
        with anyio.fail_after(15), (tmp_path / "server-stderr.txt").open("w") as errlog:
            async with stdio_client(server, errlog=errlog) as (read, write), ClientSession(read, write) as client:
                await client.initialize()
                results["tools"] = (await client.list_tools()).tools
                results["search"] = await client.call_tool(
                    "search_knowledge_base", {"message": "when will my refund arrive", "k": 2}
                )
                results["suggest"] = await client.call_tool(
                    "suggest_reply", {"message": "how much is express shipping", "context": {"customer_name": "Ann"}}
                )
                results["bad"] = await client.call_tool("suggest_reply", {"message": "hi", "k": 0, "tone": "rude"})
                results["unknown"] = await client.call_tool("refund_everyone", {})

    anyio.run(session)

    assert [(t.name, t.description, t.input_schema) for t in results["tools"]] == [
        (t["name"], t["description"], t["input_schema"]) for t in anthropic_tools()
    ]
    search = results["search"]
    assert not search.is_error
    payload = _payload(search)
    assert payload["content_notice"] == CONTENT_NOTICE
    assert next(a["article_id"] for a in payload["result"]["answers"]) == "refunds"

    suggest = results["suggest"]
    assert not suggest.is_error
    suggestion = _payload(suggest)["result"]
    assert suggestion["answers"][0]["article_id"] == "shipping"
    assert suggestion["drafts"][0]["text"].startswith("Hi Ann")

    bad = results["bad"]
    assert bad.is_error
    problem = _payload(bad)["error"]
    assert problem["type"] == "invalid_arguments"
    assert "k: Input should be greater than or equal to 1" in problem["message"] and "tone:" in problem["message"]

    unknown = results["unknown"]
    assert unknown.is_error and _payload(unknown)["error"]["type"] == "unknown_tool"
    assert "Traceback" not in (tmp_path / "server-stderr.txt").read_text()


def test_mcp_with_a_missing_index_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBSUGGEST_MODEL", "hashing")
    assert main(["mcp", "--index", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert "holds no index" in err and "kbsuggest build" in err
