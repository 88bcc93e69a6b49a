"""The MCP server as a client sees it: spawned over stdio, or serving Streamable HTTP, and driven with the
official SDK's ClientSession."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client, types
from mcp.client.streamable_http import streamable_http_client

from kbsuggest.cli import main
from kbsuggest.config import Settings
from kbsuggest.errors import InputError
from kbsuggest.kb import KnowledgeBase
from kbsuggest.surfaces.mcp_server import INSTRUCTIONS, MCP_PATH, HttpApp, create_server
from kbsuggest.tools import CONTENT_NOTICE, TOOLS, anthropic_tools
from tests.conftest import HASHING_ENV


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
                results.update(await _use(client))

    anyio.run(session)
    _check(results)
    assert "Traceback" not in (tmp_path / "server-stderr.txt").read_text()


async def _use(client: ClientSession) -> dict[str, Any]:
    """The calls every transport's test makes. The SDK's client checks each successful result's
    `structuredContent` against the tool's `outputSchema`, and raises if it does not match."""
    results: dict[str, Any] = {"init": await client.initialize()}
    results["tools"] = (await client.list_tools()).tools
    results["search"] = await client.call_tool(
        "search_knowledge_base", {"message": "when will my refund arrive", "k": 2}
    )
    results["suggest"] = await client.call_tool(
        "suggest_reply", {"message": "how much is express shipping", "context": {"customer_name": "Ann"}}
    )
    results["follow_up"] = await client.call_tool(
        "suggest_reply",
        {"message": "and express?", "history": [{"role": "customer", "text": "how much is standard shipping"}]},
    )
    results["bad"] = await client.call_tool("suggest_reply", {"message": "hi", "k": 0, "tone": "rude"})
    results["unknown"] = await client.call_tool("refund_everyone", {})
    results["feedback"] = await client.call_tool("record_feedback", {"suggestion_id": "x", "outcome": "accepted"})
    return results


def _check(results: dict[str, Any]) -> None:
    init = results["init"]
    assert init.instructions == INSTRUCTIONS and init.server_info.name == "kbsuggest"
    assert [(t.name, t.description, t.input_schema) for t in results["tools"]] == [
        (t["name"], t["description"], t["input_schema"]) for t in anthropic_tools()
    ]
    search_tool, suggest_tool = results["tools"]
    assert search_tool.title == "Search the help centre" and suggest_tool.title == "Draft a reply to a customer"
    assert search_tool.annotations.read_only_hint is True and search_tool.annotations.open_world_hint is False
    assert suggest_tool.annotations.read_only_hint is False and suggest_tool.annotations.destructive_hint is False
    assert suggest_tool.output_schema == TOOLS["suggest_reply"].output_schema(compact=True)
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
    assert "text" not in suggestion["answers"][0] and suggestion["answers"][0]["snippet"]  # compact

    follow_up = _payload(results["follow_up"])["result"]
    assert follow_up["conversation"]["kind"] == "follow_up" and follow_up["answers"][0]["article_id"] == "shipping"

    bad = results["bad"]
    assert bad.is_error
    problem = _payload(bad)["error"]
    assert problem["type"] == "invalid_arguments"
    assert "k: Input should be greater than or equal to 1" in problem["message"] and "tone:" in problem["message"]

    unknown = results["unknown"]
    assert unknown.is_error and _payload(unknown)["error"]["type"] == "unknown_tool"
    feedback = results["feedback"]  # not served unless asked for
    assert feedback.is_error and _payload(feedback)["error"]["type"] == "unknown_tool"


def test_record_feedback_and_full_results_are_served_when_asked_for(index_dir: Path, tmp_path: Path) -> None:
    command = ["-m", "kbsuggest.cli", "mcp", "--index", str(index_dir), "--feedback", "--full-results"]
    server = StdioServerParameters(command=sys.executable, args=command, env={"KBSUGGEST_MODEL": "hashing"})
    results: dict[str, Any] = {}

    async def session() -> None:
        with anyio.fail_after(15), (tmp_path / "server-stderr.txt").open("w") as errlog:
            async with stdio_client(server, errlog=errlog) as (read, write), ClientSession(read, write) as client:
                await client.initialize()
                results["tools"] = (await client.list_tools()).tools
                suggestion = await client.call_tool("suggest_reply", {"message": "when will my refund arrive"})
                results["suggestion"] = _payload(suggestion)["result"]
                verdict = {"suggestion_id": results["suggestion"]["id"], "outcome": "edited", "final_text": "Hi!"}
                results["feedback"] = await client.call_tool("record_feedback", verdict)

    anyio.run(session)
    feedback_tool = results["tools"][-1]
    assert [t.name for t in results["tools"]] == ["search_knowledge_base", "suggest_reply", "record_feedback"]
    assert feedback_tool.annotations.read_only_hint is False and feedback_tool.annotations.destructive_hint is False
    assert results["suggestion"]["answers"][0]["text"] and results["suggestion"]["analysis"]
    assert results["tools"][1].output_schema == TOOLS["suggest_reply"].output_schema(compact=False)
    assert not results["feedback"].is_error and _payload(results["feedback"])["result"]["outcome"] == "edited"


