"""`kbsuggest mcp`: the agent tools of `kbsuggest.tools`, served over stdio with the official MCP SDK.

Tools that fail (unknown name, bad arguments, a library error) return a result with `isError` set and the
structured error as its text, so the calling model can read it and retry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from mcp import types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server

from kbsuggest import __version__
from kbsuggest.kb import KnowledgeBase
from kbsuggest.tools import anthropic_tools, call_tool

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
        result = await anyio.to_thread.run_sync(call_tool, kb, params.name, params.arguments)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(result, ensure_ascii=False))],
            structured_content=result,
            is_error="error" in result,
        )

    return Server(SERVER_NAME, version=__version__, on_list_tools=list_tools, on_call_tool=run_tool)


def serve_stdio(index_dir: Path | str) -> None:
    """Load the index in `index_dir` (raising `KbSuggestError` if it cannot be used), then serve until stdin closes."""
    server = create_server(KnowledgeBase.load(index_dir))

    async def run() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(run)
