"""LangChain adapters: a retriever over the knowledge base, and the agent tools as LangChain tools.

    retriever = KnowledgeBaseRetriever(kb=kb, k=3)           # .invoke("where is my refund?") -> [Document, ...]
    agent_tools = langchain_tools(kb)                        # [StructuredTool, ...] for any tool-calling model

Needs `langchain-core` (`pip install 'kbsuggest[langchain]'`).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ConfigDict

from kbsuggest.kb import KnowledgeBase
from kbsuggest.retrieval.models import Answer, Filters
from kbsuggest.tools import Tool, call_tool, tools

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.tools import StructuredTool
except ImportError as exc:
    raise ImportError(
        "kbsuggest.adapters.langchain needs langchain-core, which is not installed. "
        "Fix: pip install 'kbsuggest[langchain]'"
    ) from exc


class KnowledgeBaseRetriever(BaseRetriever):
    """The `k` best sections for a query as `Document`s: the section's text as `page_content`, the rest of the
    `Answer` (section_id, article_id, anchor, title, heading_path, snippet, score, path, lines...) as metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kb: KnowledgeBase
    k: int = 5
    filters: Filters | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [_document(answer) for answer in self.kb.search(query, k=self.k, filters=self.filters)]


def langchain_tools(kb: KnowledgeBase, *, feedback: bool = False, compact: bool = True) -> list[StructuredTool]:
    """The agent tools of `kbsuggest.tools` as LangChain tools, answering with `call_tool`'s JSON (errors too,
    as data the model can read). `feedback`, `compact`: as for `call_tool`."""
    return [_tool(kb, tool, feedback=feedback, compact=compact) for tool in tools(feedback=feedback)]


def _tool(kb: KnowledgeBase, tool: Tool, *, feedback: bool, compact: bool) -> StructuredTool:
    def run(**arguments: Any) -> str:
        return json.dumps(call_tool(kb, tool.name, arguments, feedback=feedback, compact=compact), ensure_ascii=False)

    # A JSON Schema `args_schema`: LangChain passes the arguments on as they came, and `call_tool` checks them.
    return StructuredTool(name=tool.name, description=tool.description, args_schema=tool.parameters(), func=run)


def _document(answer: Answer) -> Document:
    return Document(
        id=answer.section_id, page_content=answer.text, metadata=answer.model_dump(mode="json", exclude={"text"})
    )
