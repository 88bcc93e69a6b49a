"""kbsuggest: ranked answers and reply drafts for customer messages, from Markdown articles."""

from kbsuggest._version import __version__
from kbsuggest.analysis import MessageAnalysis
from kbsuggest.config import Settings
from kbsuggest.errors import InputError, KbSuggestError
from kbsuggest.feedback.store import Feedback
from kbsuggest.index.build import BuildSummary
from kbsuggest.kb import KnowledgeBase
from kbsuggest.reply.models import Draft, Suggestion
from kbsuggest.retrieval.models import Answer, Filters
from kbsuggest.tools import FeedbackArgs, SearchArgs, SuggestArgs

__all__ = [
    "Answer",
    "BuildSummary",
    "Draft",
    "Feedback",
    "FeedbackArgs",
    "Filters",
    "InputError",
    "KbSuggestError",
    "KnowledgeBase",
    "MessageAnalysis",
    "SearchArgs",
    "Settings",
    "SuggestArgs",
    "Suggestion",
    "__version__",
]
