"""The `kbsuggest` command. A thin layer: parse arguments, call the library, print the result."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from kbsuggest.errors import ArticlesInvalid, KbSuggestError

EXIT_ERROR = 1
EXIT_INVALID_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ArticlesInvalid as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    except KbSuggestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kbsuggest", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="build or update the index from a folder of Markdown articles")
    build.add_argument("articles_dir", type=Path, metavar="ARTICLES_DIR")
    build.add_argument("--index", type=Path, required=True, metavar="INDEX_DIR")
    build.add_argument("--json", action="store_true", help="print the build summary as JSON")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(run=_build)
    return parser


def _build(args: argparse.Namespace) -> int:
    from kbsuggest.kb import KnowledgeBase

    kb = KnowledgeBase.build(args.articles_dir, args.index, progress=not args.quiet)
    summary = kb.last_build
    assert summary is not None
    if args.json:
        print(summary.model_dump_json())
    else:
        print(
            f"built {args.index}: {summary.articles} articles, {summary.sections} sections "
            f"(added {summary.added}, changed {summary.changed}, removed {summary.removed}, "
            f"reused {summary.reused}; encoded {summary.encoded}) in {summary.seconds:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
