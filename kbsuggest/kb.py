"""`KnowledgeBase`: the one entry point. Build or load an index, then ask it questions."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kbsuggest.articles import load_articles
from kbsuggest.articles.models import Section
from kbsuggest.config import Settings
from kbsuggest.encoders import Encoder
from kbsuggest.errors import REBUILD_HINT, IndexCorruptError
from kbsuggest.index import BuildSummary, IndexData, build_index
from kbsuggest.index.manifest import ArticleRecord, Manifest
from kbsuggest.index.storage import check_encoders, read_index, read_manifest
from kbsuggest.reply.templates import load_templates


class KnowledgeBase:
    """A loaded index with the encoders that built it. Safe to share between threads."""

    def __init__(self, data: IndexData, encoders: Mapping[str, Encoder], last_build: BuildSummary | None = None):
        self._data = data
        self.encoders = dict(encoders)
        self.last_build = last_build

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
        """Validate every article, then build (or incrementally update) the index in `index_dir`.

        Raises `ArticlesInvalid` listing all problems, before anything is written."""
        settings = settings or Settings.from_env()
        encoders = encoders if encoders is not None else settings.encoders()
        articles = load_articles(articles_dir, default_locale=settings.default_locale)
        templates = load_templates(Path(articles_dir))
        data, summary = build_index(articles, templates, Path(index_dir), encoders, progress=progress)
        return cls(data, encoders, summary)

    @classmethod
    def load(
        cls,
        index_dir: Path | str,
        *,
        settings: Settings | None = None,
        encoders: Mapping[str, Encoder] | None = None,
    ) -> KnowledgeBase:
        """Load a built index, refusing one built with other models or a different format version."""
        index_dir = Path(index_dir)
        encoders = encoders if encoders is not None else (settings or Settings.from_env()).encoders()
        manifest = read_manifest(index_dir)
        if manifest is None:
            raise IndexCorruptError(f"{index_dir} holds no index; {REBUILD_HINT.format(index_dir=index_dir)}")
        check_encoders(manifest, encoders, index_dir)
        return cls(read_index(index_dir, manifest), encoders)

    @property
    def manifest(self) -> Manifest:
        return self._data.manifest

    @property
    def articles(self) -> tuple[ArticleRecord, ...]:
        return self._data.manifest.articles

    @property
    def sections(self) -> tuple[Section, ...]:
        return self._data.sections
