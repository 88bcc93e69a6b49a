"""Retrieval + analysis -> `Suggestion`: confidence, escalation, clarifying question, drafts. Pure: the caller
gives the suggestion its id."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from kbsuggest.analysis import MessageAnalysis
from kbsuggest.articles.templates import Templates, Tone
from kbsuggest.conversation import ConversationUse, Turn, already_sent, history_slots
from kbsuggest.privacy import redact
from kbsuggest.reply.compose import Block, clarify_lead, clarifying_question, compose
from kbsuggest.reply.models import EscalateReason, Option, Suggestion
from kbsuggest.reply.pick import has_fitting_row, situation_decides
from kbsuggest.reply.promotions import Promotion, Running
from kbsuggest.retrieval.models import Answer
from kbsuggest.retrieval.retriever import Retrieval
from kbsuggest.text.situation import Situation, condition_stages, read_situation, stage_verdict

CLARIFY_MARGIN = 0.05
"""Ask which of the best two articles the customer means only when their fused scores (z-units) are this close
(a tie)..."""
CLARIFY_BELOW = 0.45
"""...and the calibrated confidence in the first is below this. Fitted by `benchmarks/fit_clarify.py` on the demo
dev set (tests/data/demo_queries.jsonl): a question helps when the first article is wrong and the second right,
and is needless when the first is right; the grid pair with the most helped minus needless (fewest questions on
a tie) asks 3 of 236 messages there (helps 1, needless 0), and 2 of the 343 main draft messages (helps 1,
needless 1), with the answer models of 2026-12-02 (each fitting file weighing the same; 0.4 with the models
before). No pair helps more often than it asks needlessly on the messages it was not fitted on, either way round:
the hand-set 0.6 / 0.25 it replaces asked 13 of the 343 main draft messages, 7 of them with the first article right
and 3 with the second. So questions are kept for near ties only, and the draft answers the first option too
(`compose`), so a needless question still comes with the answer."""
CHOICE = re.compile(r"\bor\b|还是|或者|或是", re.IGNORECASE)
"""A message that offers a choice itself ("refund or exchange?", "能退款还是换新？") asks which applies: it is
answered, never asked back. Read by the word alone, so "还是没到" (still not here) is answered too, as nearly every
message is."""

NEXT_SECTION_WITHIN = 1.25
"""How far (z-units of the fused score) a question's next section of an article may score below its best for the
question to give the best up to another question of the message that has no such section. Set on the
two-question lines of the draft sets (benchmarks/bench_drafts.py), 12 pairs drawn to one section: the 4 whose
other section is right give it up at 0.04-1.14 while the other question is 2.4-4.0 behind (and "是授权的吗" at
1.03, adding the unauthorised-channels section beside the authorised ones); two questions both close behind
(0.29 and 0.53: "how bright is the lumen 400 on medium and how long does it last") are one section's two facts,
as are both far behind ("how do I reset my password and how long is the link good for": 2.1 and 2.4). A size
question keeps the size table (`sized`: "腰围82选什么码" at 1.08 would take the tops table)."""
FOLLOW_UP_WITHIN = 1.1
"""How far below its first answer a later question's answer from an article an earlier question is answered
from may score and still be taken. Set on the same lines: the 9 second questions whose right article is the
first one's are 0.18-1.04 behind ("几天能到", "多久退差价", "how soon after you get it is the refund"); the
first whose own article is right ("do you accept discover" after "my card got declined") is 1.26 behind."""
SECOND_SECTION_WITHIN = 0.3
"""A one-question message whose best section's article has another section at most this far behind (z-units of
`section_choice.totals`) is answered from both (`close_second`): a near tie inside an article is answered from
both sections, as a near tie between articles is asked about with the first answered. Set on the main draft sets
(benchmarks/bench_drafts.py, in sample): off / 0.2 / 0.3 / 0.4 / 0.5 read must-recall en 0.808 / 0.816 / 0.820 /
0.824 / 0.824 and zh 0.823 / 0.835 / 0.839 / 0.839 / 0.851, drafts stating a must-not fact en 0.6% / 1.2% from 0.2
on, zh 0.6% / 1.1% / 1.1% / 1.1% / 1.7%; from 0.4 on a held-out Chinese draft states one (0.0% -> 4.2%). At 0.3,
13 + 10 of the 343 drafts get a second section (10 of them with the first already an expected one)."""


@dataclass(frozen=True)
class Part:
    """One question of the message (`questions.split_questions`), what retrieval found for it, the
    promotions outside their dates it names (`promotions.named_promotions`) and, when it names one, the
    promotion running instead (`promotions.running_promotion`)."""

    text: str
    retrieval: Retrieval
    promotions: tuple[Promotion, ...] = ()
    running: Running | None = None


def answer_blocks(parts: Sequence[Part], best: Answer | None) -> list[Block]:
    """What the draft answers, in the customer's order: per question, the promotions out of their dates it
    names and what runs instead, else its best section (`lean`); a section answers once, and a promotion's article
    once. Two questions drawn to one section: when exactly one of them has a next section of that article close
    behind (`next_section`), it takes that one; else the section answers both, quoted for both. A single question
    is answered by `best`."""
    blocks: list[Block] = []
    used: set[str] = set()
    # a section a question's answer gave: its block, the question, the answer and its article's other sections
    holders: dict[str, tuple[int, str, Answer, tuple[Answer, ...]]] = {}
    for part in parts:
        if part.promotions:
            offered: tuple[Promotion | Running, ...] = (*part.promotions, *((part.running,) if part.running else ()))
            for promotion in offered:
                if all(b.source.article_id != promotion.article_id for b in blocks):
                    used.add(promotion.section_id or promotion.article_id)
                    blocks.append(Block(part.text, promotion))
            continue
        found = part.retrieval
        # A short question ("are you open on sunday") may fall out of scope alone though the message is not.
        confident = found.in_scope or best is not None
        others: tuple[Answer, ...] = ()
        if len(parts) == 1 or not (confident and found.answers):
            answer = best
        else:
            answer, others = lean(found, {b.source.article_id for b in blocks})
        if answer is None:
            continue
        if answer.section_id in used:
            if answer.section_id not in holders:
                continue
            index, question, held, alternatives = holders.pop(answer.section_id)
            mine = None if sized(part.text, answer) else next_section(answer, others, used)
            # a question that leans on the earlier one's article does not take the earlier one's section away
            leaned = answer is not found.answers[0]
            theirs = None if leaned or sized(question, held) else next_section(held, alternatives, used)
            if (mine is None) == (theirs is None):  # neither or both could do without it: it answers both
                blocks[index] = Block(f"{question} {part.text}", held)
                continue
            if mine is not None:
                used.add(mine.section_id)
                blocks.append(Block(part.text, mine))
                continue
            assert theirs is not None
            used.add(theirs.section_id)
            blocks[index] = Block(question, theirs)
        used.add(answer.section_id)
        holders[answer.section_id] = (len(blocks), part.text, answer, others)
        blocks.append(Block(part.text, answer))
    if not blocks and best is not None:
        blocks.append(Block(parts[0].text if parts else "", best))
    return blocks


def lean(found: Retrieval, earlier: set[str]) -> tuple[Answer, tuple[Answer, ...]]:
    """A question's answer and its article's other sections: its first answer, unless an article an earlier
    question of the message is answered from scores at most FOLLOW_UP_WITHIN below it (a follow-up question leans
    on the one before: "能开增值税专用发票吗？退货了发票怎么处理", "can i send my return with fedex myself? and how soon
    after you get it is the refund")."""
    others = found.others or tuple(() for _ in found.answers)
    first = found.answers[0]
    for answer, behind in zip(found.answers, others, strict=True):
        if first.score - answer.score > FOLLOW_UP_WITHIN:
            break
        if answer.article_id in earlier:
            return answer, behind
    return first, others[0]


def sized(question: str, answer: Answer) -> bool:
    """The question gives measurements and the section holds the size that fits them: it keeps the section."""
    situation = read_situation(question)
    return bool(situation.measures) and has_fitting_row(answer.text, situation)


def next_section(
    answer: Answer, others: Sequence[Answer], used: set[str], within: float = NEXT_SECTION_WITHIN
) -> Answer | None:
    """The best unused other section of `answer`'s article for its question (`others`, best first), when it
    scores at most `within` below `answer`."""
    other = next((o for o in others if o.section_id not in used), None)
    return other if other is not None and answer.score - other.score <= within else None


def close_second(part: Part, best: Answer, situation: Situation, history: Sequence[Turn]) -> list[Block]:
    """The second section of a one-question message (`part`): the next section of `best`'s article when it scores
    at most SECOND_SECTION_WITHIN below it, unless its heading is about an order state the customer's order is not
    known to be in ("If the order has already shipped" for "ordered 10 minutes ago, how do i cancel"), or an agent
    turn already gave it."""
    others = part.retrieval.others[0] if part.retrieval.others else ()
    second = next_section(best, others, {best.section_id}, SECOND_SECTION_WITHIN)
    if second is None or already_sent(second.snippet, history) or already_sent(second.text, history):
        return []
    stages = condition_stages(" ".join(second.heading_path[1:]))
    if stages is not None and stage_verdict(stages, situation.stages) is not True:
        return []
    return [Block(part.text, second)]


def size_table_block(
    message: str, situation: Situation, answers: Sequence[Answer], blocks: Sequence[Block]
) -> list[Block]:
    """A customer who gives their measurements is owed the size that fits: when no answer block holds a size
    table row for them, the first other answer that does (the best answer may be the product page that says
    "see the size chart")."""
    if not situation.measures:
        return []
    if any(isinstance(b.source, Answer) and has_fitting_row(b.source.text, situation) for b in blocks):
        return []
    used = {b.source.section_id for b in blocks}
    extra = next((a for a in answers if a.section_id not in used and has_fitting_row(a.text, situation)), None)
    return [Block(message, extra)] if extra is not None else []


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
    parts: Sequence[Part] = (),
    history: Sequence[Turn] = (),
    conversation: ConversationUse | None = None,
    today: date | None = None,
) -> Suggestion:
    """Assemble the suggestion for one message; `stages` maps article ids to their `stage`; `parts`: its
    questions (default: the whole message, one question). With a `history`, the draft leaves out an answer an
    agent turn already gave, does not repeat the agent's opening, acknowledgement and closing phrases, and takes
    the customer's name and order number from it where `context` has none.
    `today`: the day the customer's dates are counted to ("ordered on March 3"); without it they are not read."""
    answers = retrieval.answers
    in_scope = retrieval.in_scope
    confidence = retrieval.answer_probability
    reason = escalation(analysis, in_scope, conversation is not None and conversation.kind == "unresolved")
    parts = parts or (Part(message, retrieval),)
    best = answers[0] if in_scope else None
    blocks = [  # an answer an agent turn already gave is not given again
        b
        for b in answer_blocks(parts, best)
        if not (
            isinstance(b.source, Answer)
            and (already_sent(b.source.snippet, history) or already_sent(b.source.text, history))
        )
        and not (isinstance(b.source, Running) and already_sent(b.source.text, history))
    ]
    situation = read_situation(message, today)  # read once: the size table block and the composer use it
    blocks += size_table_block(message, situation, answers if in_scope else (), blocks)
    clarify = None
    if (
        in_scope
        and [b.source for b in blocks] == [best]
        and len(answers) > 1
        and confidence < CLARIFY_BELOW
        and retrieval.fused[0] - retrieval.fused[1] < CLARIFY_MARGIN
        and not CHOICE.search(message)
        and not (situation_decides(answers[0].text, situation) and not situation_decides(answers[1].text, situation))
    ):
        clarify = (answers[0].title, answers[1].title)
    if clarify is None and len(parts) == 1 and best is not None and [b.source for b in blocks] == [best]:
        blocks += close_second(parts[0], best, situation, history)
    phrases = templates[retrieval.language]
    question = clarifying_question(phrases, tone, message, clarify) if clarify else None
    lead = clarify_lead(phrases, tone, message, clarify[0]) if clarify else None
    draft = compose(
        message,
        analysis,
        blocks,
        templates=phrases,
        tone=tone,
        context={**history_slots(history), **context},
        question=question,
        lead=lead,
        handoff=reason is not None,
        situation=situation,
        said=[t.text for t in history if t.role == "agent"],
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
