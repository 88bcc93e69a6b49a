"""`kbsuggest mcp`: the agent tools of `kbsuggest.tools`, served over stdio with the official MCP SDK.

Tools that fail (unknown name, bad arguments, a library error) return a result with `isError` set and the
structured error as its text, so the calling model can read it and retry. A request the SDK cannot read
still gets a reply: a tool call whose JSON holds an escaped lone surrogate ("\\ud800", valid JSON but not
Unicode) an `isError` result, any other request a JSON-RPC error, and a line that is not JSON a parse error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from anyio.streams.memory import MemoryObjectSendStream
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from kbsuggest import __version__
from kbsuggest.kb import KnowledgeBase
from kbsuggest.tools import anthropic_tools, call_tool, error

SERVER_NAME = "kbsuggest"


def create_server(kb: KnowledgeBase) -> Server[dict[str, Any]]:
    """An MCP server whose tools answer from `kb`."""
    tools = [
        types.Tool(name=t["name"], description=t["description"], input_schema=t["input_schema"])
        for t in anthropic_tools()
    ]

    async def list_tools(
        ctx: ServerRequestContext[dict[str, Any]], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def run_tool(
        ctx: ServerRequestContext[dict[str, Any]], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        # Retrieval is CPU-bound: run it in a worker thread so the session keeps reading messages.
        return _tool_result(await anyio.to_thread.run_sync(call_tool, kb, params.name, params.arguments))

    return Server(SERVER_NAME, version=__version__, on_list_tools=list_tools, on_call_tool=run_tool)


def _tool_result(result: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(result, ensure_ascii=False))],
        structured_content=result,
        is_error="error" in result,
    )


def serve_stdio(index_dir: Path | str) -> None:
    """Load the index in `index_dir` (raising `KbSuggestError` if it cannot be used), then serve until stdin closes."""
    server = create_server(KnowledgeBase.load(index_dir))

    async def run() -> None:
        async with stdio_server() as (read_stream, write_stream), anyio.create_task_group() as tasks:
            forward, readable = anyio.create_memory_object_stream[SessionMessage | Exception]()
            tasks.start_soon(_answer_unreadable, read_stream, forward, write_stream.send)
            await server.run(readable, write_stream, server.create_initialization_options())

    anyio.run(run)


async def _answer_unreadable(
    incoming: AsyncIterable[SessionMessage | Exception],
    forward: MemoryObjectSendStream[SessionMessage | Exception],
    reply: Callable[[SessionMessage], Awaitable[None]],
) -> None:
    """Pass the transport's messages on to the server, and answer the lines it could not read.

    The SDK's transport hands the server an exception for such a line, which the server drops: the
    client would wait for a reply until its timeout."""
    async with forward:
        async for item in incoming:
            answer = _reply_to_unreadable(item) if isinstance(item, ValidationError) else None
            if answer is None:
                await forward.send(item)
            else:
                await reply(SessionMessage(answer))


def _reply_to_unreadable(problem: ValidationError) -> types.JSONRPCResponse | types.JSONRPCError | None:
    """The reply to a line the SDK failed to parse as JSON (`problem` holds it); None to leave it to the SDK."""
    line = next((e["input"] for e in problem.errors() if e["type"] == "json_invalid"), None)
    if not isinstance(line, str):
        return None
    try:
        request = json.loads(line)  # unlike the SDK's parser, Python's reads "\ud800"
    except json.JSONDecodeError as exc:
        return _error(None, types.PARSE_ERROR, f"the line is not JSON ({exc.msg} at character {exc.pos})")
    if not isinstance(request, dict) or "method" not in request or "id" not in request:
        return None  # a notification or a response: nobody waits for a reply
    request_id = request["id"]
    if not isinstance(request_id, int | str) or isinstance(request_id, bool) or not _is_unicode(str(request_id)):
        request_id = None
    where = next((path for path, text in _strings(request, "") if not _is_unicode(text)), None)
    if where is None:
        return _error(request_id, types.INVALID_REQUEST, "the request could not be read")
    message = (
        f"{where.removeprefix('params.')} is not valid Unicode (an escaped unpaired surrogate such as \\ud800). "
        "Fix: decode the customer's text as UTF-8 before passing it"
    )
    if request.get("method") != "tools/call" or request_id is None:
        return _error(request_id, types.INVALID_PARAMS, message)
    result = _tool_result(error("invalid_arguments", message))
    return types.JSONRPCResponse(
        jsonrpc="2.0", id=request_id, result=result.model_dump(by_alias=True, mode="json", exclude_none=True)
    )


def _error(request_id: int | str | None, code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(jsonrpc="2.0", id=request_id, error=types.ErrorData(code=code, message=message))


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value, keys included, with its dotted path (surrogates escaped)."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            readable = key.encode("utf-8", "backslashreplace").decode("utf-8")
            path = f"{where}.{readable}" if where else readable
            yield path, key
            yield from _strings(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}.{index}")


def _is_unicode(text: str) -> bool:
    """False for a string holding a lone surrogate, which cannot be encoded, so not sent back either."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
