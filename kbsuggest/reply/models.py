"""What `KnowledgeBase.suggest` returns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kbsuggest.analysis import MessageAnalysis
from kbsuggest.articles.templates import Tone
from kbsuggest.conversation import ConversationUse
from kbsuggest.retrieval.models import Answer

EscalateReason = Literal["no_answer", "human_requested", "unresolved", "upset_customer", "urgent"]


class Draft(BaseModel):
    """A reply an agent can send after a glance. Every factual sentence comes from a cited section."""

    model_config = ConfigDict(frozen=True)

    text: str
    language: Literal["en", "zh"]
    tone: Tone
    citations: tuple[str, ...] = Field(description="Section ids ('article#anchor') the answer sentences come from.")
    missing_slots: tuple[str, ...] = Field(
        default=(), description="Placeholders left visible in `text` because the context had no value for them."
    )


class Option(BaseModel):
    """One option of a clarifying question: the article it stands for."""

    model_config = ConfigDict(frozen=True)

    article_id: str
    title: str


class Suggestion(BaseModel):
    """Ranked answers, reply drafts, a confidence and whether a person should take over."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Quote it when recording feedback.")
    message: str = Field(description="The customer's message with personal data masked (order numbers kept).")
    analysis: MessageAnalysis
    stage: Literal["pre_sale", "in_sale", "after_sale"] | None = Field(
        description="Where in the purchase the customer is, from the best answer's article."
    )
    answers: tuple[Answer, ...]
    drafts: tuple[Draft, ...] = Field(
        description="The reply draft, one today: a tuple so alternatives (other tones, other answers) can be added "
        "without breaking callers."
    )
    confidence: float = Field(
        ge=0.0,
        le=1.0,
        description="Calibrated probability that the first answer is right, also when escalated as no_answer "
        "(the answers are still returned).",
    )
    escalate: bool
    escalate_reason: EscalateReason | None = None
    clarifying_question: str | None = Field(
        default=None,
        description="Asked when two different articles fit about equally; the draft asks it and answers the first.",
    )
    clarifying_options: tuple[Option, ...] = Field(
        default=(), description="The options `clarifying_question` offers, in its order, with their articles."
    )
    conversation: ConversationUse | None = Field(
        default=None, description="How the conversation's earlier turns were used; None without a history."
    )
