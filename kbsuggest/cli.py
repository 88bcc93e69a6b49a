"""The `kbsuggest` command. A thin layer: parse arguments, call the library, print the result."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import textwrap
import traceback
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from kbsuggest._version import __version__
from kbsuggest.errors import ArticlesInvalid, InputError, KbSuggestError
from kbsuggest.privacy import redact

if TYPE_CHECKING:
    from kbsuggest.database import Database
    from kbsuggest.registry import Registry

EXIT_FINDINGS = 1
"""`lint` found errors (or more warnings than `--max-warnings` allows); `eval` scored under a `--min-*`."""
EXIT_ERROR = 2
"""The command could not do its work: a usage mistake, input it cannot use (an invalid article, an empty
message, a missing or damaged index), a model that cannot load, or a bug (its traceback is printed)."""
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""C0 and C1 controls but tab and newline (ESC starts ANSI sequences: colours, clearing the screen, the window
title; CR overwrites a line), and lone surrogates (a file name's undecodable bytes), which print cannot encode."""
_EXIT_STATUS = """exit status:
  0  success (lint: no errors, and no more warnings than --max-warnings allows)
  1  findings or a failed threshold: lint errors (or warnings over --max-warnings / --strict), eval under --min-*
  2  the command could not run: usage or input errors (invalid articles, an empty message, a missing or
     damaged index), a model that cannot load, or a bug
with --json, stdout holds one JSON document: the result, or {"error": {"type": ..., "message": ...}}"""


