"""Lint: what an editor should fix in the articles before customers see it (`kbsuggest lint`)."""

from kbsuggest.lint.models import Finding, LintReport, Location
from kbsuggest.lint.run import lint

__all__ = ["Finding", "LintReport", "Location", "lint"]