@contextmanager
def mcp_over_http(index_dir: Path, key: str) -> Iterator[str]:
    """`kbsuggest mcp --http` in a process on a free 127.0.0.1 port, with `key`; yields the endpoint's URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "kbsuggest.cli", "mcp", "--http", "--index", str(index_dir), "--port", str(port)]
    env = {**HASHING_ENV, "KBSUGGEST_API_KEY": key}
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as server:
        try:
            assert server.stderr is not None
            log = []
            for line in server.stderr:  # until uvicorn says where it listens (or the process ends)
                log.append(line)
                if "Uvicorn running on" in line:
                    break
            assert f"Uvicorn running on http://127.0.0.1:{port}" in log[-1], log
            yield f"http://127.0.0.1:{port}{MCP_PATH}"
        finally:
            server.terminate()
            server.wait(10)


def test_a_real_client_over_streamable_http_with_the_service_key(index_dir: Path) -> None:
    key = "mcp-s3cret"
    with mcp_over_http(index_dir, key) as url:
        results: dict[str, Any] = {}

        async def session() -> None:
            with anyio.fail_after(30):
                async with (
                    httpx2.AsyncClient(headers={"X-API-Key": key}) as http,
                    streamable_http_client(url, http_client=http) as (read, write),
                    ClientSession(read, write) as client,
                ):
                    results.update(await _use(client))

        anyio.run(session)
        _check(results)

        hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        mcp_headers = {"accept": "application/json, text/event-stream"}
        for headers in ({}, {"X-API-Key": "wrong"}):
            refused = httpx.post(url, json=hello, headers={**mcp_headers, **headers})
            assert refused.status_code == 401 and refused.json()["error"]["type"] == "unauthorized"
        foreign = httpx.post(url, json=hello, headers={**mcp_headers, "X-API-Key": key, "Host": "evil.example"})
        assert foreign.status_code == 400 and foreign.json()["error"]["type"] == "invalid_host"


def test_mcp_with_a_missing_index_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBSUGGEST_MODEL", "hashing")
    assert main(["mcp", "--index", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "holds no index" in err and "kbsuggest build" in err


def test_a_request_with_an_escaped_lone_surrogate_gets_a_reply(index_dir: Path, tmp_path: Path) -> None:
    """A "\\ud800" escape is valid JSON but not Unicode: the SDK cannot read the line, so no reply came."""
    hello = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    search = {"name": "search_knowledge_base", "arguments": {"message": "when will my refund arrive"}}
    lines = [
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello}),
        '{"jsonrpc": "2.0", "method": "notifications/initialized"}',
        # Raw JSON text: json.dumps would escape the backslash, or fail on the lone surrogate.
        '{"jsonrpc": "2.0", "id": 2, "method": "tools/call", '
        '"params": {"name": "search_knowledge_base", "arguments": {"message": "refund \\ud800 please"}}}',
        '{"jsonrpc": "2.0", "id": "three", "method": "tools/call", '
        '"params": {"name": "suggest_reply", "arguments": {"message": "hi", "context": {"\\udfff": "x"}}}}',
        '{"jsonrpc": "2.0", "id": 4, "method": "tools/list", "params": {"cursor": "\\ud800"}}',
        '{"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {',
        '{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "\\ud800"}}',
        json.dumps({"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": search}),
    ]
    replies: list[dict[str, Any]] = []

    async def session() -> None:
        command = [sys.executable, "-m", "kbsuggest.cli", "mcp", "--index", str(index_dir)]
        with anyio.fail_after(15), (tmp_path / "server-stderr.txt").open("w") as errlog:
            env = {**os.environ, "KBSUGGEST_MODEL": "hashing"}
            async with await anyio.open_process(command, env=env, stderr=errlog) as server:
                assert server.stdin is not None and server.stdout is not None
                await server.stdin.send("".join(line + "\n" for line in lines).encode())
                received = b""
                while len(replies) < 6:
                    received += await server.stdout.receive()
                    *complete, received = received.split(b"\n")
                    replies.extend(json.loads(line) for line in complete)
                await server.stdin.aclose()

    anyio.run(session)

    by_id = {reply["id"]: reply for reply in replies}
    assert set(by_id) == {1, 2, "three", 4, None, 6}
    for request_id, where in ((2, "arguments.message"), ("three", "arguments.context.\\udfff")):
        result = by_id[request_id]["result"]
        assert result["isError"] is True
        problem = result["structuredContent"]["error"]
        assert problem["type"] == "invalid_arguments"
        assert problem["message"].startswith(f"{where} is not valid Unicode") and "Fix:" in problem["message"]
        assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    assert by_id[4]["error"]["code"] == types.INVALID_PARAMS and "cursor" in by_id[4]["error"]["message"]
    assert by_id[None]["error"]["code"] == types.PARSE_ERROR
    assert not by_id[6]["result"]["isError"]  # the server still answers after all that
    assert "Traceback" not in (tmp_path / "server-stderr.txt").read_text()


def test_mcp_over_http_with_a_blank_key_refuses_to_start(
    index_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBSUGGEST_API_KEY", " ")
    assert main(["mcp", "--http", "--index", str(index_dir)]) == 2
    assert "KBSUGGEST_API_KEY is empty" in capsys.readouterr().err
    server = create_server(KnowledgeBase.load(index_dir, settings=Settings(model="hashing")))
    with pytest.raises(InputError, match="the API key is empty"):
        HttpApp(server, api_key="")


def test_a_real_client_names_the_knowledge_base_when_several_are_served(articles_dir: Path, tmp_path: Path) -> None:
    hashing = Settings(model="hashing")
    KnowledgeBase.build(articles_dir, tmp_path / "kbs" / "shop", settings=hashing)
    other = tmp_path / "other-articles"
    other.mkdir()
    (other / "gifts.md").write_text("---\nid: gift-cards\n---\n# Gift cards\n\nGift cards never expire.\n")
    KnowledgeBase.build(other, tmp_path / "gifts-index", settings=hashing)
    server = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "kbsuggest.cli",
            "mcp",
            "--kbs",
            str(tmp_path / "kbs"),
            "--kb",
            f"gifts={tmp_path / 'gifts-index'}",
        ],
        env={"KBSUGGEST_MODEL": "hashing"},
    )
    results: dict[str, Any] = {}

    async def session() -> None:
        with anyio.fail_after(15), (tmp_path / "server-stderr.txt").open("w") as errlog:
            async with stdio_client(server, errlog=errlog) as (read, write), ClientSession(read, write) as client:
                results["init"] = await client.initialize()
                results["tools"] = (await client.list_tools()).tools
                for kb in ("shop", "gifts"):
                    results[kb] = await client.call_tool(
                        "search_knowledge_base", {"kb": kb, "message": "refund", "k": 1}
                    )
                results["unknown"] = await client.call_tool("suggest_reply", {"kb": "nope", "message": "refund"})
                results["none"] = await client.call_tool("suggest_reply", {"message": "refund"})

    anyio.run(session)
    assert "several knowledge bases" in results["init"].instructions and "gifts, shop" in results["init"].instructions
    assert all("kb" in t.input_schema["required"] for t in results["tools"])
    assert _payload(results["shop"])["result"]["answers"][0]["article_id"] == "refunds"
    assert _payload(results["gifts"])["result"]["answers"][0]["article_id"] == "gift-cards"
    assert results["unknown"].is_error and _payload(results["unknown"])["error"] == {
        "type": "unknown_knowledge_base",
        "message": "no knowledge base named 'nope'. Fix: use one of gifts, shop",
    }
    assert results["none"].is_error and "kb: Field required" in _payload(results["none"])["error"]["message"]


def test_a_real_client_asks_every_knowledge_base_published_in_a_database(
    articles_dir: Path, tmp_path: Path, database_url: str
) -> None:
    from kbsuggest.database import Database

    hashing = Settings(model="hashing")
    other = tmp_path / "other-articles"
    other.mkdir()
    (other / "gifts.md").write_text("---\nid: gift-cards\n---\n# Gift cards\n\nGift cards never expire.\n")
    database = Database(database_url)
    KnowledgeBase.publish(articles_dir, database, "shop", settings=hashing)
    KnowledgeBase.publish(other, database, "gifts", settings=hashing)
    database.close()
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "kbsuggest.cli", "mcp", "--database", database_url],
        env={"KBSUGGEST_MODEL": "hashing", "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
    )
    results: dict[str, Any] = {}

    async def session() -> None:
        with anyio.fail_after(30), (tmp_path / "server-stderr.txt").open("w") as errlog:
            async with stdio_client(server, errlog=errlog) as (read, write), ClientSession(read, write) as client:
                results["init"] = await client.initialize()
                for kb in ("shop", "gifts"):
                    results[kb] = await client.call_tool(
                        "search_knowledge_base", {"kb": kb, "message": "refund", "k": 1}
                    )

    anyio.run(session)
    assert "gifts, shop" in results["init"].instructions
    assert _payload(results["shop"])["result"]["answers"][0]["article_id"] == "refunds"
    assert _payload(results["gifts"])["result"]["answers"][0]["article_id"] == "gift-cards"
