"""`lint`: read an articles folder (the only I/O), run every check, and report what an editor should fix."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

from kbsuggest.articles.load import MAX_ARTICLE_BYTES, article_files, load_articles, read_source
from kbsuggest.articles.parse import parse_article
from kbsuggest.encoders.base import Encoder
from kbsuggest.errors import ArticleError, ArticlesInvalid
from kbsuggest.lint.expiry import expiry
from kbsuggest.lint.facts import conflicting_facts
from kbsuggest.lint.links import broken_links
from kbsuggest.lint.models import Finding, LintReport
from kbsuggest.lint.similarity import THRESHOLD, near_duplicates
from kbsuggest.lint.text import Document

EXPIRING_DAYS = 14


def lint(
    articles_dir: Path | str,
    *,
    today: date | None = None,
    expiring_days: int = EXPIRING_DAYS,
    encoders: Mapping[str, Encoder] | None = None,
    threshold: float = THRESHOLD,
    default_locale: str = "en",
    max_article_bytes: int = MAX_ARTICLE_BYTES,
) -> LintReport:
    """Check every article under `articles_dir`. Never raises for a problem in the articles: it is a finding.

    Errors: whatever `build` refuses (file:line, all at once), broken links and anchors, conflicting facts.
    Warnings: expired and soon-expiring articles, and, when `encoders` are given, near-duplicate sections."""
    documents, problems = read_documents(articles_dir, default_locale=default_locale, max_bytes=max_article_bytes)
    findings = [
        *(_from_problem(problem) for problem in problems),
        *broken_links(documents, unreadable={problem.path for problem in problems}),
        *conflicting_facts(documents),
        *expiry(documents, today or date.today(), expiring_days),
    ]
    if encoders is not None:
        findings.extend(near_duplicates(documents, encoders, threshold))
    return _report(findings)


def read_documents(
    articles_dir: Path | str, *, default_locale: str = "en", max_bytes: int = MAX_ARTICLE_BYTES
) -> tuple[list[Document], list[ArticleError]]:
    """Every article that parses, with its source, and every problem `load_articles` (so `build`) reports.

    Problems come from `load_articles` itself, so lint and build never disagree; the articles are parsed
    again one by one, so that one bad file does not hide the others' problems."""
    root = Path(articles_dir)
    try:
        load_articles(root, default_locale=default_locale, max_bytes=max_bytes)
        problems: list[ArticleError] = []
    except ArticlesInvalid as exc:
        problems = exc.errors
    documents = []
    for path in article_files(root) if root.is_dir() else []:
        try:
            source = read_source(path, root, max_bytes)
            article = parse_article(source, str(path), default_id=path.stem, default_locale=default_locale)
        except (ArticleError, ArticlesInvalid):
            continue  # reported in `problems`
        documents.append(Document(article, source))
    return documents, problems


def _report(findings: Iterable[Finding]) -> LintReport:
    ordered = sorted(findings, key=lambda f: (f.path, f.line or 0, f.kind))
    return LintReport(
        errors=tuple(f for f in ordered if f.severity == "error"),
        warnings=tuple(f for f in ordered if f.severity == "warning"),
    )


def _from_problem(problem: ArticleError) -> Finding:
    duplicate = problem.problem.startswith("duplicate id")  # load_articles' wording for a reused 'id:'

    return Finding(
        severity="error",
        kind="duplicate-id" if duplicate else "invalid-article",
        path=problem.path,
        line=problem.line,
        message=problem.problem,
        fix=problem.fix,
    )