class UsageError(Exception):
    """A command line argparse cannot use; raised instead of argparse's own exit, so it can be JSON."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class _Parser(argparse.ArgumentParser):
    """Descriptions wrapped, epilogs (examples, exit statuses) kept as written; errors raised as `UsageError`."""

    def __init__(self, *, description: str | None = None, **kwargs: Any) -> None:
        description = textwrap.fill(description, 100) if description else None
        super().__init__(description=description, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(self, message)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    try:
        args = _parser().parse_args(argv)
        return int(args.run(args))
    except UsageError as exc:
        if not as_json:
            exc.parser.print_usage(sys.stderr)
        return _fail("UsageError", redact(f"{exc.parser.prog}: {exc}"), as_json)  # argparse quotes arguments
    except KbSuggestError as exc:
        problems: list[dict[str, object]] | None = None
        if isinstance(exc, ArticlesInvalid):
            problems = [
                {"path": e.path, "line": e.line, "problem": redact(e.problem), "fix": redact(e.fix)} for e in exc.errors
            ]
        return _fail(type(exc).__name__, redact(str(exc)), as_json, problems)
    except Exception as exc:  # a bug: its traceback for the report, and the status of a command that could not run
        traceback.print_exc()
        return _fail("InternalError", f"{type(exc).__name__}: {exc}", as_json)


def _fail(kind: str, message: str, as_json: bool, problems: list[dict[str, object]] | None = None) -> int:
    """Report an error the command stopped on: text on stderr, or with `--json` a JSON document on stdout."""
    if as_json:
        body: dict[str, object] = {"type": kind, "message": message}
        if problems is not None:
            body["problems"] = problems
        print(json.dumps({"error": body}, ensure_ascii=False))
    else:
        _show(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _show(text: object, file: TextIO | None = None) -> None:
    """`print` for people: characters in article, message or file-name text that a terminal would obey, or
    could not print, are shown escaped (`\\x1b`, `\\udcff`). JSON output (`--json`) is for programs: printed as is."""
    print(_UNPRINTABLE.sub(_escape, str(text)), file=file)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _message(value: str) -> str:
    """A MESSAGE argument: `-` reads it from standard input (UTF-8)."""
    if value != "-":
        return value
    if sys.stdin is None:
        raise InputError("MESSAGE is '-' but there is no standard input. Fix: pipe the message in, or pass it")
    try:
        return sys.stdin.buffer.read().decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise InputError(
            f"standard input is not UTF-8 text (byte {exc.start} cannot be decoded). Fix: convert it to UTF-8"
        ) from None


def _context_item(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{item!r} is not KEY=VALUE (e.g. customer_name=Ann)")
    return key.strip(), value.strip()


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD") from None


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kbsuggest",
        description="Ranked answers and reply drafts for customer messages, from a folder of Markdown articles.",
        epilog=_examples(
            "kbsuggest build articles --index .kbsuggest-index",
            'kbsuggest suggest "where is my parcel?" --index .kbsuggest-index',
            "kbsuggest COMMAND --help",
        )
        + "\n\n"
        + _EXIT_STATUS,
    )
    parser.add_argument("--version", action="version", version=f"kbsuggest {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND", parser_class=_Parser)
    index_help = "the index folder `kbsuggest build` wrote"
    message_help = (
        "the customer's message; '-' reads it from standard input (a message starting with '-': put -- before it)"
    )

    build = commands.add_parser(
        "build",
        help="build or update the index from a folder of Markdown articles",
        description="Validate every article, then build the index (or update it: only changed sections are encoded). "
        "Needs the build extra: pip install 'kbsuggest[build]'.",
        epilog=_examples(
            "kbsuggest build articles --index .kbsuggest-index",
            "kbsuggest build articles --index .kbsuggest-index --quiet --json   # in CI",
            "kbsuggest build articles --database postgresql://kb@db/kb --kb shop-en   # publish a new version",
        ),
    )
    build.add_argument("articles_dir", type=Path, metavar="ARTICLES_DIR", help="the folder of Markdown articles")
    build.add_argument(
        "--index",
        type=Path,
        metavar="INDEX_DIR",
        help="where to write the index (required without --database; with it, the build folder kept for the next "
        "build's reuse, default a temporary one)",
    )
    _database(build, "publish the index as a new version of knowledge base NAME in this PostgreSQL database, in "
              "one transaction that switches every replica to it")  # fmt: skip
    build.add_argument("--kb", metavar="NAME", help="the knowledge base's name in the database (with --database)")
    build.add_argument("--json", action="store_true", help="print the build summary as JSON")
    build.add_argument(
        "--quiet", action="store_true", help="no progress bar (there is none either when stderr is not a terminal)"
    )
    build.set_defaults(run=_build)

    search = commands.add_parser(
        "search",
        help="the article sections that best answer a customer message",
        description="The sections that best answer MESSAGE, best first, at most one per article.",
        epilog=_examples(
            'kbsuggest search "does the M fit someone 175cm?" --index .kbsuggest-index',
            'echo "我的退款怎么还没到账？" | kbsuggest search - --index .kbsuggest-index --k 3 --json',
        ),
    )
    search.add_argument("message", metavar="MESSAGE", help=message_help)
    search.add_argument("--index", type=Path, required=True, metavar="INDEX_DIR", help=index_help)
    search.add_argument("--k", type=int, default=5, metavar="N", help="how many answers (default 5)")
    search.add_argument("--json", action="store_true", help="print the answers as JSON")
    search.set_defaults(run=_search)

    suggest = commands.add_parser(
        "suggest",
        help="answers, a reply draft and whether to hand over to a person",
        description="Analyse MESSAGE, find the answers, draft a reply and say whether a person should take it.",
        epilog=_examples(
            'kbsuggest suggest "where is my order?" --index .kbsuggest-index --context customer_name=Dana',
            'kbsuggest suggest "包裹显示签收了但我没收到" --index .kbsuggest-index --tone formal --json',
            "kbsuggest suggest - --index .kbsuggest-index < message.txt",
        ),
    )
    suggest.add_argument("message", metavar="MESSAGE", help=message_help)
    suggest.add_argument("--index", type=Path, required=True, metavar="INDEX_DIR", help=index_help)
    suggest.add_argument("--k", type=int, default=3, metavar="N", help="how many answers (default 3)")
    suggest.add_argument(
        "--context",
        action="append",
        default=[],
        type=_context_item,
        metavar="KEY=VALUE",
        help="fills the draft's placeholders: customer_name, order_id, agent_name, store_name (repeatable)",
    )
    suggest.add_argument(
        "--tone",
        choices=("friendly", "formal", "concise"),
        default="friendly",
        help="the draft's tone (default friendly)",
    )
    suggest.add_argument("--json", action="store_true", help="print the suggestion as JSON")
    suggest.set_defaults(run=_suggest)

    evaluate = commands.add_parser(
        "eval",
        help="answer quality on labelled messages (exit 1 when under a --min threshold)",
        description='QUERIES.jsonl holds {"query": ..., "expected": [article ids or article#anchor]} per line; '
        '"expected": [] marks a message that should be escalated. Lines with "must" / "must_not" (facts a reply '
        "draft must and must not state) also score the drafts: must-recall and the share stating a must_not fact. "
        'Conversation lines add "history", "kind" and "escalate", and are reported per kind.',
        epilog=_examples(
            "kbsuggest eval eval/queries.jsonl --index .kbsuggest-index",
            "kbsuggest eval eval/queries.jsonl --index .kbsuggest-index --min-accuracy 0.8 --min-recall 0.9",
            "kbsuggest eval benchmarks/data/drafts_en.jsonl --index .kbsuggest-index --today 2026-12-01 "
            "--min-must-recall 0.6",
        ),
    )
    evaluate.add_argument("queries", type=Path, metavar="QUERIES.jsonl", help="the labelled messages")
    evaluate.add_argument("--index", type=Path, required=True, metavar="INDEX_DIR", help=index_help)
    evaluate.add_argument("--k", type=int, default=3, metavar="N", help="recall@k (default 3)")
    evaluate.add_argument("--json", action="store_true", help="print the metrics and failures as JSON")
    evaluate.add_argument("--failures", type=int, default=20, metavar="N", help="failing messages to list (default 20)")
    for metric, what in (
        ("accuracy", "accuracy@1"),
        ("section-accuracy", "section accuracy@1 (lines naming article#anchor)"),
        ("recall", "recall@k"),
        ("mrr", "mean reciprocal rank"),
        ("escalation-recall", "the share of out-of-scope messages escalated"),
        ("must-recall", "the share of must facts the drafts state"),
    ):
        evaluate.add_argument(
            f"--min-{metric}", type=float, default=None, metavar="X", help=f"exit 1 when {what} is under X (0-1)"
        )
    evaluate.add_argument(
        "--max-must-not",
        type=float,
        default=None,
        metavar="X",
        help="exit 1 when the share of drafts stating a must_not fact is over X (0-1)",
    )
    evaluate.add_argument(
        "--today", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD", help="the date validity is checked on"
    )
    evaluate.set_defaults(run=_eval)

    report = commands.add_parser(
        "report",
        help="what agents' feedback says: acceptance, knowledge gaps, unused articles",
        description="Acceptance per article, clusters of unanswered or rejected messages, articles never used.",
        epilog=_examples(
            "kbsuggest report --index .kbsuggest-index", "kbsuggest report --index .kbsuggest-index --json"
        ),
    )
    report.add_argument("--index", type=Path, required=True, metavar="INDEX_DIR", help=index_help)
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.set_defaults(run=_report)

    mcp = commands.add_parser(
        "mcp",
        help="serve the agent tools over MCP (stdio, or Streamable HTTP), for Claude Desktop, IDEs, agents",
        description="Serve search_knowledge_base and suggest_reply (and, with --feedback, record_feedback) over MCP "
        "on stdin/stdout, or over Streamable HTTP at http://HOST:PORT/mcp with --http.",
        epilog=_examples(
            "kbsuggest mcp --index /absolute/path/to/.kbsuggest-index",
            "KBSUGGEST_API_KEY=$(openssl rand -hex 32) kbsuggest mcp --index .kbsuggest-index --http --port 8001",
            "kbsuggest mcp --database postgresql://kb@db/kb --http   # every knowledge base in the database",
        ),
    )
    mcp.add_argument("--index", type=Path, metavar="INDEX_DIR", help=index_help)
    _many(mcp)
    _database(mcp, "serve the knowledge bases published in this PostgreSQL database (those of --kb NAME, if given)")
    _read_database(mcp)
    mcp.add_argument("--http", action="store_true", help="serve Streamable HTTP at http://HOST:PORT/mcp, not stdio")
    _listening(mcp, "with --http: ")
    mcp.add_argument(
        "--feedback", action="store_true", help="also serve record_feedback (for clients relaying an agent's verdict)"
    )
    mcp.add_argument("--full-results", action="store_true", help="results with section texts (default: compact)")
    mcp.set_defaults(run=_mcp)

    serve = commands.add_parser(
        "serve",
        help="serve search, suggest, feedback, reload and metrics over HTTP (FastAPI)",
        description="Serve the knowledge base over HTTP: /v1/search, /v1/suggest, /v1/feedback, /v1/reload, /healthz, "
        "/metrics; OpenAPI at /openapi.json. With --kb or --kbs, many knowledge bases at /v1/kbs/NAME/search "
        "(suggest, feedback, reload), loaded on first use, least recently used unloaded past "
        "$KBSUGGEST_MEMORY_BUDGET_MB (default 1024). With --database, every knowledge base published in it "
        "(or those of --kb NAME, repeated), looked up when first asked for; a single --kb NAME is served at the "
        "single-index routes instead.",
        epilog=_examples(
            "kbsuggest serve --index .kbsuggest-index",
            "KBSUGGEST_API_KEY=$(openssl rand -hex 32) kbsuggest serve --index .kbsuggest-index --host 0.0.0.0",
            "kbsuggest serve --kbs /srv/indexes --kb-keys /etc/kbsuggest/keys.json",
            "kbsuggest serve --kb acme=/srv/acme-index --kb globex=/srv/globex-index",
            "KBSUGGEST_DATABASE_URL=postgresql://kb@db/kb kbsuggest serve --host 0.0.0.0   # a replica of them all",
            "KBSUGGEST_DATABASE_URL=postgresql://kb@db/kb kbsuggest serve --kb shop-en   # /v1/search: shop-en",
        ),
    )
    serve.add_argument("--index", type=Path, metavar="INDEX_DIR", help=index_help)
    _many(serve)
    serve.add_argument(
        "--kb-keys",
        type=Path,
        metavar="KEYS.json",
        help='keys of single knowledge bases, a JSON object {"NAME": "KEY", ...}: each opens its /v1/kbs/NAME/ '
        "routes only (default: $KBSUGGEST_KB_KEYS_FILE)",
    )
    _database(serve, "serve the knowledge bases published in this PostgreSQL database, following their versions")
    _read_database(serve)
    _listening(serve, "")
    serve.set_defaults(run=_serve)

    lint = commands.add_parser(
        "lint",
        help="check articles for what an editor should fix: invalid files, broken links, conflicting facts...",
        description="Errors: what `build` refuses, duplicate ids, broken links and anchors, conflicting facts. "
        "Warnings: expired or soon-expiring articles, near-duplicate sections. Errors fail (exit 1); warnings "
        "only with --max-warnings or --strict.",
        epilog=_examples(
            "kbsuggest lint articles",
            "kbsuggest lint articles --strict          # warnings fail too",
            "kbsuggest lint articles --index .kbsuggest-index   # encodes with the index's ONNX export",
            "kbsuggest lint articles --today 2026-11-25 --no-similarity --json",
        ),
    )
    lint.add_argument("articles_dir", type=Path, metavar="ARTICLES_DIR", help="the folder of Markdown articles")
    lint.add_argument("--json", action="store_true", help='print {"errors": [...], "warnings": [...]} as JSON')
    lint.add_argument(
        "--expiring-days", type=int, default=14, metavar="N", help="warn about articles expiring within N days (14)"
    )
    lint.add_argument(
        "--today", type=_day, metavar="YYYY-MM-DD", help="check validity dates against this day (default today)"
    )
    lint.add_argument("--no-similarity", action="store_true", help="skip the near-duplicate check (loads no model)")
    lint.add_argument(
        "--index",
        type=Path,
        metavar="INDEX_DIR",
        help="compare sections with this index's encoders: its ONNX export, so no sentence-transformers (no build "
        "extra needed, and faster)",
    )
    fail_on = lint.add_mutually_exclusive_group()
    fail_on.add_argument(
        "--max-warnings", type=int, default=None, metavar="N", help="also exit 1 when there are more than N warnings"
    )
    fail_on.add_argument(
        "--strict", action="store_const", const=0, dest="max_warnings", help="also exit 1 on any warning"
    )
    lint.set_defaults(run=_lint)
    return parser


def _build(args: argparse.Namespace) -> int:
    from kbsuggest.kb import KnowledgeBase

    progress = not args.quiet and sys.stderr.isatty()
    database = _build_database(args)
    if database is not None:
        kb = KnowledgeBase.publish(args.articles_dir, database, args.kb, index_dir=args.index, progress=progress)
        where = f"version {kb.version} of {args.kb}"
    else:
        kb = KnowledgeBase.build(args.articles_dir, args.index, progress=progress)
        where = str(args.index)
    summary = kb.last_build
    assert summary is not None
    if args.json:
        print(
            summary.model_dump_json()
            if database is None
            else json.dumps({**summary.model_dump(), "version": kb.version})
        )
    else:
        _show(
            f"built {where}: {summary.articles} articles, {summary.sections} sections "
            f"(added {summary.added}, changed {summary.changed}, removed {summary.removed}, "
            f"reused {summary.reused}; encoded {summary.encoded}) in {summary.seconds:.2f} s"
        )
    return 0


def _search(args: argparse.Namespace) -> int:
    from kbsuggest.kb import KnowledgeBase

    message = _message(args.message)
    answers = KnowledgeBase.load(args.index).search(message, k=args.k)
    if args.json:
        print(json.dumps([a.model_dump(mode="json") for a in answers], ensure_ascii=False, indent=1))
        return 0
    for rank, a in enumerate(answers, start=1):
        _show(f"{rank}. {a.score:7.3f}  {a.section_id}  ({a.matched_by}; {a.path}:{a.line_start})")
        _show(f"   {' > '.join(a.heading_path)}")
        _show(f"   {a.snippet}")
    return 0


def _suggest(args: argparse.Namespace) -> int:
    from kbsuggest.kb import KnowledgeBase

    message = _message(args.message)
    s = KnowledgeBase.load(args.index).suggest(message, context=dict(args.context), k=args.k, tone=args.tone)
    if args.json:
        print(s.model_dump_json(indent=1))
        return 0
    a = s.analysis
    handoff = f"  -> hand to a person ({s.escalate_reason})" if s.escalate else ""
    _show(
        f"{a.language} · {a.sentiment} · urgency {a.urgency} · stage {s.stage or '-'} · "
        f"confidence {s.confidence:.2f}{handoff}"
    )
    for answer in s.answers:
        _show(f"  {answer.score:7.3f}  {answer.section_id}  ({answer.matched_by})")
    if s.clarifying_question:
        _show(f"clarifying question: {s.clarifying_question}")
    for draft in s.drafts:
        _show(f"\n--- draft ({draft.tone}; cites {', '.join(draft.citations) or 'nothing'})\n{draft.text}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from kbsuggest.evaluation import DEPTH, read_drafts, read_queries, score, score_drafts
    from kbsuggest.kb import KnowledgeBase
    from kbsuggest.retrieval.models import Filters

    queries = read_queries(args.queries)
    kb = KnowledgeBase.load(args.index)
    histories = [q.history for q in queries] if any(q.history for q in queries) else None
    suggestions = kb.suggest_many(
        [q.query for q in queries], k=DEPTH, filters=Filters(today=args.today), histories=histories
    )
    report = score(queries, suggestions, args.k)
    labels = read_drafts(args.queries)
    drafts = None
    if any(label.must or label.must_not for label in labels):
        drafts = score_drafts(labels, [s.drafts[0].text for s in suggestions])
    failures = [r for r in report.results if r.rank != 1 if r.expected or not r.escalated_no_answer]
    limits = {
        "accuracy@1": (args.min_accuracy, report.accuracy_at_1),
        "section_accuracy@1": (args.min_section_accuracy, report.section_accuracy_at_1),
        "recall@k": (args.min_recall, report.recall_at_k),
        "mrr": (args.min_mrr, report.mrr),
        "escalation_recall": (args.min_escalation_recall, report.escalation_recall),
    }
    below = [
        f"{name} {value:.3f} < {floor}" if value is not None else f"{name} not measured (no line names article#anchor)"
        for name, (floor, value) in limits.items()
        if floor and (value is None or value < floor)
    ]
    if drafts is not None:
        if args.min_must_recall is not None and drafts.must_recall < args.min_must_recall:
            below.append(f"must_recall {drafts.must_recall:.3f} < {args.min_must_recall}")
        if args.max_must_not is not None and drafts.must_not_rate > args.max_must_not:
            below.append(f"must_not_rate {drafts.must_not_rate:.3f} > {args.max_must_not}")
    if args.json:
        body = report.model_dump(mode="json", by_alias=True, exclude={"results"})
        body["failures"] = [r.model_dump(mode="json") for r in failures]
        if drafts is not None:
            body["drafts"] = drafts.model_dump(mode="json", exclude={"results"})
            body["draft_failures"] = [r.model_dump(mode="json") for r in drafts.results if r.missing or r.violated]
        body["below_threshold"] = below
        print(json.dumps(body, ensure_ascii=False, indent=1))
    else:
        _show(
            f"{report.queries} messages ({report.in_scope} answerable): accuracy@1 {report.accuracy_at_1:.3f}, "
            f"recall@{report.k} {report.recall_at_k:.3f}, MRR {report.mrr:.3f}, nDCG@10 {report.ndcg_at_10:.3f}, "
            f"escalation precision {report.escalation_precision:.3f} recall {report.escalation_recall:.3f}"
        )
        if report.section_accuracy_at_1 is not None:
            _show(f"  section accuracy@1 {report.section_accuracy_at_1:.3f} (lines naming article#anchor)")
        for kind, figures in report.per_kind.items():
            _show(
                f"  {kind}: {figures.lines} lines, accuracy@1 {figures.accuracy_at_1:.3f}, "
                f"escalated {figures.escalated:.3f}"
            )
        for r in failures[: args.failures]:
            got = ", ".join(r.got[:3]) or "nothing"
            want = ", ".join(r.expected) or "escalation"
            _show(f"  miss: {r.query!r}: expected {want}; got {got}")
        if drafts is not None:
            _show(
                f"drafts: must-recall {drafts.must_recall:.3f}, "
                f"stating a must_not fact {drafts.must_not_rate:.1%} of {drafts.drafts}"
            )
            for d in [d for d in drafts.results if d.missing or d.violated][: args.failures]:
                _show(f"  draft: {d.query!r}: missing {list(d.missing)}; states {list(d.violated)}")
        for line in below:
            _show(f"below threshold: {line}", file=sys.stderr)
    return EXIT_FINDINGS if below else 0


def _report(args: argparse.Namespace) -> int:
    from kbsuggest.kb import KnowledgeBase

    report = KnowledgeBase.load(args.index).report()
    if args.json:
        body = report.model_dump(mode="json")
        for usage, row in zip(report.articles, body["articles"], strict=True):
            row["acceptance_rate"] = usage.acceptance_rate
        print(json.dumps(body, ensure_ascii=False, indent=1))
        return 0
    _show(f"{report.suggestions} suggestions, {report.feedback} feedback records")
    _show("\nacceptance per article (accepted / edited / rejected; times suggested first):")
    for a in sorted(report.articles, key=lambda a: -a.suggested):
        rate = "-" if a.acceptance_rate is None else f"{a.acceptance_rate:.0%}"
        _show(f"  {a.article_id}: {rate} ({a.accepted}/{a.edited}/{a.rejected}; {a.suggested})")
    _show("\nknowledge gaps (unanswered or rejected, clustered):")
    for gap in report.gaps:
        _show(f"  {gap.count} x {' | '.join(gap.examples)}")
    _show(f"\nnever used: {', '.join(report.never_used) or 'none'}")
    return 0


def _mcp(args: argparse.Namespace) -> int:
    from kbsuggest.surfaces.mcp_server import serve_http, serve_stdio

    options = {"feedback": args.feedback, "compact": not args.full_results}
    registry = _registry(args, _published(args))
    if registry is not None and args.index is not None:
        raise InputError("--index with --kb or --kbs. Fix: serve one index, or name it too with --kb NAME=INDEX_DIR")
    source = registry if registry is not None else args.index
    if not args.http:
        serve_stdio(source, **options)
        return 0
    api_key = _api_key(args)
    serve_http(source, host=args.host, port=args.port, api_key=api_key, **options)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from kbsuggest.surfaces.http import serve

    api_key = _api_key(args)
    kb_keys = _kb_keys(args.kb_keys or os.environ.get("KBSUGGEST_KB_KEYS_FILE"))
    published = _published(args)
    if published is not None and len(published) == 1:
        from kbsuggest.replica import Replica

        index = Replica(_database_at(args.database, args.read_database), published[0])
        serve(index, kb_keys=kb_keys, host=args.host, port=args.port, api_key=api_key)
        return 0
    registry = _registry(args, published)
    serve(args.index, registry=registry, kb_keys=kb_keys, host=args.host, port=args.port, api_key=api_key)
    return 0


def _many(command: argparse.ArgumentParser) -> None:
    """--kb and --kbs, for the commands that serve many knowledge bases."""
    command.add_argument(
        "--kb",
        action="append",
        default=[],
        metavar="NAME=INDEX_DIR",
        help="serve the index in INDEX_DIR as knowledge base NAME (repeat for more); with --database, NAME: serve "
        "that knowledge base of the database (repeat for more)",
    )
    command.add_argument(
        "--kbs", type=Path, metavar="FOLDER", help="serve every index folder in FOLDER, named by its folder name"
    )


def _published(args: argparse.Namespace) -> list[str] | None:
    """With --database (and no --index): the names of --kb, all of them ([] for every knowledge base published);
    else None. `InputError` for --kbs or a --kb NAME=INDEX_DIR with --database."""
    if args.database is None or args.index is not None:
        return None
    if args.kbs is not None or any("=" in item for item in args.kb):
        raise InputError(
            "--database serves the knowledge bases published in it. Fix: name them with --kb NAME (no =INDEX_DIR, "
            "no --kbs), or leave --kb out to serve them all"
        )
    names: list[str] = args.kb
    return names


def _registry(args: argparse.Namespace, published: list[str] | None) -> Registry | None:
    """The knowledge bases of --database (those `published` names, or all), else of --kb and --kbs (None when
    neither is given); one of them or --index is needed."""
    from kbsuggest.registry import Registry, index_folders

    if published is not None:
        return Registry.from_database(_database_at(args.database, args.read_database), published or None)
    if args.index is None and not args.kb and args.kbs is None:
        raise InputError(
            "nothing to serve. Fix: pass --index INDEX_DIR, --kb NAME=INDEX_DIR, --kbs FOLDER or --database URL"
        )
    if not args.kb and args.kbs is None:
        return None
    named = index_folders(args.kbs) if args.kbs is not None else {}
    for item in args.kb:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise InputError(f"--kb {item!r} is not NAME=INDEX_DIR. Fix: e.g. --kb acme=/srv/acme-index")
        named[name] = Path(folder)
    return Registry(named)


def _kb_keys(path: str | Path | None) -> dict[str, str] | None:
    """The knowledge bases' own keys from a JSON file {"NAME": "KEY", ...}; None without a file."""
    if path is None:
        return None
    try:
        keys = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the keys file {path} ({exc}). Fix: write a JSON object {{NAME: KEY}}") from None
    if not isinstance(keys, dict) or not all(isinstance(k, str) for k in keys.values()):
        raise InputError(f'{path} is not a JSON object of knowledge base names to keys. Fix: {{"acme": "KEY"}}')
    return keys


