"""The `kbsuggest` command. A thin layer: parse arguments, call the library, print the result."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from kbsuggest.errors import ArticlesInvalid, KbSuggestError, TemplateError
from kbsuggest.privacy import redact

EXIT_ERROR = 1
EXIT_INVALID_INPUT = 2
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""C0 and C1 controls but tab and newline (ESC starts ANSI sequences: colours, clearing the screen, the window
title; CR overwrites a line), and lone surrogates (a file name's undecodable bytes), which print cannot encode."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except (ArticlesInvalid, TemplateError) as exc:
        _show(f"error: {redact(str(exc))}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    except KbSuggestError as exc:
        _show(f"error: {redact(str(exc))}", file=sys.stderr)
        return EXIT_ERROR


def _show(text: object, file: TextIO | None = None) -> None:
    """`print` for people: characters in article, message or file-name text that a terminal would obey, or
    could not print, are shown escaped (`\\x1b`, `\\udcff`). JSON output (`--json`) is for programs: printed as is."""
    print(_UNPRINTABLE.sub(_escape, str(text)), file=file)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kbsuggest", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="build or update the index from a folder of Markdown articles")
    build.add_argument("articles_dir", type=Path, metavar="ARTICLES_DIR")
    build.add_argument("--index", type=Path, required=True, metavar="INDEX_DIR")
    build.add_argument("--json", action="store_true", help="print the build summary as JSON")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(run=_build)

    search = commands.add_parser("search", help="the article sections that best answer a customer message")
    search.add_argument("message", metavar="MESSAGE")
    search.add_argument("--index", type=Path, required=True, metavar="INDEX_DIR")
    search.add_argument("--k", type=int, default=5, help="how many answers (default 5)")
    search.add_argument("--json", action="store_true", help="print the answers as JSON")
    search.set_defaults(run=_search)

    suggest = commands.add_parser("suggest", help="answers, a reply draft and whether to hand over to a person")
    suggest.add_argument("message", metavar="MESSAGE")
    suggest.add_argument("--index", type=Path, required=True, metavar="INDEX_DIR")
    suggest.add_argument("--k", type=int, default=3, help="how many answers (default 3)")
    suggest.add_argument(
        "--context", action="append", default=[], metavar="KEY=VALUE", help="customer_name, order_id, agent_name..."
    )
    suggest.add_argument("--tone", choices=("friendly", "formal", "concise"), default="friendly")
    suggest.add_argument("--json", action="store_true", help="print the suggestion as JSON")
    suggest.set_defaults(run=_suggest)

    evaluate = commands.add_parser(
        "eval",
        help="answer quality on labelled messages (exit 1 when under a --min threshold)",
        description='QUERIES.jsonl holds {"query": ..., "expected": [article ids or article#anchor]} per line; '
        '"expected": [] marks a message that should be escalated. Conversation lines add "history", "kind" and '
        '"escalate", and are reported per kind.',
    )
    evaluate.add_argument("queries", type=Path, metavar="QUERIES.jsonl")
    evaluate.add_argument("--index", type=Path, required=True, metavar="INDEX_DIR")
    evaluate.add_argument("--k", type=int, default=3, help="recall@k (default 3)")
    evaluate.add_argument("--json", action="store_true", help="print the metrics and failures as JSON")
    evaluate.add_argument("--failures", type=int, default=20, help="failing messages to list (default 20)")
    for metric in ("accuracy", "recall", "mrr", "escalation-recall"):
        evaluate.add_argument(f"--min-{metric}", type=float, default=None, metavar="X")
    evaluate.set_defaults(run=_eval)

    report = commands.add_parser(
        "report", help="what agents' feedback says: acceptance, knowledge gaps, unused articles"
    )
    report.add_argument("--index", type=Path, required=True, metavar="INDEX_DIR")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.set_defaults(run=_report)

    mcp = commands.add_parser("mcp", help="serve the agent tools over MCP (stdio), for Claude Desktop, IDEs, agents")
    mcp.add_argument("--index", type=Path, required=True, metavar="INDEX_DIR")
    mcp.set_defaults(run=_mcp)

    serve = commands.add_parser("serve", help="serve search, suggest and reload over HTTP (FastAPI)")
    serve.add_argument("--index", type=Path, required=True, metavar="INDEX_DIR")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--api-key", default=None, help="require this X-API-Key header on /v1 routes (default: $KBSUGGEST_API_KEY)"
    )
    serve.set_defaults(run=_serve)

    lint = commands.add_parser(
        "lint",
        help="check articles for what an editor should fix: invalid files, broken links, conflicting facts...",
        description="Errors: what `build` refuses, duplicate ids, broken links and anchors, conflicting facts. "
        "Warnings: expired or soon-expiring articles, near-duplicate sections.",
        epilog="exit status: 0 nothing found, 1 warnings only, 2 errors",
    )
    lint.add_argument("articles_dir", type=Path, metavar="ARTICLES_DIR")
    lint.add_argument("--json", action="store_true", help='print {"errors": [...], "warnings": [...]} as JSON')
    lint.add_argument(
        "--expiring-days", type=int, default=14, metavar="N", help="warn about articles expiring within N days (14)"
    )
    lint.add_argument("--today", metavar="YYYY-MM-DD", help="check validity dates against this day (default today)")
    lint.add_argument("--no-similarity", action="store_true", help="skip the near-duplicate check (loads no model)")
    lint.set_defaults(run=_lint)
    return parser


def _build(args: argparse.Namespace) -> int:
    from kbsuggest.kb import KnowledgeBase

    kb = KnowledgeBase.build(args.articles_dir, args.index, progress=not args.quiet)
    summary = kb.last_build
    assert summary is not None
    if args.json:
        print(summary.model_dump_json())
    else:
        _show(
            f"built {args.index}: {summary.articles} articles, {summary.sections} sections "
            f"(added {summary.added}, changed {summary.changed}, removed {summary.removed}, "
            f"reused {summary.reused}; encoded {summary.encoded}) in {summary.seconds:.2f} s"
        )
    return 0


def _search(args: argparse.Namespace) -> int:
    from kbsuggest.kb import KnowledgeBase

    answers = KnowledgeBase.load(args.index).search(args.message, k=args.k)
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

    context = {}
    for item in args.context:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _show(f"error: --context {redact(item)!r} is not KEY=VALUE (e.g. customer_name=Ann)", file=sys.stderr)
            return EXIT_INVALID_INPUT
        context[key.strip()] = value.strip()
    s = KnowledgeBase.load(args.index).suggest(args.message, context=context, k=args.k, tone=args.tone)
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
    from kbsuggest.evaluation import DEPTH, read_queries, score
    from kbsuggest.kb import KnowledgeBase

    queries = read_queries(args.queries)
    kb = KnowledgeBase.load(args.index)
    histories = [q.history for q in queries] if any(q.history for q in queries) else None
    report = score(queries, kb.suggest_many([q.query for q in queries], k=DEPTH, histories=histories), args.k)
    failures = [r for r in report.results if r.rank != 1 if r.expected or not r.escalated_no_answer]
    limits = {
        "accuracy@1": (args.min_accuracy, report.accuracy_at_1),
        "recall@k": (args.min_recall, report.recall_at_k),
        "mrr": (args.min_mrr, report.mrr),
        "escalation_recall": (args.min_escalation_recall, report.escalation_recall),
    }
    below = [f"{name} {value:.3f} < {floor}" for name, (floor, value) in limits.items() if floor and value < floor]
    if args.json:
        body = report.model_dump(mode="json", by_alias=True, exclude={"results"})
        body["failures"] = [r.model_dump(mode="json") for r in failures]
        body["below_threshold"] = below
        print(json.dumps(body, ensure_ascii=False, indent=1))
    else:
        _show(
            f"{report.queries} messages ({report.in_scope} answerable): accuracy@1 {report.accuracy_at_1:.3f}, "
            f"recall@{report.k} {report.recall_at_k:.3f}, MRR {report.mrr:.3f}, nDCG@10 {report.ndcg_at_10:.3f}, "
            f"escalation precision {report.escalation_precision:.3f} recall {report.escalation_recall:.3f}"
        )
        for kind, figures in report.per_kind.items():
            _show(
                f"  {kind}: {figures.lines} lines, accuracy@1 {figures.accuracy_at_1:.3f}, "
                f"escalated {figures.escalated:.3f}"
            )
        for r in failures[: args.failures]:
            got = ", ".join(r.got[:3]) or "nothing"
            want = ", ".join(r.expected) or "escalation"
            _show(f"  miss: {r.query!r}: expected {want}; got {got}")
        for line in below:
            _show(f"below threshold: {line}", file=sys.stderr)
    return EXIT_ERROR if below else 0


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
    from kbsuggest.surfaces.mcp_server import serve_stdio

    serve_stdio(args.index)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from kbsuggest.surfaces.http import serve

    source = "--api-key" if args.api_key is not None else "KBSUGGEST_API_KEY"
    api_key = args.api_key if args.api_key is not None else os.environ.get("KBSUGGEST_API_KEY")
    if api_key is not None and not api_key.strip():
        print(
            f"error: {source} is empty, which would turn authentication off. "
            "Fix: set it to a long random key, or leave it out to serve without a key",
            file=sys.stderr,
        )
        return EXIT_INVALID_INPUT
    serve(args.index, host=args.host, port=args.port, api_key=api_key)
    return 0


def _lint(args: argparse.Namespace) -> int:
    from datetime import date

    from kbsuggest.config import Settings
    from kbsuggest.lint import lint

    try:
        today = date.fromisoformat(args.today) if args.today else None
    except ValueError:
        _show(f"error: --today {args.today!r} is not a date; write it as YYYY-MM-DD", file=sys.stderr)
        return EXIT_INVALID_INPUT
    settings = Settings.from_env()
    encoders = None if args.no_similarity else settings.encoders()
    try:
        report = lint(
            args.articles_dir,
            today=today,
            expiring_days=args.expiring_days,
            encoders=encoders,
            max_article_bytes=settings.max_article_bytes,
        )
    except KbSuggestError as exc:  # a model that cannot load: exit status 1 would read as "warnings only"
        _show(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    if args.json:
        print(report.model_dump_json(indent=1))
    else:
        for finding in (*report.errors, *report.warnings):
            _show(finding)
        _show(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)")
    return 2 if report.errors else 1 if report.warnings else 0


if __name__ == "__main__":
    sys.exit(main())
