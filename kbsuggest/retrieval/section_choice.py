"""Which section of an answered article answers the message: the sections' fused scores plus a few weighted
features that read the conditions a section states against what the customer says about their case
(`text.situation`). Each is about a kind of condition, never about an article, so it works on any store: where
the order is ("after shipping", "发货前") against the order state the message gives, a repeat ("A second
exchange", "第二次换货") against a message about one, an exception ("doesn't cover", "不参与价保") against the time
the customer has waited, the conditions a section's sentences state ("within 14 days", "超过7个工作日") that the
customer's facts decide, and the words and sizes of the message that one section states and its siblings do not.
The weights are fitted (benchmarks/fit_sections.py); `features` shows why a section won."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kbsuggest.articles.models import Section
from kbsuggest.retrieval.snippet import measures, sentences
from kbsuggest.text.situation import (
    Situation,
    condition_holds,
    condition_stages,
    durations,
    stage_verdict,
    states_condition,
)
from kbsuggest.text.tokenize import tokenize

REPEAT = re.compile(
    r"\b(?:second|again|already (?:used|exchanged|swapped)|still (?:doesn.?t|does not) fit)\b"
    r"|第二次|第2次|再次|又|换过|还是不|换了一次",
    re.IGNORECASE,
)
"""A repeat: in a heading ("A second exchange on the same order", "第二次换货") the section answers only a
message that speaks of one ("能换大一号吗" is a first exchange); in a message, the customer's case is one."""
EXCEPTION = re.compile(
    r"\b(?:doesn.?t|don.?t|can.?t|cannot|not|no longer|outside|out of|except|excluded)\b"
    r"|不参与|不在|不能|不支持|无法|缺货|没货|以外|除外",
    re.IGNORECASE,
)
"""A heading that states an exception or a limit of the article's main rule ("What the warranty doesn't cover",
"Repairs outside the warranty", "When the new size is out of stock", "不参与价保的情况")..."""
PENDING = re.compile(r"\byet\b|\bhasn.?t\b|还没|一直没|尚未|长时间不|迟迟", re.IGNORECASE)
"""...unless it is about a case still pending ("Refund not showing yet", "退款一直没到账怎么办")."""
FEATURES = (
    "opening", "repeat", "state_met", "within", "condition_met", "condition_failed", "distinct", "titled", "measures",
)  # fmt: skip
"""What a section's score adds, each times its weight in `WEIGHTS`:
opening: the article's first section, which states its main rule;
repeat: a repeat section, for a message about a repeat (for any other message it is never chosen);
state_met: the order states the heading is about hold for the customer's order (a section about states it cannot
be in is never chosen: `excluded`);
within: an exception section, for a customer whose elapsed time is within the opening's shortest period;
condition_met / condition_failed: some sentence's condition holds / fails for the customer's facts;
distinct / titled: the message's words the section states (its heading states), and no sibling does;
measures: the customer's body measurements and sizes the section states (inside its ranges too)."""


@dataclass(frozen=True)
class SectionWeights:
    """Weights of `FEATURES`, in z-units of the fused section score."""

    opening: float
    repeat: float
    state_met: float
    within: float
    condition_met: float
    condition_failed: float
    distinct: float
    titled: float
    measures: float

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in FEATURES])


WEIGHTS = SectionWeights(
    opening=0.56, repeat=0.77, state_met=1.29, within=-0.54,
    condition_met=0.66, condition_failed=1.00, distinct=0.39, titled=0.23, measures=0.5,
)  # fmt: skip
"""Fitted by benchmarks/fit_sections.py (see there and README, "Quality", for the sets and figures)."""


@dataclass(frozen=True)
class Heading:
    """The conditions one section states, read once, when the section is first answered (`Retriever.headings`)."""

    repeat: bool
    exception: bool
    stages: tuple[int, int] | None  # the order states its heading is about (`situation.STAGE_CONDITIONS`)
    periods: tuple[float, ...]  # calendar days of each duration the section states
    conditions: tuple[str, ...]  # its sentences that state a condition (`situation.decide`)
    words: frozenset[str]
    title: frozenset[str]  # the words of its own heading
    measures: frozenset[str]


