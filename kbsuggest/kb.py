"""`KnowledgeBase`: the one entry point. Build or load an index, then ask it questions."""

from __future__ import annotations

import logging
import numbers
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import numpy as np
from pydantic import ValidationError

from kbsuggest.analysis import MessageAnalysis, analyse
from kbsuggest.articles import load_articles
from kbsuggest.articles.models import ArticleMeta, Section
from kbsuggest.articles.templates import TONES, Tone, load_templates
from kbsuggest.config import Settings
from kbsuggest.conversation import (
    ConversationUse,
    Turn,
    contextual_wins,
    decide,
    history_turns,
    in_language,
    needs_contextual,
    plan,
    question_patterns,
)
from kbsuggest.encoders import Encoder
from kbsuggest.errors import REBUILD_HINT, FeedbackError, IndexCorruptError, InputError, printable
from kbsuggest.feedback import teaching
from kbsuggest.feedback.report import FeedbackReport, build_report
from kbsuggest.feedback.store import Feedback, FeedbackBackend, FeedbackStore, LoggedSuggestion, Outcome
from kbsuggest.index import BuildSummary, IndexData, build_index
from kbsuggest.index.manifest import ArticleRecord, Manifest
from kbsuggest.index.model_store import share_models
from kbsuggest.index.onnx_export import with_fast_queries
from kbsuggest.index.storage import check_encoders, parsed_articles, read_index, read_manifest
from kbsuggest.reply.models import Suggestion
from kbsuggest.reply.promotions import named_promotions, running_promotion
from kbsuggest.reply.questions import split_questions
from kbsuggest.reply.suggest import Part, build_suggestion
from kbsuggest.retrieval import examples
from kbsuggest.retrieval.confidence import confidence_signal
from kbsuggest.retrieval.fusion import DEFAULT_WEIGHTS, FusionWeights
from kbsuggest.retrieval.models import Answer, Filters
from kbsuggest.retrieval.retriever import Retrieval, Retriever

if TYPE_CHECKING:
    from kbsuggest.database import Database

