"""Articles past their `valid_until` (never returned any more) or about to be."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from kbsuggest.lint.models import Finding, Kind
from kbsuggest.lint.text import Document


def expiry(documents: Sequence[Document], today: date, within_days: int) -> list[Finding]:
    """A warning for every article whose `valid_until` is before `today` or at most `within_days` after it."""
    findings: list[Finding] = []
    for document in documents:
        until = document.article.meta.valid_until
        if until is None or (until - today).days > within_days:
            continue
        line = document.front_matter_line("valid_until")
        days = (until - today).days
        kind: Kind
        if until < today:
            kind, message = "expired", f"expired on {until} (valid_until), so it is never shown to customers"
            fix = "delete it, or move it into a folder whose name starts with '_' to keep it"
        else:
            kind, message = "expiring", f"expires on {until} (valid_until), in {days} day{'s' * (days != 1)}"
            fix = "extend valid_until if the offer continues"
        findings.append(Finding(severity="warning", kind=kind, path=document.path, line=line, message=message, fix=fix))
    return findings
