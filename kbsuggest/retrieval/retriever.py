"""Message -> ranked answers: dense views and BM25 per section, aggregated per article, fused with the
weights of the message's language together with the articles' example phrasings (`examples`) and the stage
prior (`fusion.stage_match`), filtered by metadata; plus the features the confidence models read."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from kbsuggest.articles.models import ArticleMeta, Section
from kbsuggest.encoders import Encoder
from kbsuggest.encoders.base import TokenEncoder
from kbsuggest.index.bm25 import BM25
from kbsuggest.index.store import VectorStore
from kbsuggest.index.tokens import TokenStore
from kbsuggest.index.views import SECTION_VIEWS
from kbsuggest.retrieval import confidence, examples, fusion, section_choice
from kbsuggest.retrieval.models import Answer, Filters, MatchedBy
from kbsuggest.retrieval.prototypes import OFF_KB_PROTOTYPES
from kbsuggest.retrieval.snippet import best_sentences, measures
from kbsuggest.text.situation import Situation, read_situation
from kbsuggest.text.stage import stage_evidence
from kbsuggest.text.tokenize import Language, encoder_text, normalize_query, tokenize

DENSE_CANDIDATES = 1000
"""Sections fetched per view from FAISS; sections below them score as the last one fetched. Knowledge bases of up
to this many sections are scored exactly; beyond, an article outside every view's top 1,000 cannot rank first."""
MAXSIM_CANDIDATES = 32
"""Sections (by pooled cosine) re-scored with token-level MaxSim per message. The English dev set and the
demo store score the same with 32, 64 or 200 (benchmarks/bench_quality.py); fewer means less work."""
MASK_CACHE_SIZE = 1024
"""Filter masks kept (per language, filters and day) before the cache is emptied: one mask is a bool per article,
and a service sees a handful of distinct filters, so this bound only stops unbounded growth from varied callers."""
PRIORITY_TIE_BREAK = 1e-6
"""Times an article's front-matter `priority`, added to its fused score: orders exact ties only (fused scores are
z-score sums, whose real differences are orders of magnitude larger)."""
MATCH_DEPTH = 10
"""A section 'matched by' a signal when it ranks in that signal's top MATCH_DEPTH sections."""


@dataclass(frozen=True)
class _Encoded:
    vector: np.ndarray
    tokens: np.ndarray | None  # token vectors, when the encoder and the index have them


@dataclass(frozen=True)
class Retrieval:
    """One message's ranked answers and the evidence behind them."""

    text: str
    language: Language
    answers: tuple[Answer, ...]
    features: dict[str, float]  # what the confidence models read (`confidence.IN_SCOPE_FEATURES`)
    fused: np.ndarray  # article scores of the allowed articles, best first
    in_scope: bool = False  # some answer, and the in-scope model does not call for escalation
    answer_probability: float = 0.0  # P(first answer right), in or out of scope; 0 without answers
    others: tuple[tuple[Answer, ...], ...] = ()  # when asked for (`Retriever.rank`): per answer, its article's other
    # sections, best first for this message, each scored as the article less how far it falls behind the chosen
    # section (`section_choice.totals`)


@dataclass(frozen=True)
class Scored:
    """One message encoded and scored by every signal (`Retriever.score_many`): enough for its answer probability,
    not yet ranked into answers (`Retriever.rank`)."""

    text: str
    language: Language
    query: dict[str, _Encoded]
    allowed: np.ndarray  # the articles passing the filters
    tokens: tuple[str, ...]
    pooled: dict[str, np.ndarray]  # section scores per signal, pooled over the views
    bodies: dict[str, np.ndarray]  # the body view's, of the encoders without token vectors
    pooled_articles: dict[str, np.ndarray]
    features: dict[str, float]
    in_scope: bool = False  # the in-scope model does not call for escalation
    answer_probability: float = 0.0  # P(first answer right), in or out of scope
    situation: Situation = field(default_factory=Situation)  # the customer's facts, dates counted to `Filters.today`
    stages: Mapping[str, float] = field(default_factory=dict)  # its buying-stage evidence (`stage_evidence`)