def read_heading(section: Section) -> Heading:
    heading = " ".join(section.heading_path[1:])
    return Heading(
        repeat=bool(REPEAT.search(heading)),
        exception=bool(EXCEPTION.search(heading)) and not PENDING.search(heading),
        stages=condition_stages(heading),
        periods=tuple(days for days, _ in durations(section.text)),
        conditions=tuple(u for u in sentences(section.text) if states_condition(u)),
        words=frozenset(tokenize(section.text)),
        title=frozenset(tokenize(section.heading_path[-1])),
        measures=measures(section.text, ranges=True),
    )


@dataclass(frozen=True)
class Case:
    """What a message says about the customer's case, as the section rules read it."""

    situation: Situation
    repeat: bool
    stages: tuple[int, int] | None
    words: frozenset[str]
    measures: frozenset[str]


def read_case(message: str, situation: Situation, tokens: Sequence[str] | None = None) -> Case:
    """The message's order state is the one it reports ("it shipped yesterday"), else the one it asks about
    ("can I change the address after it ships?"). `situation`: `read_situation(message, today)`; `tokens`:
    `tokenize(message)`, when the caller has it."""
    return Case(
        situation=situation,
        repeat=bool(REPEAT.search(message)),
        stages=situation.stages or condition_stages(message),
        words=frozenset(tokenize(message) if tokens is None else tokens),
        measures=frozenset(f"number:{round(v)}" for v in situation.measures.values())
        | {m for m in measures(message) if m.startswith("size:")},
    )


def features(headings: Sequence[Heading], case: Case) -> np.ndarray:
    """One row of `FEATURES` per section of one article, in reading order (the first is the opening)."""
    rows = np.zeros((len(headings), len(FEATURES)))
    limit = min((days for days in headings[0].periods if days >= 1), default=None)
    for i, heading in enumerate(headings):
        others = [h for j, h in enumerate(headings) if j != i]
        siblings = frozenset().union(*(h.words for h in others))
        row = dict.fromkeys(FEATURES, 0.0)
        row["opening"] = float(i == 0)
        row["repeat"] = float(heading.repeat and case.repeat)
        row["state_met"] = float(stage_verdict(heading.stages, case.stages) is True)
        if heading.exception and limit is not None and case.situation.days is not None:
            row["within"] = float(case.situation.days <= limit)
        verdicts = {condition_holds(unit, case.situation) for unit in heading.conditions}
        row["condition_met"] = float(True in verdicts)
        row["condition_failed"] = float(False in verdicts)
        row["distinct"] = float(len(case.words & heading.words - siblings))
        row["titled"] = float(len(case.words & heading.title - frozenset().union(*(h.title for h in others))))
        row["measures"] = float(len(case.measures & heading.measures))
        rows[i] = [row[name] for name in FEATURES]
    return rows


def excluded(headings: Sequence[Heading], case: Case) -> np.ndarray:
    """The sections that cannot answer `case`: a repeat section when the message is about no repeat, a section
    about order states the customer's order cannot be in ("If the order has already shipped" for "it never
    shipped": its sentences' conditions restate the heading's, and are no evidence of fit)."""
    return np.array([(h.repeat and not case.repeat) or stage_verdict(h.stages, case.stages) is False for h in headings])


def totals(
    scores: np.ndarray, headings: Sequence[Heading], case: Case, weights: SectionWeights = WEIGHTS
) -> np.ndarray:
    """How well each of one article's sections answers `case`: its fused score plus weighted features; -inf for
    the `excluded`."""
    total: np.ndarray = scores + features(headings, case) @ weights.vector()
    return np.where(excluded(headings, case), -np.inf, total)


def ranked(total: np.ndarray) -> list[int]:
    """The positions of the sections `totals` scored, best first, without the excluded ones; an article of repeat
    sections only keeps its first."""
    return [int(i) for i in np.argsort(-total, kind="stable") if np.isfinite(total[i])] or [0]


def choose(scores: np.ndarray, headings: Sequence[Heading], case: Case, weights: SectionWeights = WEIGHTS) -> int:
    """The position of the section that answers `case` among one article's sections (the best of `totals`)."""
    return ranked(totals(scores, headings, case, weights))[0]