def _database(command: argparse.ArgumentParser, what: str) -> None:
    """--database (the knowledge base's name is --kb)."""
    command.add_argument(
        "--database",
        default=os.environ.get("KBSUGGEST_DATABASE_URL"),
        metavar="URL",
        help=f"{what} (default: $KBSUGGEST_DATABASE_URL; needs the postgres extra)",
    )


def _read_database(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--read-database",
        default=os.environ.get("KBSUGGEST_READ_DATABASE_URL"),
        metavar="URL",
        help="a read replica of --database to load versions from (default: $KBSUGGEST_READ_DATABASE_URL, else "
        "--database itself); writes and LISTEN go to --database",
    )


def _build_database(args: argparse.Namespace) -> Database | None:
    """The database `build` publishes to (None without --database); `InputError` for a missing --kb or
    --index, or a missing postgres extra."""
    if args.database is None:
        if args.kb:
            raise InputError("--kb names a knowledge base in a database. Fix: pass --database URL too")
        if args.index is None:
            raise InputError("--index INDEX_DIR is required. Fix: pass the index folder, or --database URL --kb NAME")
        return None
    if not args.kb:
        raise InputError("--kb NAME is required with --database. Fix: name the knowledge base, e.g. --kb shop-en")
    return _database_at(args.database, None)