log = logging.getLogger(__name__)
FEEDBACK_FILE = "feedback.sqlite"
MODEL_CACHE = Path(tempfile.gettempdir()) / "kbsuggest-models"
"""Where a knowledge base read from a database keeps the ONNX exports its queries are encoded with."""
FilterFields = Mapping[str, Any]
"""A dict of `Filters` fields, e.g. {"locale": "zh-CN", "type": ["policy"]}, accepted wherever a `Filters` is."""
MAX_MESSAGE_CHARS = 4000
"""Longer messages are refused with `InputError`: a chat message this long is a paste, not a question."""
TEXT_OVERHEAD = 4
"""Bytes a loaded knowledge base holds per character of section text (sections, articles, snippets' caches)."""
History = Sequence[Turn | Mapping[str, str]]
"""Earlier turns of a conversation, oldest first: `Turn`s or dicts {"role": "customer" | "agent", "text": ...}."""


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
        example_weights: examples.ExampleWeights = examples.DEFAULT_EXAMPLE_WEIGHTS,
        feedback: FeedbackBackend | None = None,
        version: int | None = None,
        learned: Learned | None = None,
    ) -> None:
        """`learned`: what this knowledge base learned from `feedback` so far (`relearned` passes it on), for a
        store that numbers its verdicts (`teaching.IncrementalFeedback`): only verdicts after it are read."""
        self._data = data
        self._settings, self._weights, self._example_weights = settings, weights, example_weights
        self.version = version
        """The database version this knowledge base answers from (`from_database`); None for an index folder."""
        self.encoders = dict(encoders)
        self.last_build = last_build
        self.feedback = feedback
        self._feedback_warned = False
        phrasings = examples.front_matter_examples(a.meta for a in data.manifest.articles)
        embedded = None
        self._learned: Learned | None = None
        if isinstance(feedback, teaching.IncrementalFeedback):
            try:
                self._learned = _learn(learned or Learned.of(phrasings), feedback, self.encoders)
                embedded = self._learned.vectors
            except FeedbackError as exc:
                self._feedback_failed(exc)
        elif feedback is not None:
            try:
                taught = [examples.Example(a, m) for a, m in teaching.taught_phrasings(feedback)]
                embedded = examples.embed_examples(phrasings + taught, self.encoders, teaching.VectorCache(feedback))
            except FeedbackError as exc:
                self._feedback_failed(exc)
        if embedded is None:
            embedded = examples.embed_examples(phrasings, self.encoders, None)
        self._stages = {a.meta.id: a.meta.stage for a in data.manifest.articles}
        self._articles: dict[str, tuple[ArticleMeta, list[Section]]] = {
            a.meta.id: (a.meta, []) for a in data.manifest.articles
        }
        for section in data.sections:
            self._articles[section.article_id][1].append(section)
        self._titles = frozenset(a.meta.title for a in data.manifest.articles)
        self._own_questions = question_patterns(
            phrase for t in data.templates.values() for tones in t.tones.values() for phrase in tones.clarify
        )
        self._retriever = Retriever(
            data.sections,
            {a.meta.id: (a.meta, a.path) for a in data.manifest.articles},
            data.stores,
            data.tokens,
            self.encoders,
            data.lexical,
            default_locale=settings.default_locale,
            weights=weights,
            phrasings=embedded,
            example_weights=example_weights,
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
        articles_dir = Path(articles_dir)
        parsed = parsed_articles(Path(index_dir), articles_dir)
        loaded = load_articles(
            articles_dir, default_locale=settings.default_locale, parsed=parsed, max_bytes=settings.max_article_bytes
        )
        # The index records paths relative to the articles folder: answers never show where a server keeps it.
        articles = [a.model_copy(update={"path": Path(a.path).relative_to(articles_dir).as_posix()}) for a in loaded]
        templates = load_templates(articles_dir)
        data, summary = build_index(
            articles,
            templates,
            Path(index_dir),
            encoders,
            progress=progress,
            quantized=settings.quantized_build,
            model_store=settings.model_store,
        )
        if settings.model_store is not None:
            share_models(Path(index_dir), data.manifest, settings.model_store)
        if settings.fast_queries:  # answer like a loaded index: messages encoded on the ONNX path the build stored
            encoders = with_fast_queries(encoders, data.manifest, Path(index_dir))
        feedback = FeedbackStore(Path(index_dir) / FEEDBACK_FILE)
        return cls(data, encoders, settings=settings, last_build=summary, feedback=feedback)

    @classmethod
    def load(
        cls,
        index_dir: Path | str,
        *,
        settings: Settings | None = None,
        encoders: Mapping[str, Encoder] | None = None,
        weights: FusionWeights = DEFAULT_WEIGHTS,
        example_weights: examples.ExampleWeights = examples.DEFAULT_EXAMPLE_WEIGHTS,
        feedback: bool = True,
    ) -> KnowledgeBase:
        """Load a built index, refusing one built with other models or a different format version.

        `weights`: how much each signal counts per language (defaults fitted on labelled data).
        `example_weights`: the share of articles' example phrasings (front-matter questions and messages
        taught by accepted feedback) in the fused score, per language; 0 ignores them.
        `feedback`: log suggestions (messages redacted) and agents' feedback in INDEX_DIR/feedback.sqlite,
        and learn from the feedback recorded there before this load."""
        index_dir = Path(index_dir)
        settings = settings or Settings.from_env()
        encoders = encoders if encoders is not None else settings.encoders()
        manifest = read_manifest(index_dir)
        if manifest is None:
            raise IndexCorruptError(f"{index_dir} holds no index; {REBUILD_HINT.format(index_dir=index_dir)}")
        check_encoders(manifest, encoders, index_dir)
        data = read_index(index_dir, manifest)  # verifies every file, the ONNX export's among them
        if settings.fast_queries:
            encoders = with_fast_queries(encoders, manifest, index_dir)
        store = FeedbackStore(index_dir / FEEDBACK_FILE) if feedback else None
        return cls(data, encoders, settings=settings, weights=weights, example_weights=example_weights, feedback=store)

    @classmethod
    def publish(
        cls,
        articles_dir: Path | str,
        database: Database,
        name: str,
        *,
        index_dir: Path | str | None = None,
        settings: Settings | None = None,
        encoders: Mapping[str, Encoder] | None = None,
        progress: bool = False,
    ) -> KnowledgeBase:
        """`build` the articles (in `index_dir`, which keeps vectors for the next build; default: a temporary
        folder, so every section is encoded), then publish the index as the next version of knowledge base
        `name` in `database`, in one transaction that makes it current; `version` says its number. Replicas
        (`kbsuggest.replica`) switch to it by themselves."""
        from kbsuggest.index.postgres import publish

        with tempfile.TemporaryDirectory(prefix="kbsuggest-build-") as temporary:
            folder = Path(index_dir if index_dir is not None else temporary)
            kb = cls.build(articles_dir, folder, settings=settings, encoders=encoders, progress=progress)
            kb.version = publish(database, name, kb._data, folder)
        return kb

    @classmethod
    def from_database(
        cls,
        database: Database,
        name: str,
        *,
        settings: Settings | None = None,
        encoders: Mapping[str, Encoder] | None = None,
        weights: FusionWeights = DEFAULT_WEIGHTS,
        example_weights: examples.ExampleWeights = examples.DEFAULT_EXAMPLE_WEIGHTS,
        feedback: bool = True,
        model_cache: Path = MODEL_CACHE,
    ) -> KnowledgeBase:
        """The current version of knowledge base `name` in `database`, loaded into memory: it answers exactly as
        `load` does from the folder it was built in. Arguments as for `load`; `feedback`: log suggestions and
        feedback in the database's tables for `name` (shared by every replica) and learn from what is there.
        `model_cache`: where the ONNX exports of the fast query path are written."""
        from kbsuggest.feedback.postgres import PostgresFeedbackStore
        from kbsuggest.index.postgres import model_files, read_current

        settings = settings or Settings.from_env()
        encoders = encoders if encoders is not None else settings.encoders()
        version = read_current(database, name)
        manifest = version.data.manifest
        hint = f"publish it again with `kbsuggest build ARTICLES_DIR --database URL --kb {name}`"
        check_encoders(manifest, encoders, f"knowledge base {name!r} (version {version.number})", hint)
        if settings.fast_queries:
            encoders = with_fast_queries(encoders, manifest, model_files(database, manifest, model_cache))
        store = PostgresFeedbackStore(database, name) if feedback else None
        return cls(
            version.data,
            encoders,
            settings=settings,
            weights=weights,
            example_weights=example_weights,
            feedback=store,
            version=version.number,
        )

    def relearned(self) -> KnowledgeBase:
        """This knowledge base again, learning the feedback recorded since it was made; its data and models are
        reused, and so is what it learned when its store numbers its verdicts: only the newer ones are read
        (`kbsuggest.replica` calls it when another replica recorded feedback)."""
        return KnowledgeBase(
            self._data,
            self.encoders,
            settings=self._settings,
            weights=self._weights,
            example_weights=self._example_weights,
            feedback=self.feedback,
            version=self.version,
            learned=self._learned,
        )

    @property
    def manifest(self) -> Manifest:
        return self._data.manifest

    @property
    def articles(self) -> tuple[ArticleRecord, ...]:
        return self._data.manifest.articles

    @property
    def sections(self) -> tuple[Section, ...]:
        return self._data.sections

    def memory_bytes(self) -> int:
        """An estimate of the memory this knowledge base holds of its own (the models are shared by every
        knowledge base of the process, `Settings.encoders`): its vectors, token vectors and BM25 arrays, and
        `TEXT_OVERHEAD` bytes per character of its sections' text for the Python objects that hold it."""
        data = self._data
        vectors = sum(len(s) * s.dim * 4 for views in data.stores.values() for s in views.values())
        # The views share their pool's segments; memory-mapped, they count whole though only rows read are resident.
        segments = {id(seg): seg.nbytes for views in data.tokens.values() for t in views.values() for seg in t.segments}
        tokens = sum(segments.values())
        spans = sum(t.spans.nbytes for views in data.tokens.values() for t in views.values())
        text = sum(len(s.text) for s in data.sections)
        return vectors + tokens + spans + data.lexical.nbytes + TEXT_OVERHEAD * text

    def search(
        self,
        message: str,
        k: int = 5,
        filters: Filters | FilterFields | None = None,
        *,
        history: History | None = None,
    ) -> list[Answer]:
        """The `k` sections that best answer `message`, best first, at most one per article.

        `filters`: a `Filters`, or a dict of its fields. `history`: the conversation's earlier turns, oldest first
        (`kbsuggest.conversation`). Arguments that cannot be used raise `InputError`."""
        return list(self.search_many([message], k, filters, histories=None if history is None else [history])[0])

    def search_many(
        self,
        messages: Sequence[str],
        k: int = 5,
        filters: Filters | FilterFields | None = None,
        *,
        histories: Sequence[History | None] | None = None,
    ) -> list[list[Answer]]:
        """`search` for many messages; the queries are encoded in one batch. `histories`: one per message."""
        messages = _messages(messages)
        found = self._retrieve(messages, _k(k), _filters(filters), _histories(histories, len(messages)))
        return [list(r.answers) for _, r, _, _ in found]

    def suggest(
        self,
        message: str,
        context: Mapping[str, str] | None = None,
        k: int = 3,
        *,
        tone: Tone = "friendly",
        filters: Filters | FilterFields | None = None,
        history: History | None = None,
    ) -> Suggestion:
        """Answers, a reply draft, a confidence and whether to hand the message to a person.

        `context` fills the drafts' placeholders: customer_name, order_id, agent_name, store_name (a name or
        order number the customer gave in `history` fills them too).
        `filters`: a `Filters`, or a dict of its fields. `history`: the conversation's earlier turns, oldest
        first; `Suggestion.conversation` says how they were used. Arguments that cannot be used raise `InputError`."""
        histories = None if history is None else [history]
        return self.suggest_many([message], context, k, tone=tone, filters=filters, histories=histories)[0]

    def suggest_many(
        self,
        messages: Sequence[str],
        context: Mapping[str, str] | None = None,
        k: int = 3,
        *,
        tone: Tone = "friendly",
        filters: Filters | FilterFields | None = None,
        histories: Sequence[History | None] | None = None,
    ) -> list[Suggestion]:
        """`suggest` for many messages sharing one context; the queries are encoded in one batch.
        `histories`: one per message (or None)."""
        messages, context, k, filters = _messages(messages), _context(context), _k(k), _filters(filters)
        turns = _histories(histories, len(messages))
        if tone not in TONES:
            raise InputError(f"tone {tone!r} is not one of {', '.join(TONES)}")
        stages = self._stages
        today = (filters.today if filters else None) or date.today()
        retrieved = self._retrieve(messages, k, filters, turns, others=True)
        questions = self._questions(messages, [(a, r) for a, r, _, _ in retrieved], k, filters, today)
        suggestions = [
            build_suggestion(
                uuid.uuid4().hex,
                message,
                retrieval,
                analysis,
                templates=self._data.templates,
                context=context,
                tone=tone,
                stages=stages,
                parts=parts,
                history=history,
                conversation=use,
                today=today,
            )
            for message, (analysis, retrieval, use, history), parts in zip(messages, retrieved, questions, strict=True)
        ]
        if self.feedback is not None:
            try:
                for s in suggestions:
                    self.feedback.log_suggestion(_logged(s))
            except FeedbackError as exc:  # logging never fails an answer
                self._feedback_failed(exc)
        return suggestions

    def record_feedback(
        self,
        suggestion_id: str,
        outcome: Outcome,
        final_text: str | None = None,
        article_id: str | None = None,
        agent: str | None = None,
    ) -> Feedback:
        """Record an agent's verdict on a suggestion: accepted, edited (with `final_text`) or rejected.

        `article_id`: the article the reply was really answered with, when not the first answer.
        Accepted and edited suggestions teach: from the next `KnowledgeBase.load`, the (redacted) message is
        an example phrasing of that article."""
        _text(suggestion_id, "suggestion_id")
        for name, value in (("final_text", final_text), ("article_id", article_id), ("agent", agent)):
            if value is not None:
                _text(value, name)
        if article_id is not None and article_id not in {a.meta.id for a in self.articles}:
            raise InputError(f"article {article_id!r} is not in this knowledge base")
        return self._store().record(suggestion_id, outcome, final_text=final_text, article_id=article_id, agent=agent)

    def report(self) -> FeedbackReport:
        """Acceptance per article, clusters of unanswered messages (knowledge gaps), articles never used."""
        store = self._store()

        def embed(items: list[LoggedSuggestion]) -> np.ndarray:
            language = items[0].language if items else "en"
            encoder = self.encoders[confidence_signal(language)]
            return encoder.encode_queries([i.message for i in items])

        ids = [a.meta.id for a in self.articles]
        snapshot = store.snapshot()
        return build_report(ids, snapshot.suggestions, snapshot.feedback, embed)

    def _feedback_failed(self, exc: FeedbackError) -> None:
        """Answer without the feedback store: warn once per knowledge base, then carry on silently."""
        if not self._feedback_warned:
            self._feedback_warned = True
            log.warning("%s; until then suggestions are answered but not logged, and no feedback is learned", exc)

    def _store(self) -> FeedbackBackend:
        if self.feedback is None:
            raise InputError("this KnowledgeBase keeps no feedback. Fix: load it with feedback=True")
        return self.feedback

    def _questions(
        self,
        messages: Sequence[str],
        retrieved: Sequence[tuple[MessageAnalysis, Retrieval]],
        k: int,
        filters: Filters | None,
        today: date,
    ) -> list[tuple[Part, ...]]:
        """Each message's questions (`split_questions`), retrieved in one batch when it asks two, with the
        promotions outside their dates (on `today`) that each names and, unless it is answered by an after-sale
        article (in scope), the promotion running instead."""
        split = [split_questions(m, a.language) for m, (a, _) in zip(messages, retrieved, strict=True)]
        asked = [
            (text, a.language)
            for texts, (a, _) in zip(split, retrieved, strict=True)
            if len(texts) > 1
            for text in texts
        ]
        found = iter(
            self._retriever.retrieve_many([t for t, _ in asked], [lang for _, lang in asked], k, filters, others=True)
        )
        out = []
        for texts, (analysis, retrieval) in zip(split, retrieved, strict=True):
            parts = []
            for text in texts:
                own = next(found) if len(texts) > 1 else retrieval
                named = named_promotions(text, self._articles.values(), today, analysis.language)
                after_sale = own.in_scope and self._stages.get(own.answers[0].article_id) == "after_sale"
                offer = named and not after_sale  # a return or refund of what was bought then is no sales talk
                running = running_promotion(text, self._articles.values(), today, analysis.language) if offer else None
                parts.append(Part(text, own, named, running))
            out.append(tuple(parts))
        return out

    def _retrieve(
        self,
        messages: Sequence[str],
        k: int,
        filters: Filters | None,
        histories: Sequence[tuple[Turn, ...]],
        *,
        others: bool = False,
    ) -> list[tuple[MessageAnalysis, Retrieval, ConversationUse | None, tuple[Turn, ...]]]:
        """Each message analysed once (its language included; a message without letters takes the conversation's,
        `conversation.in_language`), then retrieved in that language; with a history, the conversation's queries
        too (`conversation.plan`): the first queries in one batch, the contextual queries still open in a second, and
        the one that answers kept (`conversation.decide`). `others`: the first retrieval with each answer's other
        sections (`Retrieval.others`; a draft may answer from a close second, `reply.suggest.close_second`)."""
        for message in messages:
            _text(message, "the message")
            if not message.strip():
                raise InputError("the message is empty. Fix: pass the customer's text")
            if len(message) > MAX_MESSAGE_CHARS:
                raise InputError(
                    f"the message has {len(message)} characters, over the limit of {MAX_MESSAGE_CHARS}. "
                    "Fix: pass the customer's question, not a whole conversation or document"
                )
        analyses = [in_language(m, analyse(m), h) for m, h in zip(messages, histories, strict=True)]
        plans = [
            plan(m, a, h, self._own_questions, self._titles) if h else None
            for m, a, h in zip(messages, analyses, histories, strict=True)
        ]
        languages = [a.language for a in analyses]
        first = self._retriever.retrieve_many(
            [p.query if p else m for m, p in zip(messages, plans, strict=True)], languages, k, filters, others=others
        )
        # The contextual queries of the messages whose first retrieval leaves the choice open, scored in a second
        # batch; only those surer than the message alone are ranked into answers (the others' would be discarded).
        pending = {
            i: p.contextual
            for i, (p, r) in enumerate(zip(plans, first, strict=True))
            if p and p.contextual and needs_contextual(p, r)
        }
        scored = self._retriever.score_many(list(pending.values()), [languages[i] for i in pending], filters)
        second = {
            i: self._retriever.rank(s, k) for i, s in zip(pending, scored, strict=True) if contextual_wins(first[i], s)
        }
        out: list[tuple[MessageAnalysis, Retrieval, ConversationUse | None, tuple[Turn, ...]]] = []
        for i, (analysis, p, history) in enumerate(zip(analyses, plans, histories, strict=True)):
            retrieval, use = decide(p, first[i], second.get(i)) if p else (first[i], None)
            out.append((analysis, retrieval, use, history))
        return out

    # Async: the same calls in anyio's worker threads (at most `anyio.to_thread.current_default_thread_limiter()`
    # at once, 40 unless changed), so an event loop (FastAPI, aiohttp, trio) keeps serving while they run.

    async def asearch(
        self,
        message: str,
        k: int = 5,
        filters: Filters | FilterFields | None = None,
        *,
        history: History | None = None,
    ) -> list[Answer]:
        """`search`, awaited without blocking the event loop."""
        return await anyio.to_thread.run_sync(partial(self.search, message, k, filters, history=history))

    async def asuggest(
        self,
        message: str,
        context: Mapping[str, str] | None = None,
        k: int = 3,
        *,
        tone: Tone = "friendly",
        filters: Filters | FilterFields | None = None,
        history: History | None = None,
    ) -> Suggestion:
        """`suggest`, awaited without blocking the event loop."""
        return await anyio.to_thread.run_sync(
            partial(self.suggest, message, context, k, tone=tone, filters=filters, history=history)
        )

    async def arecord_feedback(
        self,
        suggestion_id: str,
        outcome: Outcome,
        final_text: str | None = None,
        article_id: str | None = None,
        agent: str | None = None,
    ) -> Feedback:
        """`record_feedback`, awaited without blocking the event loop."""
        return await anyio.to_thread.run_sync(
            self.record_feedback, suggestion_id, outcome, final_text, article_id, agent
        )


@dataclass(frozen=True)
class Learned:
    """The example phrasings a knowledge base learned from: the distinct ones in order (front matter first,
    then the verdicts' messages), their vectors (`examples.embed_examples` of them), and the number of the last
    verdict read (`teaching.IncrementalFeedback`)."""

    seen: dict[examples.Example, None]
    vectors: examples.ExampleVectors
    mark: int

    @classmethod
    def of(cls, phrasings: Sequence[examples.Example]) -> Learned:
        return cls(dict.fromkeys(phrasings), examples.ExampleVectors({}, {}), -1)


def _learn(learned: Learned, feedback: teaching.IncrementalFeedback, encoders: Mapping[str, Encoder]) -> Learned:
    """`learned` and the verdicts after its mark: exactly `embed_examples` of all of them, as the new phrasings
    come after the known ones and only the first of equal phrasings is kept. Mark -1: nothing embedded yet."""
    mark, verdicts = feedback.verdicts_after(max(learned.mark, 0))
    fresh = [e for e in (examples.Example(a, m) for a, m in teaching.taught(verdicts)) if e not in learned.seen]
    seen = learned.seen | dict.fromkeys(fresh)
    if learned.mark < 0:  # the first read: front matter and every verdict
        fresh = list(seen)
    added = examples.embed_examples(fresh, encoders, teaching.VectorCache(feedback)) if fresh else None
    if added is None:
        return Learned(seen, learned.vectors, mark)
    old, names = learned.vectors, list(dict.fromkeys([*learned.vectors.vectors, *added.vectors]))
    vectors = {n: np.vstack([v.vectors[n] for v in (old, added) if n in v.vectors]) for n in names}
    owners = {n: sum((v.article_ids[n] for v in (old, added) if n in v.article_ids), ()) for n in names}
    return Learned(seen, examples.ExampleVectors(vectors, owners), mark)


def _logged(s: Suggestion) -> LoggedSuggestion:
    """What the feedback store keeps of a suggestion: of a follow-up or an answer to a clarifying question, the
    query it was answered with ("and express?" alone would teach nothing), redacted like every message."""
    answered = bool(s.answers) and s.escalate_reason != "no_answer"
    resolved = s.conversation is not None and s.conversation.kind in ("follow_up", "clarification_answer")
    return LoggedSuggestion(
        id=s.id,
        message=s.conversation.query if resolved and s.conversation else s.message,
        language=s.analysis.language,
        article_id=s.answers[0].article_id if answered else None,
        confidence=s.confidence,
        escalate_reason=s.escalate_reason,
    )


def _check_unicode(text: str, what: str) -> None:
    """Refuse a lone surrogate (from a bad decode or JSON "\\ud800"): it cannot be encoded or serialised."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(
                f"{what} is not valid Unicode (an unpaired surrogate at character {exc.start}). "
                "Fix: decode the customer's text as UTF-8 before passing it"
            ) from None


def _text(value: object, what: str) -> None:
    if not isinstance(value, str):
        raise InputError(f"{what} is {type(value).__name__}, not text. Fix: pass a str")
    _check_unicode(value, what)


def _messages(messages: object) -> Sequence[str]:
    """The messages of a `*_many` call: a list or tuple (each message is checked as it is used)."""
    if isinstance(messages, str) or not isinstance(messages, Sequence):
        raise InputError(f"messages is {type(messages).__name__}, not a list. Fix: pass a list of messages")
    return messages


def _histories(histories: object, count: int) -> list[tuple[Turn, ...]]:
    """One validated history per message (empty where none)."""
    if histories is None:
        return [()] * count
    if isinstance(histories, str) or not isinstance(histories, Sequence):
        raise InputError(f"histories is {type(histories).__name__}. Fix: pass one history (or None) per message")
    if len(histories) != count:
        raise InputError(
            f"{len(histories)} histories for {count} messages. Fix: pass one history (or None) per message"
        )
    return [history_turns(h) for h in histories]


def _k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise InputError(f"k is {type(k).__name__}, not a whole number. Fix: pass how many answers, e.g. k=5")
    if k < 1:
        raise InputError(f"k must be at least 1, got {k}")
    return int(k)


def _filters(filters: object) -> Filters | None:
    """`filters` as a `Filters`: one already, or a dict of its fields validated into one."""
    if filters is None or isinstance(filters, Filters):
        return filters
    if not isinstance(filters, Mapping):
        raise InputError(f"filters is {type(filters).__name__}. Fix: pass a Filters, a dict of its fields or None")
    try:
        return Filters.model_validate(filters)
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(printable(str(part)) for part in ("filters", *e["loc"])) + f": {e['msg']}" for e in exc.errors()
        )
        raise InputError(f"{problems}. Fix: use the fields of kbsuggest.Filters") from None


def _context(context: object) -> dict[str, str]:
    if context is None:
        return {}
    if not isinstance(context, Mapping):
        raise InputError(f"context is {type(context).__name__}. Fix: pass a dict such as {{'customer_name': 'Ann'}}")
    for key, value in context.items():
        _text(key, "a context key")
        _text(value, f"context value for {key!r}")
    return dict(context)
