"""Retrieval + analysis -> `Suggestion`: confidence, escalation, clarifying question, drafts. Pure: the caller
gives the suggestion its id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kbsuggest.analysis import MessageAnalysis
from kbsuggest.articles.templates import Templates, Tone
from kbsuggest.conversation import ConversationUse, Turn, already_sent, history_slots
from kbsuggest.privacy import redact
from kbsuggest.reply.compose import clarifying_question, compose
from kbsuggest.reply.models import EscalateReason, Option, Suggestion
from kbsuggest.retrieval.retriever import Retrieval

CLARIFY_MARGIN = 0.25
"""Ask instead of guessing when the best two articles' fused scores (z-units) are closer than this..."""
CLARIFY_BELOW = 0.6
"""...and the calibrated confidence in the best one is below this. Both set by hand, not fitted. On the demo dev
set (tests/data/demo_queries.jsonl) they ask in 10 of 236 messages: of the 9 answerable ones, the first answer
was right for 3 and one of the two options offered for all 9 (answered messages: acc@1 0.90)."""


def escalation(analysis: MessageAnalysis, in_scope: bool, unresolved: bool = False) -> EscalateReason | None:
    """Why a person should take the message, most pressing reason first; None when a bot may answer.
    `unresolved`: the conversation shows that the earlier answers did not help."""
    if analysis.human_requested:
        return "human_requested"
    if unresolved:
        return "unresolved"
    if not in_scope:
        return "no_answer"
    if analysis.angry:
        return "upset_customer"
    if analysis.urgency == "high" and analysis.sentiment == "negative":
        return "urgent"
    return None


def build_suggestion(
    suggestion_id: str,
    message: str,
    retrieval: Retrieval,
    analysis: MessageAnalysis,
    *,
    templates: Mapping[str, Templates],
    context: Mapping[str, str],
    tone: Tone,
    stages: Mapping[str, str | None],
    history: Sequence[Turn] = (),
    conversation: ConversationUse | None = None,
) -> Suggestion:
    """Assemble the suggestion for one message; `stages` maps article ids to their `stage`. With a `history`, the
    draft leaves out an answer an agent turn already gave, and takes the customer's name and order number from it
    where `context` has none."""
    answers = retrieval.answers
    in_scope = retrieval.in_scope
    confidence = retrieval.answer_probability
    reason = escalation(analysis, in_scope, conversation is not None and conversation.kind == "unresolved")
    clarify = None
    if (
        in_scope
        and len(answers) > 1
        and confidence < CLARIFY_BELOW
        and retrieval.fused[0] - retrieval.fused[1] < CLARIFY_MARGIN
    ):
        clarify = (answers[0].title, answers[1].title)
    best = answers[0] if in_scope else None
    phrases = templates[retrieval.language]
    question = clarifying_question(phrases, tone, message, clarify) if clarify else None
    sent = best is not None and already_sent(best.snippet, history)
    draft = compose(
        message,
        analysis,
        None if sent else best,
        templates=phrases,
        tone=tone,
        context={**history_slots(history), **context},
        question=question,
        handoff=reason is not None,
    )
    return Suggestion(
        id=suggestion_id,
        message=redact(message),
        analysis=analysis,
        stage=stages.get(best.article_id) if best else None,  # type: ignore[arg-type]
        answers=answers,
        drafts=(draft,),
        confidence=round(confidence, 4),
        escalate=reason is not None,
        escalate_reason=reason,
        clarifying_question=question,
        clarifying_options=tuple(Option(article_id=a.article_id, title=a.title) for a in answers[:2])
        if clarify
        else (),
        conversation=conversation,
    )
