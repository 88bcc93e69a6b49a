"""The LlamaIndex adapter against the real llama-index-core."""

from __future__ import annotations

import importlib
import sys

import pytest
from llama_index.core.schema import TextNode

from kbsuggest.adapters.llamaindex import KnowledgeBaseRetriever
from kbsuggest.config import Settings
from kbsuggest.kb import KnowledgeBase
from kbsuggest.retrieval.models import Filters
from tests.conftest import REFUND, RETURNS_ZH, SHIPPING, write_articles


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("llamaindex")
    articles = write_articles(root / "articles", {"refunds.md": REFUND, "shipping.md": SHIPPING, "zh.md": RETURNS_ZH})
    return KnowledgeBase.build(articles, root / "ix", settings=Settings(model="hashing"))


def test_the_retriever_gives_scored_nodes_with_the_section_text_and_where_it_came_from(kb: KnowledgeBase) -> None:
    nodes = KnowledgeBaseRetriever(kb, k=2).retrieve("when will my refund arrive")
    answers = kb.search("when will my refund arrive", k=2)
    assert [(n.node.node_id, n.score) for n in nodes] == [(a.section_id, a.score) for a in answers]
    first = nodes[0].node
    assert isinstance(first, TextNode) and first.text == answers[0].text
    assert first.metadata["article_id"] == "refunds" and first.metadata["anchor"] == answers[0].anchor
    assert "text" not in first.metadata
    chinese = KnowledgeBaseRetriever(kb, filters=Filters(locale="zh-CN")).retrieve("退款")
    assert chinese and {n.node.metadata["locale"] for n in chinese} == {"zh-CN"}


def test_without_llama_index_the_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_index.core.retrievers", None)  # None: "not importable"
    monkeypatch.delitem(sys.modules, "kbsuggest.adapters.llamaindex")
    with pytest.raises(ImportError, match=r"pip install 'kbsuggest\[llamaindex\]'"):
        importlib.import_module("kbsuggest.adapters.llamaindex")