class Retriever:
    """Read-only after construction (but for a cache of what each answered section's heading states, filled the
    same by any thread, and the prototypes' vectors, encoded once under a lock on first use), so one instance
    serves many threads."""

    def __init__(
        self,
        sections: Sequence[Section],
        articles: Mapping[str, tuple[ArticleMeta, str]],
        stores: Mapping[str, Mapping[str, VectorStore]],
        tokens: Mapping[str, Mapping[str, TokenStore]],
        encoders: Mapping[str, Encoder],
        lexical: BM25,
        *,
        default_locale: str = "en",
        weights: fusion.FusionWeights = fusion.DEFAULT_WEIGHTS,
        phrasings: examples.ExampleVectors = examples.NO_EXAMPLES,
        example_weights: examples.ExampleWeights = examples.DEFAULT_EXAMPLE_WEIGHTS,
    ) -> None:
        self.sections = tuple(sections)
        self.articles = dict(articles)
        self.stores = stores
        self.tokens = tokens
        self.encoders = encoders
        self.lexical = lexical
        self.default_locale = default_locale
        self.weights = weights.among(encoders)  # a knowledge base without some encoder still fuses the rest
        self._order, self._starts, self._article_ids = fusion.article_groups([s.article_id for s in self.sections])
        self._masks: dict[tuple[str, Filters, date], np.ndarray] = {}
        self._headings: dict[int, section_choice.Heading] = {}  # read when first answered: ~0.6 ms a section
        self._priority = np.array([self.articles[a][0].priority for a in self._article_ids], dtype=np.float64)
        self._stages = [self.articles[a][0].stage for a in self._article_ids]
        self.example_weights = example_weights
        self._prototypes: dict[str, np.ndarray] = {}  # per language, `_prototype_vectors`
        self._prototypes_lock = threading.Lock()
        position = {a: i for i, a in enumerate(self._article_ids)}
        self._phrasings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name, vectors in phrasings.vectors.items():
            ids = phrasings.article_ids[name]  # phrasings of articles no longer in the index are left out
            known = np.array([a in position for a in ids], dtype=bool)
            owners = np.array([position[a] for a in ids if a in position], dtype=np.int64)
            self._phrasings[name] = (vectors[known], owners)

    def signals_for(self, language: Language) -> tuple[str, ...]:
        """The dense signals a message in `language` needs: those with weight, and the confidence signal."""
        needed = {fusion.encoder_of(name) for name in self.weights.for_language(language) if name != fusion.LEXICAL}
        needed.add(confidence.confidence_signal(language))
        return tuple(sorted(needed))

    def retrieve_many(
        self,
        messages: Sequence[str],
        languages: Sequence[Language],
        k: int,
        filters: Filters | None = None,
        *,
        others: bool = False,
    ) -> list[Retrieval]:
        """Each message with the language its analysis decided (`analysis.analyse`), best answers first;
        `others`: with each answer's other sections (`Retrieval.others`)."""
        return [self.rank(s, k, others=others) for s in self.score_many(messages, languages, filters)]

    def score_many(
        self, messages: Sequence[str], languages: Sequence[Language], filters: Filters | None = None
    ) -> list[Scored]:
        """The first half of `retrieve_many`: each message encoded (one batch per encoder) and scored by every
        signal, with its answer probability; `rank` finishes one into its answers, or it is left unranked."""
        texts = [normalize_query(m) for m in messages]
        queries: list[dict[str, _Encoded]] = [{} for _ in texts]
        for name, encoder in self.encoders.items():
            wanted = [i for i, lang in enumerate(languages) if name in self.signals_for(lang)]
            if not wanted:
                continue
            inputs = [encoder_text(texts[i]) for i in wanted]
            tokens: list[np.ndarray | None] = [None] * len(wanted)
            if name in self.tokens and isinstance(encoder, TokenEncoder):
                pooled, with_tokens = encoder.encode_with_tokens(inputs, query=True)
                tokens = list(with_tokens)
            else:
                pooled = encoder.encode_queries(inputs)
            for row, i in enumerate(wanted):
                queries[i][name] = _Encoded(pooled[row], tokens[row])
        with one_openmp_thread():
            return [
                self._score(text, language, queries[i], filters or Filters())
                for i, (text, language) in enumerate(zip(texts, languages, strict=True))
            ]

    def _score(self, text: str, language: Language, query: dict[str, _Encoded], filters: Filters) -> Scored:
        allowed = self._allowed_articles(language, filters)
        if not allowed.any():
            return Scored(text, language, query, allowed, (), {}, {}, {}, {})
        tokens = tokenize(text)
        pooled = {fusion.LEXICAL: self.lexical.scores(tokens)}
        bodies = {}
        for name, q in query.items():
            views = {v: self._dense(self.stores[name][v], q.vector) for v in SECTION_VIEWS}
            pooled[name] = np.max(list(views.values()), 0)
            if q.tokens is None:
                bodies[name] = views["body"]
        pooled_articles = {name: self._per_article(scores, allowed) for name, scores in pooled.items()}
        # The confidence models were fitted on pooled-cosine signals, so they read those.
        pooled_fused = fusion.fuse(
            {name: pooled_articles[fusion.encoder_of(name)] for name in self._ranked_names(query)},
            language,
            self.weights,
        )
        coverage = self.lexical.coverage(tokens)
        prototypes = self._prototype_vectors(language)
        prototype_top = None
        if prototypes is not None:
            prototype_top = float(np.max(prototypes @ query[confidence.confidence_signal(language)].vector))
        features = confidence.confidence_features(pooled_articles, pooled_fused, language, coverage, prototype_top)
        # read once: the in-scope model, the stage prior and the section choice (`rank`) use them
        situation, stages = read_situation(text, filters.today or date.today()), stage_evidence(text)
        features.update(confidence.own_order_features(situation, stages, language))  # the in-scope model's own
        in_scope = not confidence.should_escalate(features, language)
        return Scored(
            text, language, query, allowed, tuple(tokens), pooled, bodies, pooled_articles, features, in_scope=in_scope,
            answer_probability=confidence.answer_probability(features, language), situation=situation, stages=stages,
        )  # fmt: skip

    def _prototype_vectors(self, language: Language) -> np.ndarray | None:
        """The vectors of `OFF_KB_PROTOTYPES[language]` under the confidence signal, or None when it has none;
        encoded on first use, not at construction (a knowledge base that answers no message in the language never
        encodes them)."""
        if language not in OFF_KB_PROTOTYPES:
            return None
        with self._prototypes_lock:
            if language not in self._prototypes:
                encoder = self.encoders[confidence.confidence_signal(language)]
                texts = [encoder_text(normalize_query(p)) for p in OFF_KB_PROTOTYPES[language]]
                self._prototypes[language] = encoder.encode_queries(texts)
            return self._prototypes[language]

    @staticmethod
    def _ranked_names(query: Mapping[str, _Encoded]) -> list[str]:
        """The ranked signals' names, in the order they are fused: the lexical, then each encoder and its pooled."""
        return [fusion.LEXICAL, *(n for name in query for n in (name, name + fusion.POOLED))]

    def rank(self, scored: Scored, k: int, *, others: bool = False) -> Retrieval:
        """The best `k` answers of a message `score_many` scored (its MaxSim, fusion, sections and snippets);
        `others`: with each answer's other sections (`Retrieval.others`)."""
        text, language, query, allowed = scored.text, scored.language, scored.query, scored.allowed
        pooled = scored.pooled
        if not allowed.any():
            return Retrieval(text, language, (), {}, np.zeros(0))
        asked = measures(text)  # the sizes and numbers the message states
        query_tokens = frozenset(scored.tokens) | asked
        ranked = {fusion.LEXICAL: pooled[fusion.LEXICAL]}
        for name, q in query.items():
            ranked[name] = pooled[name] if q.tokens is None else self._late_interaction(name, q.tokens, pooled[name])
            ranked[name + fusion.POOLED] = pooled[name]
        pooled_articles = scored.pooled_articles
        ranked_articles = {  # pooled scores are aggregated once, whatever signal names them
            name: pooled_articles[fusion.encoder_of(name)]
            if scores is pooled[fusion.encoder_of(name)]
            else self._per_article(scores, allowed)
            for name, scores in ranked.items()
        }
        fused = fusion.fuse(ranked_articles, language, self.weights)
        share = self.example_weights.for_language(language)
        taught = self._taught(language, query, allowed) if share else None
        if taught is not None:
            fused = (1 - share) * fused + share * taught
        stage_weight = self.weights.stage.get(language, 0.0)
        if stage_weight:  # after the confidence features, which read the pooled fusion without it
            stages = [self._stages[i] for i in np.flatnonzero(allowed)]
            fused = fused + stage_weight * fusion.stage_match(scored.stages, stages)
        fused = fused + PRIORITY_TIE_BREAK * self._priority[allowed]
        allowed_ids = np.flatnonzero(allowed)
        ranking = np.argsort(-fused, kind="stable")
        # Inside an answered article, a signal without token vectors picks a section by its body view: USE's
        # vector of a heading alone draws questions to question-shaped headings ("发票信息有误怎么办").
        section_fused = self._section_fused({**ranked, **scored.bodies}, ranked_articles, language)
        case = section_choice.read_case(text, scored.situation, scored.tokens)
        top_sets = {name: set(_top(s, MATCH_DEPTH).tolist()) for name, s in ranked.items()}
        answers: list[Answer] = []
        sections: list[tuple[Answer, ...]] = []
        for position in ranking[:k]:
            members = self.members(allowed_ids[position])
            total = section_choice.totals(section_fused[members], self.headings(members), case)
            order = section_choice.ranked(total)
            score = float(fused[position])
            answers.append(self._answer(int(members[order[0]]), score, query_tokens, top_sets, language))
            if others:  # scored below the article by how far behind the chosen section they are
                behind = total[order[0]] - total
                sections.append(
                    tuple(
                        self._answer(int(members[i]), score - float(behind[i]), query_tokens, top_sets, language)
                        for i in order[1:]
                    )
                )
        in_scope = bool(answers) and scored.in_scope
        probability = scored.answer_probability if answers else 0.0
        return Retrieval(
            text, language, tuple(answers), scored.features, fused[ranking], in_scope, probability, tuple(sections)
        )  # fmt: skip

    def _per_article(self, section_scores: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        scores: np.ndarray = fusion.aggregate_articles(section_scores, self._order, self._starts)[allowed]
        return scores

    def _taught(self, language: Language, query: Mapping[str, _Encoded], allowed: np.ndarray) -> np.ndarray | None:
        """The example-phrasing signal of the allowed articles (`examples.taught_signal`), or None."""
        name = confidence.confidence_signal(language)
        if name not in self._phrasings:
            return None
        vectors, owners = self._phrasings[name]
        scores = examples.article_scores(vectors, owners, query[name].vector, len(self._article_ids))
        return examples.taught_signal(scores[allowed])

    def _late_interaction(self, name: str, query_tokens: np.ndarray, pooled: np.ndarray) -> np.ndarray:
        """Pooled cosine blended with MaxSim over the token vectors of both views, for the best
        MAXSIM_CANDIDATES sections by pooled cosine; the others score below all of them."""
        candidates = _top(pooled, MAXSIM_CANDIDATES)
        weights = fusion.LATE_INTERACTION_WEIGHTS
        blended = weights["pooled"] * pooled[candidates]
        for view, store in self.tokens[name].items():
            blended = blended + weights[view] * store.maxsim(query_tokens, candidates)
        out = np.full(len(pooled), blended.min() - 1e-3, dtype=np.float32)  # any margin below the last works
        out[candidates] = blended
        return out

    def headings(self, rows: np.ndarray) -> list[section_choice.Heading]:
        """What the headings of these sections state (`section_choice.read_heading`), read once each."""
        for row in rows.tolist():
            if row not in self._headings:
                self._headings[row] = section_choice.read_heading(self.sections[row])
        return [self._headings[row] for row in rows.tolist()]

    def members(self, article: int) -> np.ndarray:
        """The rows of an article's sections (by its position in the index), in reading order."""
        end = self._starts[article + 1] if article + 1 < len(self._starts) else len(self.sections)
        members: np.ndarray = self._order[self._starts[article] : end]
        return members

    def _dense(self, store: VectorStore, vector: np.ndarray) -> np.ndarray:
        """Cosine of every row: the best DENSE_CANDIDATES from FAISS, the rest as the last of those."""
        scores, rows = store.search(vector[None, :], DENSE_CANDIDATES)
        found = rows[0] >= 0
        full = np.full(len(store), scores[0][found].min() if found.any() else 0.0, dtype=np.float32)
        full[rows[0][found]] = scores[0][found]
        return full

    def _section_fused(
        self, section_scores: Mapping[str, np.ndarray], article_scores: Mapping[str, np.ndarray], language: Language
    ) -> np.ndarray:
        """Section-level fused score on the article z-score scale: picks the best section inside an article."""
        out = np.zeros(len(self.sections), dtype=np.float64)
        for name, weight in self.weights.for_language(language).items():
            if name in section_scores:
                reference = article_scores[name]
                std = reference.std() or 1.0
                out += weight * (section_scores[name] - reference.mean()) / std
        return out

    def _answer(
        self, row: int, score: float, query_tokens: Set[str], top_sets: Mapping[str, set[int]], language: Language
    ) -> Answer:
        section = self.sections[row]
        meta, path = self.articles[section.article_id]
        dense = any(row in top_sets[name] for name in top_sets if name != fusion.LEXICAL)
        lexical = row in top_sets[fusion.LEXICAL]
        matched: MatchedBy = "both" if dense and lexical else "lexical" if lexical else "dense"
        joiner = "" if language == "zh" else " "
        return Answer(
            article_id=section.article_id,
            anchor=section.anchor,
            title=meta.title,
            heading_path=section.heading_path,
            text=section.text,
            snippet=joiner.join(best_sentences(section.text, query_tokens)),
            score=round(score, 6),
            matched_by=matched,
            section_id=section.id,
            path=path,
            line_start=section.line_start,
            line_end=section.line_end,
            locale=meta.locale,
        )

    def _allowed_articles(self, language: Language, filters: Filters) -> np.ndarray:
        """Articles passing every filter; locale falls back from exact, to same language, to the default.
        Masks are cached per (language, filters, day): most messages share a handful."""
        key = (language, filters, filters.today or date.today())
        mask = self._masks.get(key)
        if mask is None:
            if len(self._masks) >= MASK_CACHE_SIZE:
                self._masks.clear()
            mask = self._masks[key] = self._compute_allowed(language, filters, key[2])
        return mask

    def _compute_allowed(self, language: Language, filters: Filters, today: date) -> np.ndarray:
        metas = [self.articles[a][0] for a in self._article_ids]
        base = np.array([_passes(m, filters, today) for m in metas], dtype=bool)
        wanted = filters.locale or language
        for matches in (
            lambda m: m.locale == wanted,
            lambda m: _primary(m.locale) == _primary(wanted),
            lambda m: m.locale == self.default_locale,
        ):
            mask: np.ndarray = base & np.array([matches(m) for m in metas], dtype=bool)
            if mask.any():
                return mask
        return base


@cache
def _openmp() -> ThreadpoolController:
    """The loaded OpenMP runtimes (FAISS's), found once: that costs milliseconds. Their own controller, since
    a limiter restores every library its controller holds."""
    return ThreadpoolController().select(user_api="openmp")


def one_openmp_thread() -> Any:
    """A context in which FAISS's OpenMP runs on one thread for the calling thread: exact search of 10,000
    vectors takes 0.3 ms on one thread and 1.3 ms on two (idle machine). OpenMP's limit belongs to the
    calling thread, so no other thread is affected; setting and restoring it costs ~10 microseconds."""
    return _openmp().limit(limits=1)


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` highest scores, in no particular order (all of them when there are fewer)."""
    if len(scores) <= n:
        return np.arange(len(scores))
    top: np.ndarray = np.argpartition(-scores, n - 1)[:n]
    return top


def _primary(locale: str) -> str:
    return locale.split("-")[0].lower()


def _passes(meta: ArticleMeta, filters: Filters, today: date) -> bool:
    return (
        meta.is_valid_on(today)
        and (filters.type is None or meta.type in filters.type)
        and (filters.tags is None or bool(set(filters.tags) & set(meta.tags)))
        and (filters.products is None or bool(set(filters.products) & set(meta.products)))
        and (filters.channel is None or not meta.channels or filters.channel in meta.channels)
    )
