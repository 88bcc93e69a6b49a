"""`KnowledgeBase`: the one entry point. Build or load an index, then ask it questions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from kbsuggest.analysis import analyse
from kbsuggest.articles import load_articles
from kbsuggest.articles.models import Section
from kbsuggest.config import Settings
from kbsuggest.encoders import Encoder
from kbsuggest.errors import REBUILD_HINT, IndexCorruptError, InputError
from kbsuggest.index import BuildSummary, IndexData, build_index
from kbsuggest.index.manifest import ArticleRecord, Manifest
from kbsuggest.index.storage import check_encoders, read_index, read_manifest
from kbsuggest.reply.models import Suggestion
from kbsuggest.reply.suggest import build_suggestion
from kbsuggest.reply.templates import TONES, Tone, load_templates
from kbsuggest.retrieval.fusion import DEFAULT_WEIGHTS, FusionWeights
from kbsuggest.retrieval.models import Answer, Filters
from kbsuggest.retrieval.retriever import Retrieval, Retriever

MAX_MESSAGE_CHARS = 4000
"""Longer messages are refused with `InputError`: a chat message this long is a paste, not a question."""


class KnowledgeBase:
    """A loaded index with the encoders that built it. Read-only: one instance serves many threads."""

    def __init__(
        self,
        data: IndexData,
        encoders: Mapping[str, Encoder],
        *,
        settings: Settings,
        last_build: BuildSummary | None = None,
        weights: FusionWeights = DEFAULT_WEIGHTS,
    ) -> None:
        self._data = data
        self.encoders = dict(encoders)
        self.last_build = last_build
        self._retriever = Retriever(
            data.sections,
            {a.meta.id: (a.meta, a.path) for a in data.manifest.articles},
            data.stores,
            data.tokens,
            self.encoders,
            data.lexical,
            default_locale=settings.default_locale,
            weights=weights,
        )

    @classmethod
    def build(
        cls,
        articles_dir: Path | str,
        index_dir: Path | str,
        *,
        settings: Settings | None = None,
        encoders: Mapping[str, Encoder] | None = None,
        progress: bool = False,
    ) -> KnowledgeBase:
        """Validate every article and template, then build (or incrementally update) the index in `index_dir`.

        Raises `ArticlesInvalid` listing all problems (or `TemplateError`) before anything is written."""
        settings = settings or Settings.from_env()
        encoders = encoders if encoders is not None else settings.encoders()
        articles = load_articles(articles_dir, default_locale=settings.default_locale)
        templates = load_templates(Path(articles_dir))
        data, summary = build_index(articles, templates, Path(index_dir), encoders, progress=progress)
        return cls(data, encoders, settings=settings, last_build=summary)

    @classmethod
    def load(
        cls,
        index_dir: Path | str,
        *,
        settings: Settings | None = None,
        encoders: Mapping[str, Encoder] | None = None,
        weights: FusionWeights = DEFAULT_WEIGHTS,
    ) -> KnowledgeBase:
        """Load a built index, refusing one built with other models or a different format version.

        `weights`: how much each signal counts per language (defaults fitted on labelled data)."""
        index_dir = Path(index_dir)
        settings = settings or Settings.from_env()
        encoders = encoders if encoders is not None else settings.encoders()
        manifest = read_manifest(index_dir)
        if manifest is None:
            raise IndexCorruptError(f"{index_dir} holds no index; {REBUILD_HINT.format(index_dir=index_dir)}")
        check_encoders(manifest, encoders, index_dir)
        return cls(read_index(index_dir, manifest), encoders, settings=settings, weights=weights)

    @property
    def manifest(self) -> Manifest:
        return self._data.manifest

    @property
    def articles(self) -> tuple[ArticleRecord, ...]:
        return self._data.manifest.articles

    @property
    def sections(self) -> tuple[Section, ...]:
        return self._data.sections

    def search(self, message: str, k: int = 5, filters: Filters | None = None) -> list[Answer]:
        """The `k` sections that best answer `message`, best first, at most one per article."""
        return list(self.search_many([message], k, filters)[0])

    def search_many(self, messages: Sequence[str], k: int = 5, filters: Filters | None = None) -> list[list[Answer]]:
        """`search` for many messages; the queries are encoded in one batch."""
        return [list(r.answers) for r in self._retrieve(messages, k, filters)]

    def suggest(
        self,
        message: str,
        context: Mapping[str, str] | None = None,
        k: int = 3,
        *,
        tone: Tone = "friendly",
        filters: Filters | None = None,
    ) -> Suggestion:
        """Answers, a reply draft, a confidence and whether to hand the message to a person.

        `context` fills the drafts' placeholders: customer_name, order_id, agent_name, store_name."""
        return self.suggest_many([message], context, k, tone=tone, filters=filters)[0]

    def suggest_many(
        self,
        messages: Sequence[str],
        context: Mapping[str, str] | None = None,
        k: int = 3,
        *,
        tone: Tone = "friendly",
        filters: Filters | None = None,
    ) -> list[Suggestion]:
        """`suggest` for many messages sharing one context; the queries are encoded in one batch."""
        if tone not in TONES:
            raise InputError(f"tone {tone!r} is not one of {', '.join(TONES)}")
        stages = {a.meta.id: a.meta.stage for a in self.articles}
        return [
            build_suggestion(
                message,
                retrieval,
                analyse(message),
                templates=self._data.templates,
                context=dict(context or {}),
                tone=tone,
                stages=stages,
            )
            for message, retrieval in zip(messages, self._retrieve(messages, k, filters), strict=True)
        ]

    def _retrieve(self, messages: Sequence[str], k: int, filters: Filters | None) -> list[Retrieval]:
        if k < 1:
            raise InputError(f"k must be at least 1, got {k}")
        for message in messages:
            if not isinstance(message, str) or not message.strip():
                raise InputError("the message is empty. Fix: pass the customer's text")
            if len(message) > MAX_MESSAGE_CHARS:
                raise InputError(
                    f"the message has {len(message)} characters, over the limit of {MAX_MESSAGE_CHARS}. "
                    "Fix: pass the customer's question, not a whole conversation or document"
                )
        return self._retriever.retrieve_many(messages, k, filters)
