"""What lint reports: findings, each at a file and line, split into errors and warnings."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["error", "warning"]
Kind = Literal[
    "invalid-article",
    "duplicate-id",
    "broken-link",
    "broken-anchor",
    "conflicting-fact",
    "expired",
    "expiring",
    "near-duplicate",
]


class Location(BaseModel):
    """A place in the knowledge base: a file and, where known, a 1-based line."""

    model_config = ConfigDict(frozen=True)

    path: str
    line: int | None


class Finding(BaseModel):
    """One problem an editor should look at."""

    model_config = ConfigDict(frozen=True)

    severity: Severity
    kind: Kind
    path: str
    line: int | None = Field(description="1-based line in `path`; None when the problem is the whole file.")
    message: str
    fix: str = Field(default="", description="How to fix it, when the message does not say.")
    related: tuple[Location, ...] = Field(
        default=(), description="The other side: the fact this one contradicts, the section this one duplicates."
    )

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{where}: {self.severity}: {self.kind}: {self.message}.{fix}"


class LintReport(BaseModel):
    """Every finding, errors and warnings apart, each sorted by file and line."""

    model_config = ConfigDict(frozen=True)

    errors: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
