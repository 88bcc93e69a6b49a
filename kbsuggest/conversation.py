"""A customer's latest message in the light of the conversation so far. Deterministic and rule-based (no LLM).

`plan` reads the message and the earlier turns. When the cues decide the kind, it names the one query that
answers; otherwise the message alone, and the message with the earlier topic (the contextual query: the last
customer turns and the agent's last answer), which is scored only when the first retrieval leaves the choice
open (`needs_contextual`) and ranked into answers only when it is in scope and its answer probability wins
(`contextual_wins`);
`decide` compares their answer probabilities. In the order they are tried:

- `clarification_answer`: the agent's last turn offered options (kbsuggest's own clarifying question, matched by
  its template; "returns or exchanges?"; "退款还是换货？"; a numbered list) and the message picks one by position
  ("the 2nd one", "第二个", "2") or by a word of the option ("the refund one", "退货");
- `unresolved`: "that didn't help", "没用", the same question again, an answer contradicted, shouting or anger
  after an answer: the topic is answered, and a person should take over;
- `follow_up`: the message is elliptical ("and express?", "what about the jacket?", "那退款呢", "运费谁出"), or the
  contextual query is clearly more confident than the message alone, for a message that shares a content word
  with the earlier customer turns or points back to them ("it", "those", "这个", "那边");
- `topic_shift` / `standalone`: a complete question, or one that says it changes topic ("also", "另外"), answered
  as if alone; `standalone` when it shares content words with the earlier customer turns, else `topic_shift`. A
  complete question that shares none and points back to nothing ("下次买东西支持花呗吗" after a refund question) is
  a new question: its contextual query is not scored, however sure the earlier topic would make it.

A message without letters ("2", "?") says nothing of its language: it takes the conversation's (`in_language`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kbsuggest.analysis import MessageAnalysis, analyse
from kbsuggest.errors import InputError, printable
from kbsuggest.privacy import redact
from kbsuggest.retrieval.retriever import Retrieval, Scored
from kbsuggest.text.tokenize import ORDER_PLACEHOLDER, Language, normalize_query, tokenize

MAX_TURNS = 20
"""Longer histories are refused: the last few exchanges carry the topic, a whole chat log does not."""
MAX_HISTORY_CHARS = 6000
"""The characters of all turns together: with a message at its limit, still under the HTTP body limit (64 KiB)
when every character is written as a JSON escape."""
TURN_CACHE_SIZE = 1024
"""Analysed turns kept (least recently used dropped) so the next message of a conversation, sent with the same
earlier turns, reuses their analysis: 0.5 ms (English) to 1 ms (Chinese) for 6 turns. They hold the turns' text,
in memory only."""
TOPIC_TURNS = 2
"""The last customer turns whose text, with the agent's last answer, joins a message in the contextual query."""


@dataclass(frozen=True)
class Thresholds:
    """The answer probabilities `needs_contextual` and `decide` compare. Fitted on the help-center conversations
    and checked on the demo-store ones by benchmarks/fit_conversations.py; refit them there after the confidence
    models change."""

    follow_up_margin: float
    """Without an ellipsis cue, the contextual query is used when its answer probability beats the message
    alone's by more than this..."""
    follow_up_floor: float
    """...and the message alone is in scope and answered with at least this probability (below it, the earlier
    topic would lend an unrelated question its confidence)."""
    new_question_floor: float
    """A complete question asked in a conversation and answered with a lower probability is escalated
    (`no_answer`), as an out-of-scope question asked mid-conversation (stock, catalogues) may be."""


THRESHOLDS = Thresholds(follow_up_margin=0.2, follow_up_floor=0.25, new_question_floor=0.0)
"""Fitted on the help-center conversations after the confidence models' refit for real messages (issue 14). The
new-question floor came out at 0: below 0.4 it hands over as many answerable new questions as out-of-scope ones,
so a complete question mid-conversation is handed over exactly when it would be alone."""
SHORT_EN = 1
"""An English message of at most this many content words ("klarna?", "can I swim with it?") cannot stand alone."""
SHORT_ZH = 4
"""Nor a Chinese message of at most this many CJK characters ("运费谁出", "加急呢")."""
ANSWER_EN = 6
"""A message picking an option by a word has at most this many content words ("exchange, need a 10.5")..."""
ANSWER_ZH = 12
"""...or CJK characters ("收费那个", "登不上 密码忘了")."""
REPEAT = 0.7
"""A message whose words overlap an earlier customer turn's this much (Jaccard) asks the same question again."""
ALREADY_SENT = 0.6
"""A draft leaves out a snippet when this share of its words is already in one agent turn."""

