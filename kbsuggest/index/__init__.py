"""The persistent index: FAISS vectors per encoder, sections, and a manifest with checksums."""

from kbsuggest.index.build import BuildSummary, build_index
from kbsuggest.index.storage import IndexData
from kbsuggest.index.store import VectorStore

__all__ = ["BuildSummary", "IndexData", "VectorStore", "build_index"]
