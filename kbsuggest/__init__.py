"""kbsuggest: ranked answers and reply drafts for customer messages, from Markdown articles."""

__version__ = "0.1.0"

from kbsuggest.errors import KbSuggestError
from kbsuggest.index.build import BuildSummary
from kbsuggest.kb import KnowledgeBase

__all__ = ["BuildSummary", "KbSuggestError", "KnowledgeBase", "__version__"]
