"""The LangChain adapters against the real langchain-core."""

from __future__ import annotations

import importlib
import json
import sys

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from kbsuggest.adapters.langchain import KnowledgeBaseRetriever, langchain_tools
from kbsuggest.config import Settings
from kbsuggest.kb import KnowledgeBase
from kbsuggest.retrieval.models import Filters
from kbsuggest.tools import CONTENT_NOTICE, openai_tools
from tests.conftest import REFUND, RETURNS_ZH, SHIPPING, write_articles


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("langchain")
    articles = write_articles(root / "articles", {"refunds.md": REFUND, "shipping.md": SHIPPING, "zh.md": RETURNS_ZH})
    return KnowledgeBase.build(articles, root / "ix", settings=Settings(model="hashing"))


def test_the_retriever_gives_documents_with_the_section_text_and_where_it_came_from(kb: KnowledgeBase) -> None:
    documents = KnowledgeBaseRetriever(kb=kb, k=2).invoke("when will my refund arrive")
    answers = kb.search("when will my refund arrive", k=2)
    assert [d.id for d in documents] == [a.section_id for a in answers]
    first = documents[0]
    assert first.page_content == answers[0].text and first.metadata["article_id"] == "refunds"
    assert {"anchor", "heading_path", "snippet", "score", "path", "line_start", "line_end"} <= set(first.metadata)
    assert "text" not in first.metadata
    chinese = KnowledgeBaseRetriever(kb=kb, filters=Filters(locale="zh-CN")).invoke("退款")
    assert chinese and {d.metadata["locale"] for d in chinese} == {"zh-CN"}


def test_the_tools_show_models_the_same_schemas_as_openai_tools(kb: KnowledgeBase) -> None:
    expected = openai_tools()
    for tool in expected:  # LangChain drops the arguments' titles, which are only their names capitalised
        for argument in tool["function"]["parameters"]["properties"].values():
            argument.pop("title", None)
    assert [convert_to_openai_tool(t) for t in langchain_tools(kb)] == expected
    names = [t.name for t in langchain_tools(kb, feedback=True)]
    assert names == ["search_knowledge_base", "suggest_reply", "record_feedback"]


def test_a_tool_call_answers_with_call_tools_json_errors_included(kb: KnowledgeBase) -> None:
    search, suggest = langchain_tools(kb)
    call = {"type": "tool_call", "id": "call_1", "name": "suggest_reply", "args": {"message": "refund timing?"}}
    message = suggest.invoke(call)
    assert isinstance(message, ToolMessage) and message.tool_call_id == "call_1"
    out = json.loads(str(message.content))
    assert out["content_notice"] == CONTENT_NOTICE and out["result"]["drafts"]
    assert "text" not in out["result"]["answers"][0]  # compact by default
    bad = json.loads(search.invoke({"message": "refund", "k": 0}))
    assert bad["error"]["type"] == "invalid_arguments" and "k: Input should be greater" in bad["error"]["message"]
    full = json.loads(langchain_tools(kb, compact=False)[0].invoke({"message": "refund", "k": 1}))
    assert full["result"]["answers"][0]["text"]


def test_without_langchain_the_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "langchain_core.retrievers", None)  # None: "not importable"
    monkeypatch.delitem(sys.modules, "kbsuggest.adapters.langchain")
    with pytest.raises(ImportError, match=r"pip install 'kbsuggest\[langchain\]'"):
        importlib.import_module("kbsuggest.adapters.langchain")