def _database_at(url: str, read_url: str | None) -> Database:
    """The database at `url` (reading versions from `read_url` when given); `InputError` without the extra."""
    try:
        from kbsuggest.database import Database
    except ModuleNotFoundError as exc:
        raise InputError(
            f"--database needs {exc.name}, which is not installed. Fix: pip install 'kbsuggest[postgres]'"
        ) from None
    return Database(url, read_url=read_url)


def _listening(command: argparse.ArgumentParser, condition: str) -> None:
    """--host, --port and --api-key, for the commands that serve over the network."""
    command.add_argument(
        "--host", default="127.0.0.1", help=f"{condition}address to bind (default 127.0.0.1, this machine only)"
    )
    command.add_argument("--port", type=int, default=8000, help=f"{condition}port (default 8000)")
    command.add_argument(
        "--api-key",
        default=None,
        help=f"{condition}require this X-API-Key header (default: $KBSUGGEST_API_KEY; not on /healthz and the docs)",
    )


def _api_key(args: argparse.Namespace) -> str | None:
    """The key from --api-key or $KBSUGGEST_API_KEY (None: serve without one); a blank one is an `InputError`."""
    source = "--api-key" if args.api_key is not None else "KBSUGGEST_API_KEY"
    api_key: str | None = args.api_key if args.api_key is not None else os.environ.get("KBSUGGEST_API_KEY")
    if api_key is not None and not api_key.strip():
        raise InputError(
            f"{source} is empty, which would turn authentication off. "
            "Fix: set it to a long random key, or leave it out to serve without a key"
        )
    return api_key


def _lint(args: argparse.Namespace) -> int:
    from kbsuggest.config import Settings
    from kbsuggest.lint import lint

    settings = Settings.from_env()
    encoders = None
    if args.index is not None and not args.no_similarity:
        from kbsuggest.kb import KnowledgeBase

        encoders = KnowledgeBase.load(args.index, settings=settings, feedback=False).encoders
    elif not args.no_similarity:
        encoders = settings.encoders()
    report = lint(
        args.articles_dir,
        today=args.today,
        expiring_days=args.expiring_days,
        encoders=encoders,
        max_article_bytes=settings.max_article_bytes,
    )
    if args.json:
        print(report.model_dump_json(indent=1))
    else:
        for finding in (*report.errors, *report.warnings):
            _show(finding)
        _show(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    too_many = args.max_warnings is not None and len(report.warnings) > args.max_warnings
    return EXIT_FINDINGS if report.errors or too_many else 0


if __name__ == "__main__":
    sys.exit(main())
