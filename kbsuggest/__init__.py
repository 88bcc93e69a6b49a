"""kbsuggest: ranked answers and reply drafts for customer messages, from Markdown articles."""

from kbsuggest._version import __version__
from kbsuggest.analysis import MessageAnalysis
from kbsuggest.config import Settings
from kbsuggest.errors import KbSuggestError
from kbsuggest.index.build import BuildSummary
from kbsuggest.kb import KnowledgeBase
from kbsuggest.reply.models import Draft, Suggestion
from kbsuggest.retrieval.models import Answer, Filters

__all__ = [
    "Answer",
    "BuildSummary",
    "Draft",
    "Filters",
    "KbSuggestError",
    "KnowledgeBase",
    "MessageAnalysis",
    "Settings",
    "Suggestion",
    "__version__",
]
