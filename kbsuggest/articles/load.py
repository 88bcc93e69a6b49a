"""Read an articles folder from disk: every problem is collected, none is skipped silently."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from kbsuggest.articles.models import Article
from kbsuggest.articles.parse import parse_article, source_hash
from kbsuggest.errors import ArticleError, ArticlesInvalid

IGNORED_NAMES = frozenset({"readme.md"})
MAX_ARTICLE_BYTES = 1_000_000
"""Larger article files are refused (`Settings.max_article_bytes`): a help article this long is a dump, not an
answer, and parsing a megabyte takes about a second."""


def article_files(articles_dir: Path) -> list[Path]:
    """Every file under `articles_dir` that is not ignored: names starting with '.' or '_' (files or
    folders) and README.md are ignored, so editors keep guides, templates and assets there.

    Symbolic links are listed when they lead to a file, or out of the folder (which `read_source` refuses);
    one to a folder inside it is not followed: that folder's files are listed where they are."""
    found = []
    for path in sorted(articles_dir.rglob("*")):
        parts = path.relative_to(articles_dir).parts
        if any(part.startswith((".", "_")) for part in parts) or path.name.lower() in IGNORED_NAMES:
            continue
        if path.is_file() or (path.is_symlink() and leads_outside(path, articles_dir) is not None):
            found.append(path)
    return found


def load_articles(
    articles_dir: Path | str,
    *,
    default_locale: str = "en",
    parsed: Mapping[str, Article] | None = None,
    max_bytes: int = MAX_ARTICLE_BYTES,
) -> list[Article]:
    """Parse every article under `articles_dir`. Raises `ArticlesInvalid` with all problems at once.

    `parsed`: articles parsed before, by `Article.source_hash`; a file whose hash is there is not parsed again.
    `max_bytes`: larger files are refused, unread."""
    root = Path(articles_dir)
    if not root.is_dir():
        raise ArticlesInvalid(
            [ArticleError(root, None, "the articles folder does not exist", "pass the folder holding the .md files")]
        )
    articles: list[Article] = []
    errors: list[ArticleError] = []
    for path in article_files(root):
        try:
            articles.append(_load_one(path, root, default_locale, parsed or {}, max_bytes))
        except ArticlesInvalid as exc:
            errors.extend(exc.errors)
        except ArticleError as exc:
            errors.append(exc)
    errors.extend(_duplicate_ids(articles))
    if not articles and not errors:
        errors.append(ArticleError(root, None, "no articles found", "add Markdown (.md) files to the folder"))
    if errors:
        raise ArticlesInvalid(errors)
    return articles


def _load_one(path: Path, root: Path, default_locale: str, parsed: Mapping[str, Article], max_bytes: int) -> Article:
    source = read_source(path, root, max_bytes)
    known = parsed.get(source_hash(source, str(path), default_id=path.stem, default_locale=default_locale))
    return known or parse_article(source, str(path), default_id=path.stem, default_locale=default_locale)


_CONTROL = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")
"""C0 controls but tab, line feed and carriage return; DEL; C1 controls (ANSI escapes start with U+001B or U+009B)."""


def read_source(path: Path, root: Path, max_bytes: int = MAX_ARTICLE_BYTES) -> str:
    """The text of the article file `path` under `root`. Raises `ArticleError` for anything `load_articles`
    refuses in it; a symbolic link out of `root` is refused unread, so no text from elsewhere is quoted."""
    outside = leads_outside(path, root)
    if outside is not None:
        raise ArticleError(path, None, outside, "copy the article into the articles folder, or delete the link")
    if path.suffix.lower() != ".md":
        raise ArticleError(
            path, None, "not a Markdown file", "rename it to .md, or move it into a folder whose name starts with '_'"
        )
    with path.open("rb") as file:
        raw = file.read(max_bytes + 1)  # no more: a huge file is refused without reading it into memory
    if len(raw) > max_bytes:
        raise ArticleError(
            path,
            None,
            f"the file has {path.stat().st_size:,} bytes, over the limit of {max_bytes:,} "
            "(setting max_article_bytes, KBSUGGEST_MAX_ARTICLE_BYTES)",
            "split it into several articles, or raise KBSUGGEST_MAX_ARTICLE_BYTES",
        )
    try:
        source = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ArticleError(path, line, "the file is not valid UTF-8", "save it as UTF-8") from None
    if not source.strip():
        raise ArticleError(path, None, "the file is empty", "write the article or delete the file")
    control = _CONTROL.search(source)
    if control is not None:
        line = source.count("\n", 0, control.start()) + 1
        raise ArticleError(
            path,
            line,
            f"a control character U+{ord(control.group()):04X} (it would reach customers' drafts and terminals)",
            "delete it; only tabs and line breaks are allowed",
        )
    return source


def leads_outside(path: Path, root: Path) -> str | None:
    """How `path` leads out of `root` (a symbolic link, itself or in its folders), or None if it does not.
    Used for every file read from an articles folder: articles and reply templates."""
    try:
        target = path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a loop, before Python 3.13
        return "a symbolic link that loops"
    if target.is_relative_to(root.resolve()):
        return None
    return f"a symbolic link to {target}, outside the articles folder"


def _duplicate_ids(articles: list[Article]) -> list[ArticleError]:
    first: dict[str, Article] = {}
    errors = []
    for article in articles:
        other = first.setdefault(article.meta.id, article)
        if other is not article:
            errors.append(
                ArticleError(
                    article.path,
                    1,
                    f"duplicate id {article.meta.id!r}, also used by {other.path}",
                    "give each article a unique 'id:'",
                )
            )
    return errors
