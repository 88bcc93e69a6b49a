"""Where each paragraph of a draft comes from: a template phrase of its tone (slots filled with anything), or
sentences, their clauses, the parts of shared sentences (`pick.shared_parts`) and rendered table rows
(`pick.renderings`) of the sections it cites, each with or without its opening form of address
(`compose.unaddressed`) and its closing chatty particles (`compose.plain`), in any order; a list may open with the
heading of a cited section as its lead-in (`compose.heading_lead`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

from kbsuggest.articles.split import slugify
from kbsuggest.articles.templates import Templates, ToneSet
from kbsuggest.reply.compose import phrase_pattern, plain, unaddressed
from kbsuggest.reply.models import Draft
from kbsuggest.reply.pick import clauses, renderings, semicolon_runs, shared_parts
from kbsuggest.retrieval.snippet import sentences


def untraced(draft: Draft, templates: Templates, sections: Mapping[str, str]) -> list[str]:
    """The paragraphs of `draft` that are neither a template phrase of its tone nor made only of units of the
    sections it cites (`sections`: section id -> text). An empty list means every sentence is traceable."""
    phrases = _phrases(templates.tones[draft.tone])
    units: set[str] = set()
    for cited in draft.citations:
        cited_units = sentences(sections.get(cited, ""))
        for unit in cited_units:
            units.add(unit)
            units.update(clauses(unit))
            units.update(renderings(unit, draft.language))
        for run in semicolon_runs(cited_units):
            shared = shared_parts("".join(run))
            if shared is not None:
                units.update(u for u in (shared[0], *shared[1]) if u)
    units |= {unaddressed(u) for u in units}  # quoted without its form of address
    units |= {plain(u) for u in units}  # ...and in a formal reply without its chatty particles
    ordered = sorted(units, key=len, reverse=True)
    joiner = "" if draft.language == "zh" else " "
    anchors = {cited.partition("#")[2].split("~")[0] for cited in draft.citations}
    return [
        p
        for p in draft.text.split("\n\n")
        if not any(phrase.fullmatch(p) for phrase in phrases) and not _made_of(_unheaded(p, anchors), ordered, joiner)
    ]


def _unheaded(paragraph: str, anchors: set[str]) -> str:
    """`paragraph` without the first line when that is the heading of a cited section (its anchor in `anchors`)
    leading into a list."""
    first, newline, rest = paragraph.partition("\n")
    if newline and first[-1:] in (":", "：") and slugify(first[:-1]) in anchors:
        return rest
    return paragraph


@cache
def _phrases(tone: ToneSet) -> tuple[re.Pattern[str], ...]:
    """Every phrase of the tone as a pattern in which each {slot} matches any text."""
    return tuple(phrase_pattern(phrase) for phrases in tone.model_dump().values() for phrase in phrases)


def _made_of(paragraph: str, units: list[str], joiner: str) -> bool:
    """True when `paragraph` is a run of `units` separated by `joiner` or a line break (a unit may repeat)."""
    position = 0
    while position < len(paragraph):
        for unit in units:
            if paragraph.startswith(unit, position):
                position += len(unit)
                if paragraph.startswith("\n", position):  # a list's or steps' next line
                    position += 1
                elif joiner and paragraph.startswith(joiner, position):
                    position += len(joiner)
                break
        else:
            return False
    return True
