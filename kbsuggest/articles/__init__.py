"""Articles: the Markdown format editors write, parsed into typed sections, and their reply phrase templates."""

from kbsuggest.articles.load import load_articles
from kbsuggest.articles.models import Article, ArticleMeta, Section

__all__ = ["Article", "ArticleMeta", "Section", "load_articles"]