Kind = Literal["follow_up", "clarification_answer", "topic_shift", "standalone", "unresolved"]


class Turn(BaseModel):
    """One earlier turn of the conversation. What the rules read of it is read once, when first asked, and kept
    with the turn: the conversation's plan, the draft's slots and the already-sent check share it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["customer", "agent"]
    text: str

    @cached_property
    def analysis(self) -> MessageAnalysis:
        return analyse(self.text)

    @cached_property
    def words(self) -> frozenset[str]:
        return _words(self.text)

    @cached_property
    def topic_words(self) -> frozenset[str]:
        return _topic_words(self.text)


class ConversationUse(BaseModel):
    """How the history was used for the latest message."""

    model_config = ConfigDict(frozen=True)

    kind: Kind = Field(
        description="follow_up: resolved with the earlier topic; clarification_answer: picked an option the agent "
        "offered; topic_shift / standalone: a complete question answered alone (on a new / the same topic); "
        "unresolved: the earlier answers did not help (escalated)."
    )
    query: str = Field(description="The query the answers were retrieved for, personal data masked.")
    turns: tuple[int, ...] = Field(description="Positions (0 = oldest) of the history turns the query drew on.")
    option: str | None = Field(default=None, description="The option picked, for clarification_answer.")
    cues: tuple[str, ...] = Field(default=(), description="The words that drove the decision, personal data masked.")


@dataclass(frozen=True)
class Plan:
    """What to retrieve for one message: `query` first; with no `kind` decided from the cues, also `contextual`
    when the first retrieval leaves the choice open (`needs_contextual`)."""

    query: str
    kind: Kind | None
    turns: tuple[int, ...]  # the history turns the contextual (or option's) query draws on
    cues: tuple[str, ...]
    option: str | None = None
    contextual: str | None = None  # None: a message that says it changes topic, or a new question, is never a follow-up
    same_topic: bool = False  # the message shares content words with the earlier customer turns


def history_turns(history: object) -> tuple[Turn, ...]:
    """`history` validated: a list of `Turn` or of dicts {"role": "customer" | "agent", "text": ...}, bounded."""
    if history is None:
        return ()
    if isinstance(history, str | bytes) or not isinstance(history, Sequence):
        raise InputError(
            f"history is {type(history).__name__}, not a list. "
            'Fix: pass the earlier turns, oldest first: [{"role": "customer", "text": "..."}, ...]'
        )
    if len(history) > MAX_TURNS:
        raise InputError(
            f"history has {len(history)} turns, over the limit of {MAX_TURNS}. Fix: pass the last {MAX_TURNS} turns"
        )
    turns = []
    for i, item in enumerate(history):
        try:
            turn = item if isinstance(item, Turn) else Turn.model_validate(item)
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'turn'}: {e['msg']}" for e in exc.errors())
            raise InputError(
                f'history[{i}]: {printable(problem)}. Fix: write {{"role": "customer" | "agent", "text": "..."}}'
            ) from None
        try:
            turn.text.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"history[{i}].text is not valid Unicode. Fix: decode it as UTF-8") from None
        turns.append(_analysed(turn.role, turn.text))
    total = sum(len(t.text) for t in turns)
    if total > MAX_HISTORY_CHARS:
        raise InputError(
            f"history has {total} characters, over the limit of {MAX_HISTORY_CHARS}. "
            "Fix: pass the last few exchanges, not the whole conversation"
        )
    return tuple(turns)


@lru_cache(maxsize=TURN_CACHE_SIZE)
def _analysed(role: Literal["customer", "agent"], text: str) -> Turn:
    """The one `Turn` of this role and text among the last `TURN_CACHE_SIZE` asked for, with what was read of it."""
    return Turn(role=role, text=text)


def question_patterns(phrases: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    """Patterns that find kbsuggest's own clarifying questions (the `clarify` template phrases) in an agent turn,
    with the two options as groups `a` and `b`: for each phrase, one taking the shortest first option and one the
    longest (titles may hold the words that join the options: "Damaged, wrong or missing items or Exchanges")."""
    out = []
    for phrase in dict.fromkeys(phrases):
        for first in ("(?P<a>.+?)", "(?P<a>.+)"):
            pattern = re.escape(phrase).replace(re.escape("{option_a}"), first)
            pattern = pattern.replace(re.escape("{option_b}"), "(?P<b>.+?)")
            out.append(re.compile(re.sub(r"\\\{\w+\\\}", ".*?", pattern)))
    return tuple(out)


# --- options offered by the agent ----------------------------------------------------------------------------

_NUMBERED = re.compile(r"(?:^|(?<=[\s:：,，;；。.?？]))\(?([1-9])[).、:：]\s*")
_SENTENCE = re.compile(r"[^.!?。！？\n]*[?？]")
_EN_INTRO = re.compile(
    r"^(?:(?:so|ok|okay|sure|and)[,!]?\s+)?(?:is (?:it|this|that) (?:about|for|regarding)|are you asking about"
    r"|do you (?:mean|want)|did you mean|would you like(?: to)?|is it|was it|which one[:,]?)\s+",
    re.IGNORECASE,
)
_ZH_INTRO = re.compile(r"^(?:亲[，,～~]?\s*)?(?:请问)?(?:您|你)?(?:是想咨询|是想要|是想|是要|想要|是)?")
_OR_EN = re.compile(r",?\s+or\s+", re.IGNORECASE)
_TRIM = " \t\r\n,，.。!！?？:：;；~～、()（）\"'“”"


def offered_options(text: str, own: Sequence[re.Pattern[str]], titles: Set[str]) -> tuple[str, ...]:
    """The options an agent turn asks the customer to choose from, in order; () when it asks no such question.
    kbsuggest's own question (`own`, from `question_patterns`) offers two article `titles`; any other question
    is read by its form: "X or Y?", "X, Y, or Z?", "X还是Y？", "X、Y，还是Z？", a numbered list."""
    for found in (p.search(text) for p in own):
        if found and {found["a"].strip(), found["b"].strip()} <= titles:
            return (found["a"].strip(), found["b"].strip())
    numbered = list(_NUMBERED.finditer(text))
    if len(numbered) >= 2 and [m[1] for m in numbered] == [str(i + 1) for i in range(len(numbered))]:
        ends = [m.start() for m in numbered[1:]] + [len(text)]
        items = [text[m.end() : end].strip(_TRIM) for m, end in zip(numbered, ends, strict=True)]
        return tuple(item for item in items if item)
    questions = _SENTENCE.findall(text)
    question = questions[-1] if questions else ""
    question = question.rsplit(":", 1)[-1].rsplit("：", 1)[-1].strip(_TRIM)
    if "还是" in question:
        head, _, last = question.rpartition("还是")
        head = _ZH_INTRO.sub("", re.split(r"[，,]", head.rstrip(_TRIM))[-1])  # the clause before 还是: the options
        parts: Sequence[str] = [*head.split("、"), re.sub(r"[呢吗]+$", "", last.strip(_TRIM))]
    elif _OR_EN.search(question):
        question = _EN_INTRO.sub("", question)
        pieces = _OR_EN.split(question)
        head, last = " or ".join(pieces[:-1]), pieces[-1]
        oxford = bool(re.search(r",\s+or\s+[^,]*$", question, re.IGNORECASE))
        parts = [*(head.split(",") if oxford or " or " not in head else [head]), last]
    else:
        return ()
    options = tuple(p.strip(_TRIM) for p in parts if p.strip(_TRIM))
    return options if len(options) >= 2 else ()


_ORDINALS_EN = {
    "first": 0, "1st": 0, "former": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
}  # fmt: skip
_ORDINAL_EN = re.compile(
    r"^\W*(first|1st|former|second|2nd|third|3rd|fourth|4th|last|latter)\b"
    r"|\bthe (first|1st|former|second|2nd|third|3rd|fourth|4th|last|latter)\b"
    r"|\b(first|1st|second|2nd|third|3rd|fourth|4th|last) one\b",
    re.IGNORECASE,
)
_ORDINAL_ZH = re.compile(r"第\s*([一二三四1-4])\s*[个种项条]?|(前者|后者|最后一个|最后那个)")
_DIGIT = re.compile(
    r"^\s*(?:option\s*|no\.?\s*|number\s*|#)?([1-9])(?![\d.:/%$])(?:\s*(?:one|个|号)?)(?:$|[\s,.，。!！)])"
)
_ZH_DIGITS = {"一": 0, "二": 1, "三": 2, "四": 3}


def _ordinal(message: str, count: int) -> tuple[int, str] | None:
    """The position (0-based) a message picks among `count` options, with the words that say so."""
    found = _ORDINAL_EN.search(message)
    if found:
        word = next(g for g in found.groups() if g).lower()
        return (count - 1 if word in ("last", "latter") else _ORDINALS_EN[word]), found[0]
    found = _ORDINAL_ZH.search(message)
    if found:
        if found[2]:
            return (0 if found[2] == "前者" else count - 1), found[0]
        digit = found[1]
        return (_ZH_DIGITS[digit] if digit in _ZH_DIGITS else int(digit) - 1), found[0]
    found = _DIGIT.search(message)
    if found:
        return int(found[1]) - 1, found[0].strip()
    return None


def _words(text: str) -> frozenset[str]:
    """Content words, with Chinese character pairs added so '登不上' meets '登录不上'."""
    words = set(tokenize(text))
    for run in re.findall(r"[\u4e00-\u9fff]+", text):
        words.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(words)


def picked_option(message: str, options: Sequence[str]) -> tuple[int, str] | None:
    """The option a message picks, by position or by the one option sharing its words; None when unclear."""
    position = _ordinal(message, len(options))
    if position is not None and 0 <= position[0] < len(options):
        return position
    words = _words(message)
    overlap = [words & _words(o) for o in options]
    best = max(len(o) for o in overlap)
    winners = [i for i, o in enumerate(overlap) if len(o) == best]
    if best == 0 or len(winners) > 1:
        return None
    return winners[0], " ".join(sorted(overlap[winners[0]]))


# --- cues in the latest message ------------------------------------------------------------------------------

_ELLIPSIS_EN = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|so|but|hm+|oh)\W+)?(and|or|what about|how about|what if|and if|same for|what of|and what"
    r"|even if|what happens to)\b|\b(?:too|as well|either)\W*$",
    re.IGNORECASE,
)
_ELLIPSIS_ZH = re.compile(r"^\W*(那么|那(?![个些边里天次种样])|要是|如果)|呢(?=[\s?？!！,，。~～]|$)|也(?=[会能要可])")
_SHIFT = re.compile(
    r"^\W*(?:(?:ok(?:ay)?|thanks|thank you|thx|cool|great|nice|good|perfect|got it)\W+)*"
    r"(also|another (?:question|thing)|(?:a )?(?:different|separate|unrelated|new|other) (?:question|thing|topic)"
    r"|by the way|btw|one more (?:question|thing)"
    r"|random(?:ly)?)\b|另外|对了|再问|顺便|还有个问题|换个问题|另一个问题|其他问题",
    re.IGNORECASE,
)
_UNRESOLVED = re.compile(
    r"didn'?t help|did not help|doesn'?t help|not help(?:ful|ing)?|no help|useless|already (?:did|tried|done|checked"
    r"|told|sent|asked)|i did (?:that|all|this|it)|did all (?:of )?(?:that|this)|tried (?:that|this|everything|all)"
    r"|(?:just |already )?told you|keep (?:saying|telling|sending)|in circles|same (?:error|problem|thing|answer)"
    r"|(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) time|\d+ times|that'?s (?:what|exactly what) (?:you|i)"
    r"|not the problem|not what i|still (?:nothing|not|no|the same|declined|charged|broken|waiting)|nobody|no one"
    r"|explain that|unbelievable|\b(?:NOT|WAS|AM|IS|DID)\b|you (?:told|asked) me to|你让我|让我找"
    r"|没用|没有用|不管用|试过|都试了|说了|说过|告诉你|还是(?:不|没|收不到|付不了|报错)|又是|一直说|第[二三四五六七八九十\d]+次"
    r"|[二三四五六七八九十两\d]+[遍次]|不是这个|不是我要|我要的是|根本|不对|这么说|没人(?:理|联系|回)|明明|怎么解释|答非所问",
)
_SHOUT = re.compile(r"(?<!\[)\b[A-Z]{4,}\b(?!\])")
_ACRONYMS = frozenset({"ASAP", "HTTP", "USPS", "UPS", "DHL", "GPS", "FAQ", "IPX6", "PayPal"})
_CJK = re.compile(r"[\u4e00-\u9fff]")
_BACK_EN = re.compile(r"\b(?:it|its|itself|they|them|their|theirs|this|that|these|those|here|there|same)\b", re.I)
_BACK_ZH = re.compile(r"它|这|那(?=[个些里边儿样件款单种双条台次笔位家])")
"""Pronouns and demonstratives: a message with one may point back to the earlier turns ("how long before it shows
up?", "那个还能退吗"); one without any, and without a word of the earlier turns, does not."""


def in_language(message: str, analysis: MessageAnalysis, history: Sequence[Turn]) -> MessageAnalysis:
    """`analysis` of a message without letters ("2", "?", "👍", an order number) in the language of the last
    customer turn, so that its conversation's query is retrieved and answered in that language; any other
    analysis as it is."""
    customer = [t for t in history if t.role == "customer"]
    if not customer or any(c.isalpha() for c in normalize_query(message).replace(ORDER_PLACEHOLDER, "")):
        return analysis
    return analysis.model_copy(update={"language": customer[-1].analysis.language})


def _content_size(message: str, language: Language) -> int:
    return len(_CJK.findall(message)) if language == "zh" else len(tokenize(message))


def plan(
    message: str,
    analysis: MessageAnalysis,
    history: Sequence[Turn],
    own_questions: Sequence[re.Pattern[str]] = (),
    titles: Set[str] = frozenset(),
) -> Plan:
    """The queries worth retrieving for `message` after `history`, and the kind when the cues decide it:
    an option picked, then (unless the message says it changes topic) unresolved, then elliptical."""
    language = analysis.language
    customer = [i for i, t in enumerate(history) if t.role == "customer"]
    answered = [i for i, t in enumerate(history) if t.role == "agent"][-1:]
    topic = tuple(sorted({*customer[-TOPIC_TURNS:], *answered}))
    # The message first: an encoder that truncates a long query cuts the history, never the message.
    contextual = " ".join([message, *(history[i].text for i in topic)])
    size = _content_size(message, language)
    if history and history[-1].role == "agent":
        options = offered_options(history[-1].text, own_questions, titles)
        picked = picked_option(message, options) if options else None
        if picked is not None and (_ordinal(message, len(options)) or _answer_sized(size, language)):
            query = " ".join([*(history[i].text for i in customer[-1:]), options[picked[0]], message])
            turns = tuple(sorted({*customer[-1:], len(history) - 1}))
            return Plan(query, "clarification_answer", turns, (picked[1],), option=options[picked[0]])
    shift = tuple(m[0].strip(_TRIM) for m in _SHIFT.finditer(message))
    if not shift:
        unresolved = [m[0] for m in _UNRESOLVED.finditer(message)]
        unresolved += [w for w in _SHOUT.findall(message) if w not in _ACRONYMS]
        words = _words(message)
        if any(_same_question(words, history[i].words) for i in customer):
            unresolved.append("same question again")
        if not any(t.role == "agent" for t in history):
            unresolved = []  # nothing was answered yet
        if analysis.angry and any(history[i].analysis.sentiment == "negative" for i in customer):
            unresolved.append("anger rising")
        if unresolved:
            return Plan(contextual, "unresolved", topic, tuple(unresolved))
        ellipsis = [m[0].strip() for m in (_ELLIPSIS_ZH if language == "zh" else _ELLIPSIS_EN).finditer(message)]
        if size <= (SHORT_ZH if language == "zh" else SHORT_EN):
            ellipsis.append("short")
        if ellipsis:
            return Plan(contextual, "follow_up", topic, tuple(ellipsis))
    earlier = frozenset().union(*(history[i].topic_words for i in customer))
    same_topic = bool(_topic_words(message) & earlier)
    # A new question (no word of the earlier customer turns, nothing pointing back) is not read as a follow-up: the
    # agent's last answer, often an article's own words, would make its contextual query surer than it alone.
    new = not same_topic and not (_BACK_ZH if language == "zh" else _BACK_EN).search(message)
    return Plan(message, None, topic, shift, contextual=None if shift or new else contextual, same_topic=same_topic)


def _topic_words(text: str) -> frozenset[str]:
    """Content words and Chinese character pairs (`_words`: '打电话' meets '客服电话'), without single Chinese
    characters."""
    return frozenset(w for w in _words(text) if not (len(w) == 1 and _CJK.match(w)))


def _same_question(words: Set[str], before: Set[str]) -> bool:
    """Whether a message of `words` asks again what an earlier turn of `before` asked."""
    if words and words == before:
        return True
    return len(words) >= 2 and len(words & before) / len(words | before) >= REPEAT


def _answer_sized(size: int, language: Language) -> bool:
    return size <= (ANSWER_ZH if language == "zh" else ANSWER_EN)


def needs_contextual(plan: Plan, first: Retrieval, thresholds: Thresholds = THRESHOLDS) -> bool:
    """Whether the contextual query could change the answer: only when the message alone is in scope and answered
    fairly but not very surely (`follow_up_floor` <= probability < 1 - `follow_up_margin`). A complete message
    judged out of scope alone stays so, whatever the floor: the earlier topic would lend it its confidence."""
    probability = first.answer_probability
    return (
        plan.contextual is not None
        and first.in_scope
        and thresholds.follow_up_floor <= probability < 1 - thresholds.follow_up_margin
    )


def contextual_wins(first: Retrieval, contextual: Retrieval | Scored, thresholds: Thresholds = THRESHOLDS) -> bool:
    """Whether the contextual query is in scope and clearly surer than the message alone (`first`): only then does
    `decide` use it, so a contextual query that does not win need not be ranked into answers. Out of scope, it
    never wins, however sure of its first answer: the earlier topic would be answered instead of the message."""
    margin = thresholds.follow_up_margin
    return contextual.in_scope and contextual.answer_probability > first.answer_probability + margin


def decide(
    plan: Plan, first: Retrieval, contextual: Retrieval | None = None, thresholds: Thresholds = THRESHOLDS
) -> tuple[Retrieval, ConversationUse]:
    """The retrieval that answers the message (`first`, of `plan.query`, or `contextual`, when `needs_contextual`
    asked for it), and how the history was used. Without a kind from the cues: the contextual query when it is
    clearly surer than the message alone (a follow-up without an ellipsis cue); else the message alone, not
    answered when unsure (`new_question_floor`)."""
    if plan.kind is not None:
        return first, _use(plan.kind, plan.query, plan.turns, option=plan.option, cues=plan.cues)
    if contextual is not None and plan.contextual is not None and contextual_wins(first, contextual, thresholds):
        return contextual, _use("follow_up", plan.contextual, plan.turns, cues=["surer with the earlier turns"])
    cues = list(plan.cues)
    if first.in_scope and first.answer_probability < thresholds.new_question_floor:
        first = replace(first, in_scope=False)
        cues.append("unsure of a new question")
    return first, _use("standalone" if plan.same_topic else "topic_shift", plan.query, (), cues=cues)


def _use(
    kind: Kind, query: str, turns: Sequence[int], *, option: str | None = None, cues: Sequence[str] = ()
) -> ConversationUse:
    return ConversationUse(
        kind=kind,
        query=redact(query),
        turns=tuple(turns),
        option=redact(option) if option is not None else None,
        cues=tuple(dict.fromkeys(redact(c) for c in cues if c)),
    )


# --- drafts --------------------------------------------------------------------------------------------------

_NAME_EN = re.compile(
    r"\b(?i:this is|it'?s|it is|my name is|my name'?s|i'?m|i am)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)"
    r"|^\W*(?i:hi|hello|hey)\b\W+([A-Z][a-z]+\s+[A-Z][a-z]+)\b(?=\s*(?:(?i:here)\b|[,.!]))"
)
_NAME_ZH = re.compile(r"我(?:是|叫)([\u4e00-\u9fff]{2,3}?)(?=[\s，,。.!！、]|订单|$)")
_NOT_NAMES = frozenset({"Not", "Just", "Still", "Sorry", "Having", "Trying", "Looking", "Thinking", "Here", "So"})


def history_slots(history: Sequence[Turn]) -> dict[str, str]:
    """The customer's name and order number as the customer gave them in earlier turns (the latest wins)."""
    slots: dict[str, str] = {}
    for turn in history:
        if turn.role != "customer":
            continue
        name = _NAME_EN.search(turn.text) or _NAME_ZH.search(turn.text)
        if name:
            value = next(g for g in name.groups() if g)
            if value.split()[0] not in _NOT_NAMES:
                slots["customer_name"] = value
        orders = turn.analysis.order_ids
        if orders:
            slots["order_id"] = orders[-1]
    return slots


def already_sent(snippet: str, history: Sequence[Turn]) -> bool:
    """Whether an agent turn already said most of `snippet`."""
    said = [t.words for t in history if t.role == "agent"]
    if not said:
        return False
    words = _words(snippet)
    if not words:
        return False
    return any(len(words & earlier) / len(words) >= ALREADY_SENT for earlier in said)
