"""The exceptions kbsuggest raises. Every one derives from `KbSuggestError`.

    KbSuggestError
    ├── ArticleError          one problem in one article file (file, line, fix)
    ├── ArticlesInvalid       all problems found in an articles folder at once
    ├── TemplateError         a reply template that does not validate
    ├── ModelError            an embedding model that is missing or fails its checksum
    ├── IndexMismatchError    an index built with another model or format version
    ├── IndexCorruptError     an index whose files are missing or fail their checksums
    ├── IndexWriteError       an index folder that cannot be written (read-only, full disk)
    ├── FeedbackError         a feedback database that cannot be opened, read or written
    ├── DatabaseError         a PostgreSQL database that cannot be reached, or lacks a knowledge base
    └── InputError            a customer message or argument that cannot be used
        └── UnknownKnowledgeBaseError  a knowledge base name that a registry does not serve

Each message says what is wrong, where, and how to fix it.
"""

from __future__ import annotations

from pathlib import Path

REBUILD_HINT = "rebuild it with `kbsuggest build ARTICLES_DIR --index {index_dir}`"


class KbSuggestError(Exception):
    """Root of every error kbsuggest raises on purpose."""


class ArticleError(KbSuggestError):
    """One problem in one article file."""

    def __init__(self, path: Path | str, line: int | None, problem: str, fix: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        self.fix = fix
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {problem}. Fix: {fix}")


class ArticlesInvalid(KbSuggestError):
    """Every problem found in an articles folder, reported together."""

    def __init__(self, errors: list[ArticleError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  {e}" for e in errors)
        super().__init__(f"{len(errors)} problem(s) in the articles; nothing was written:\n{lines}")


class TemplateError(KbSuggestError):
    """A reply template that fails validation."""


class ModelError(KbSuggestError):
    """An embedding model that cannot be used."""


class IndexMismatchError(KbSuggestError):
    """An index that was built with another model or format version."""


class IndexCorruptError(KbSuggestError):
    """An index whose files are missing, changed or unreadable."""


class IndexWriteError(KbSuggestError):
    """An index folder a build cannot write; the previous index in it is left as it was."""


class FeedbackError(KbSuggestError):
    """A feedback database (INDEX_DIR/feedback.sqlite) that cannot be opened, read or written."""


class DatabaseError(KbSuggestError):
    """A PostgreSQL database that cannot be reached or used, or that holds no version of a knowledge base."""


class InputError(KbSuggestError, ValueError):
    """A message or argument that cannot be used as given."""


class UnknownKnowledgeBaseError(InputError):
    """A knowledge base name that is not among those served (`kbsuggest.registry.Registry`)."""


def printable(text: str) -> str:
    """`text` with lone surrogates escaped, so an error message quoting it can be encoded."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
