"""Reply phrases as validated models, loaded from YAML that editors own. Never `str.format`: placeholders
are filled by `fill`, which only knows the names in `PLACEHOLDERS` and leaves a missing one visible."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from kbsuggest.articles.load import leads_outside
from kbsuggest.errors import TemplateError

Tone = Literal["friendly", "formal", "concise"]
TONES: tuple[Tone, ...] = ("friendly", "formal", "concise")
PLACEHOLDERS = frozenset({"customer_name", "order_id", "agent_name", "store_name"})
CLARIFY_PLACEHOLDERS = frozenset({"option_a", "option_b"})
FIT_PLACEHOLDERS = frozenset({"size", "measure"})
PROMOTION_PLACEHOLDERS = frozenset({"promotion", "start", "end"})
_SLOT = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

Phrases = tuple[str, ...]


def _check_slots(phrases: Phrases, allowed: frozenset[str]) -> Phrases:
    if not phrases:
        raise ValueError("needs at least one phrase")
    for phrase in phrases:
        unknown = sorted(set(_SLOT.findall(phrase)) - allowed)
        if unknown:
            raise ValueError(f"unknown placeholder {{{unknown[0]}}} in {phrase!r}; allowed: {sorted(allowed)}")
    return phrases


class ToneSet(BaseModel):
    """The phrases of one tone. Each list holds alternatives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    greeting: Phrases
    greeting_no_name: Phrases
    acknowledge: Phrases
    clarify: Phrases
    next_step: Phrases
    handoff: Phrases
    handoff_no_order: Phrases
    closing: Phrases
    acknowledge_late: Phrases = Field(default=(), description="Replaces `acknowledge` when an order or refund is late.")
    acknowledge_damaged: Phrases = Field(default=(), description="...when an item arrived damaged or does not work.")
    acknowledge_charged_twice: Phrases = Field(default=(), description="...when the customer was charged twice.")
    acknowledge_wrong_item: Phrases = Field(default=(), description="...when an item is wrong or missing.")
    clarify_answer: Phrases = Field(
        default=(), description="After the clarifying question, before the answer to its first option: {option_a}."
    )
    fit: Phrases = Field(default=(), description="After the size-table row that fits: {size}, {measure}.")
    ended: Phrases = Field(default=(), description="A promotion asked about that ended: {promotion}, {start}, {end}.")
    ended_on: Phrases = Field(default=(), description="The same when the promotion has no start date.")
    not_started: Phrases = Field(default=(), description="A promotion asked about that has not begun: {start}.")
    ran: Phrases = Field(
        default=(), description="An ended promotion's dates, when a quoted sentence already says that it ended."
    )
    running: Phrases = Field(
        default=(), description="Before the terms of the promotion running instead: {promotion}, {end}."
    )
    running_now: Phrases = Field(
        default=(), description="The same when a quoted sentence already gives its end date: {promotion}."
    )
    order_known: Phrases = Field(
        default=(), description="After an answer that asks for the order number the message gave: {order_id}."
    )

    @field_validator(
        "greeting", "greeting_no_name", "acknowledge", "next_step", "handoff", "handoff_no_order", "closing"
    )
    @classmethod
    def _slots(cls, phrases: Phrases) -> Phrases:
        return _check_slots(phrases, PLACEHOLDERS)

    @field_validator("clarify")
    @classmethod
    def _clarify_slots(cls, phrases: Phrases) -> Phrases:
        return _check_slots(phrases, PLACEHOLDERS | CLARIFY_PLACEHOLDERS)

    @field_validator("clarify_answer")
    @classmethod
    def _clarify_answer_slots(cls, phrases: Phrases) -> Phrases:
        return _check_slots(phrases, PLACEHOLDERS | {"option_a"}) if phrases else phrases

    @field_validator(
        "acknowledge_late", "acknowledge_damaged", "acknowledge_charged_twice", "acknowledge_wrong_item", "order_known"
    )
    @classmethod
    def _acknowledge_slots(cls, phrases: Phrases) -> Phrases:
        return _check_slots(phrases, PLACEHOLDERS) if phrases else phrases

    @field_validator("fit")
    @classmethod
    def _fit_slots(cls, phrases: Phrases) -> Phrases:
        return _check_slots(phrases, FIT_PLACEHOLDERS) if phrases else phrases

    @field_validator("ended", "ended_on", "not_started", "ran", "running", "running_now")
    @classmethod
    def _promotion_slots(cls, phrases: Phrases) -> Phrases:
        return _check_slots(phrases, PROMOTION_PLACEHOLDERS) if phrases else phrases


class Templates(BaseModel):
    """All tones for one language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    language: Literal["en", "zh"]
    tones: dict[Tone, ToneSet] = Field(description="friendly, formal and concise are all required")

    @field_validator("tones")
    @classmethod
    def _all_tones(cls, tones: dict[Tone, ToneSet]) -> dict[Tone, ToneSet]:
        missing = [t for t in TONES if t not in tones]
        if missing:
            raise ValueError(f"missing tone(s) {missing}")
        return tones


def parse_templates(text: str, source: str) -> Templates:
    """Validate one template file's text; errors name the file and the key path."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise TemplateError(f"{where}: invalid YAML. Fix: correct the YAML syntax") from None
    try:
        return Templates.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {str(e['msg']).removeprefix('Value error, ')}" for e in exc.errors()
        )
        fix = "see kbsuggest/articles/defaults/ for the expected keys"
        raise TemplateError(f"{source}: {problems}. Fix: {fix}") from None


def load_templates(articles_dir: Path | None = None) -> dict[str, Templates]:
    """The packaged phrases per language, each replaced by `articles_dir/_templates/<language>.yaml` if present."""
    found: dict[str, Templates] = {}
    for language in ("en", "zh"):
        own = articles_dir / "_templates" / f"{language}.yaml" if articles_dir else None
        outside = leads_outside(own, articles_dir) if own is not None and articles_dir is not None else None
        if outside is not None:
            raise TemplateError(f"{own}: {outside}. Fix: copy the file into the articles folder, or delete the link")
        if own is not None and own.is_file():
            templates = parse_templates(own.read_text(encoding="utf-8"), str(own))
        else:
            packaged = resources.files("kbsuggest.articles") / "defaults" / f"{language}.yaml"
            templates = parse_templates(
                packaged.read_text(encoding="utf-8"), f"kbsuggest/articles/defaults/{language}.yaml"
            )
        if templates.language != language:
            raise TemplateError(f"{own}: says language {templates.language!r}. Fix: set 'language: {language}'")
        found[language] = templates
    return found


def fill(phrase: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """Replace known placeholders that have a value; return the text and the names left as visible slots."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value:
            return value
        missing.append(match.group(1))
        return match.group(0)

    return _SLOT.sub(replace, phrase), missing


_STORED = TypeAdapter(dict[str, Templates])


def save_templates(path: Path, templates: Mapping[str, Templates]) -> None:
    """Write validated templates (per language) as JSON, e.g. into an index."""
    path.write_bytes(_STORED.dump_json(dict(templates)))


def load_saved_templates(path: Path) -> dict[str, Templates]:
    """Read what `save_templates` wrote; a file that does not validate raises pydantic's ValidationError."""
    return _STORED.validate_json(path.read_bytes())
