"""A LlamaIndex retriever over the knowledge base.

    retriever = KnowledgeBaseRetriever(kb, k=3)              # .retrieve("where is my refund?") -> [NodeWithScore, ...]
    engine = RetrieverQueryEngine.from_args(retriever, llm=...)

Needs `llama-index-core` (`pip install 'kbsuggest[llamaindex]'`).
"""

from __future__ import annotations

from kbsuggest.kb import KnowledgeBase
from kbsuggest.retrieval.models import Answer, Filters

try:
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
except ImportError as exc:
    raise ImportError(
        "kbsuggest.adapters.llamaindex needs llama-index-core, which is not installed. "
        "Fix: pip install 'kbsuggest[llamaindex]'"
    ) from exc


class KnowledgeBaseRetriever(BaseRetriever):
    """The `k` best sections for a query as `NodeWithScore`s: a `TextNode` with the section's text, its
    `section_id` as node id and the rest of the `Answer` as metadata; the fused score as the score."""

    def __init__(self, kb: KnowledgeBase, *, k: int = 5, filters: Filters | None = None) -> None:
        super().__init__()
        self.kb = kb
        self.k = k
        self.filters = filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        answers = self.kb.search(query_bundle.query_str, k=self.k, filters=self.filters)
        return [NodeWithScore(node=_node(answer), score=answer.score) for answer in answers]


def _node(answer: Answer) -> TextNode:
    return TextNode(id_=answer.section_id, text=answer.text, metadata=answer.model_dump(mode="json", exclude={"text"}))
