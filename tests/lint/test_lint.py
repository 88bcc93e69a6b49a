from __future__ import annotations

import json
import re
import shlex
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from kbsuggest.articles.parse import parse_article
from kbsuggest.cli import main
from kbsuggest.encoders import HashingEncoder
from kbsuggest.lint import LintReport, Location, lint
from kbsuggest.lint.facts import extract_facts
from kbsuggest.lint.text import Document
from tests.conftest import REFUND, run_cli, write_articles, write_links_out_of_the_folder

ROOT = Path(__file__).resolve().parents[2]
SEEDED = ROOT / "tests" / "fixtures" / "lint"
TODAY = date(2026, 11, 25)

# Every problem planted in tests/fixtures/lint (see its README.md): (severity, kind, file, line).
PLANTED = {
    ("error", "conflicting-fact", "en/exchanges.md", 12),  # return within 15 days; 30 elsewhere
    ("error", "conflicting-fact", "en/order-changes.md", 12),  # bank takes 3–5 business days; 5–7 elsewhere
    ("error", "conflicting-fact", "zh-CN/exchanges-zh.md", 11),  # 15天内申请退货; 7天 elsewhere
    ("error", "conflicting-fact", "zh-CN/double-12-2026-zh.md", 13),  # 满¥199包邮; 满¥99 elsewhere
    ("error", "broken-anchor", "en/order-changes.md", 13),  # refunds.md#refund-time
    ("error", "broken-link", "en/returns-policy.md", 23),  # gift-cards.md does not exist
    ("error", "duplicate-id", "en/gifts.md", 1),  # the id of en/gift-wrapping.md
    ("error", "invalid-article", "en/typo.md", 6),  # valid_untill
    ("warning", "expired", "en/summer-sale-2026.md", 8),
    ("warning", "expiring", "en/black-friday-2026.md", 8),
    ("warning", "near-duplicate", "en/returns-policy.md", 14),  # copied into en/exchanges.md:14
}


@pytest.fixture(autouse=True)
def hashing_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KBSUGGEST_MODEL", "hashing")


@pytest.fixture(scope="module")
def seeded() -> LintReport:
    return lint(SEEDED, today=TODAY, encoders={"dense": HashingEncoder(64)})


def found(report: LintReport, root: Path = SEEDED) -> set[tuple[str, str, str, int | None]]:
    return {
        (f.severity, f.kind, Path(f.path).relative_to(root).as_posix(), f.line)
        for f in (*report.errors, *report.warnings)
    }


def test_lint_finds_every_planted_problem_and_nothing_else(seeded: LintReport) -> None:
    assert found(seeded) == PLANTED


def test_findings_name_the_other_side_and_how_to_fix(seeded: LintReport) -> None:
    by_place = {(Path(f.path).relative_to(SEEDED).as_posix(), f.line, f.kind): f for f in seeded.errors}
    window = by_place[("en/exchanges.md", 12, "conflicting-fact")]
    assert window.related == (Location(path=str(SEEDED / "en/returns-policy.md"), line=11),)
    assert "return window is '15 days' here but '30 days'" in window.message
    assert "did you mean '#refund-timing'?" in by_place[("en/order-changes.md", 13, "broken-anchor")].fix
    assert "did you mean 'valid_until'?" in by_place[("en/typo.md", 6, "invalid-article")].fix
    duplicate = next(f for f in seeded.warnings if f.kind == "near-duplicate")
    assert duplicate.related == (Location(path=str(SEEDED / "en/exchanges.md"), line=14),)


def test_cli_prints_one_line_per_finding_and_exits_1_on_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(SEEDED), "--today", "2026-11-25"]) == 1
    *lines, total = capsys.readouterr().out.splitlines()
    assert total == "8 error(s), 3 warning(s)"
    pattern = re.compile(r"^(?P<path>.+\.md):(?P<line>\d+): (?P<severity>error|warning): (?P<kind>[a-z-]+): .+")
    matches = [pattern.match(line) for line in lines]
    assert all(matches), lines
    printed = {
        (m["severity"], m["kind"], Path(m["path"]).relative_to(SEEDED).as_posix(), int(m["line"])) for m in matches if m
    }
    assert printed == PLANTED


def test_cli_json_is_the_report(seeded: LintReport, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(SEEDED), "--today", "2026-11-25", "--json"]) == 1
    out = capsys.readouterr().out
    assert set(json.loads(out)) == {"errors", "warnings"}
    assert LintReport.model_validate_json(out) == seeded


def test_cli_options_turn_checks_off(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["lint", str(SEEDED), "--today", "2026-11-25", "--no-similarity", "--expiring-days", "0", "--json"]) == 1
    )
    report = LintReport.model_validate_json(capsys.readouterr().out)
    assert found(report) == {p for p in PLANTED if p[1] not in ("near-duplicate", "expiring")}
    assert main(["lint", str(SEEDED), "--today", "25/11/2026"]) == 2
    assert "argument --today: '25/11/2026' is not a date; write it as YYYY-MM-DD" in capsys.readouterr().err


def test_demo_articles_are_consistent(capsys: pytest.CaptureFixture[str]) -> None:
    """What `examples/ci/` runs on the demo store: its expired promotions are warnings, which pass."""
    articles = ROOT / "articles"
    assert main(["lint", str(articles), "--today", "2026-11-25", "--json"]) == 0
    report = LintReport.model_validate_json(capsys.readouterr().out)
    assert report.errors == ()
    assert found(report, articles) == {
        ("warning", "expired", "en/summer-sale-2026.md", 10),
        ("warning", "expired", "zh-CN/double-11-2025-zh.md", 10),
        ("warning", "expiring", "en/black-friday-2026.md", 10),  # ends 2026-12-02, within 14 days
    }


def test_the_ci_recipe_passes_on_the_demo_store(tmp_path: Path) -> None:
    """examples/ci/github-workflow.yml's build and lint steps, as written, on a copy of the demo store."""
    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "github-workflow.yml").read_text(encoding="utf-8"))
    steps = {step.get("name"): step.get("run") for step in workflow["jobs"]["check"]["steps"]}
    shutil.copytree(ROOT / "articles", tmp_path / "articles")
    for name in ("Build the index", "Lint the articles"):
        program, *args = shlex.split(steps[name])
        assert program == "kbsuggest"
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode == 0, (name, done.stdout.decode(), done.stderr.decode())
    assert b"warning: expired" in done.stdout


def test_every_unreadable_file_is_reported_and_the_rest_still_checked(tmp_path: Path) -> None:
    root = write_articles(
        tmp_path / "kb",
        {
            "notes.txt": "not an article",
            "empty.md": "  \n",
            "yaml.md": "---\ntags: [a\n---\n# T\n\nBody.\n",
            "target.md": "---\ntype: blog\n---\n# Target\n\nSome text about the target article here.\n",
            "links.md": "# Links\n\nSee [the target](target.md#anything) and [nothing](nothing.md).\n",
        },
    )
    (root / "latin1.md").write_bytes("# Caf\xe9\n".encode("latin-1"))
    report = lint(root, today=TODAY)
    assert found(report, root) == {
        ("error", "invalid-article", "notes.txt", None),
        ("error", "invalid-article", "empty.md", None),
        ("error", "invalid-article", "yaml.md", 3),
        ("error", "invalid-article", "target.md", 2),
        ("error", "invalid-article", "latin1.md", 1),
        ("error", "broken-link", "links.md", 3),  # the link into the invalid target.md is not reported again
    }
    assert found(lint(tmp_path / "missing", today=TODAY), tmp_path) == {("error", "invalid-article", "missing", None)}


def test_links_resolve_like_github(tmp_path: Path) -> None:
    root = write_articles(
        tmp_path / "kb",
        {
            "en/faq.md": "# FAQ\n\n## Delivery\n\nText about delivery.\n\n## Delivery\n\nMore text about delivery.\n",
            "zh/faq-zh.md": "---\nlocale: zh-CN\n---\n# 常见问题\n\n## 退款到账时间\n\n退款一般五到七个工作日到账。\n",
            "en/links.md": "# Links\n\n"
            "[second](faq.md#delivery-1), [zh](../zh/faq-zh.md#退款到账时间),\n"
            "[encoded](../zh/faq-zh.md#%E9%80%80%E6%AC%BE),\n"
            "[here](#links), [site](https://example.com/x.md#nope), [image](_assets/map.png), `[code](nope.md)`,\n"
            "[third](faq.md#delivery-2).\n",
        },
    )
    report = lint(root, today=TODAY)
    assert found(report, root) == {
        ("error", "broken-anchor", "en/links.md", 4),
        ("error", "broken-anchor", "en/links.md", 6),
    }
    assert "link to '../zh/faq-zh.md#退款'" in report.errors[0].message


def document(body: str, locale: str = "en") -> Document:
    source = f"---\nlocale: {locale}\n---\n# Title\n\n{body}\n"
    return Document(parse_article(source, "t.md", default_id="t", default_locale="en"), source)


@pytest.mark.parametrize(
    ("locale", "sentence", "expected"),
    [
        ("en", "You can return items within 30 days from delivery.", [("return window", "30 days")]),
        ("en", "Orders keep the normal 30-day return window.", [("return window", "30-day")]),
        (
            "en",
            "We issue the refund within 2 business days after inspection; it then takes 5–7 business days at the bank.",
            [("refund issue time", "2 business days"), ("refund arrival time", "5–7 business days")],
        ),
        ("en", "If fewer than 7 business days have passed, the refund is still with your bank.", []),
        ("en", "Deletion is completed within 30 days, and a welcome coupon is valid for 30 days.", []),
        (
            "en",
            "Standard shipping is free on orders over $49, otherwise $5.95.",
            [("free-shipping threshold", "$49"), ("standard shipping fee", "$5.95")],
        ),
        ("en", "Shipping is free on international orders over $150.", []),
        ("en", "A $55 order that becomes $44 after the discount pays $5.95 shipping.", []),
        ("en", "A $6.95 return label fee is deducted from your refund.", [("return label fee", "$6.95")]),
        ("en", "Boots are covered by our 1-year apparel and footwear warranty.", [("apparel warranty", "1-year")]),
        ("en", "As an electronics product it has a 2-year warranty.", [("electronics warranty", "2-year")]),
        ("en", "Every product comes with a 24 month warranty.", [("warranty", "24 month")]),
        ("en", "Price protection covers price drops within 14 days.", [("price-protection period", "14 days")]),
        ("en", "Report damaged items within 7 days of delivery.", [("damaged-item report window", "7 days")]),
        ("en", "If tracking shows delivered, report it within 7 days.", []),
        ("zh-CN", "商品签收后30天内都可以申请退货。", [("return window", "30天")]),
        ("zh-CN", "本店支持7天无理由退货。", [("return window", "7天")]),
        (
            "zh-CN",
            "验货通过后2个工作日内发起退款，原路退回，5–7个工作日到账。",
            [("refund issue time", "2个工作日"), ("refund arrival time", "5–7个工作日")],
        ),
        ("zh-CN", "如果发起退款后还没超过7个工作日，请再耐心等等。", []),
        (
            "zh-CN",
            "标准快递满¥99包邮，否则运费¥10。",
            [("free-shipping threshold", "¥99"), ("standard shipping fee", "¥10")],
        ),
        ("zh-CN", "顺丰次日达运费¥23，满¥300减¥40。", []),
        ("zh-CN", "服装与鞋类保修1年，电子产品另计。", []),  # both kinds named: which one is meant is unclear
        ("zh-CN", "服装与鞋类保修1年。", [("apparel warranty", "1年")]),
        ("zh-CN", "付款后14天内如果商品页面售价下降，可以申请退还差价。", [("price-protection period", "14天")]),
        ("zh-CN", "活动时间为2025年11月1日至11月11日，退货政策不变。", []),
        ("zh-CN", "无理由退货扣除上门取件运费¥12。", [("return label fee", "¥12")]),
    ],
)
def test_fact_kinds(locale: str, sentence: str, expected: list[tuple[str, str]]) -> None:
    assert [(f.kind, f.text) for f in extract_facts(document(sentence, locale))] == expected


def test_facts_keep_their_source_line_and_units_apart() -> None:
    facts = extract_facts(document("Your bank takes 5-7 business\ndays to show it. Return within 1 year.\n"))
    assert [(f.kind, f.line, f.low, f.high, f.unit) for f in facts] == [
        ("refund arrival time", 6, 5, 7, "business-day"),
        ("return window", 7, 12, 12, "month"),
    ]


def test_links_out_of_the_articles_folder_are_errors(tmp_path: Path) -> None:
    root = write_links_out_of_the_folder(tmp_path)
    report = lint(root, today=TODAY)
    assert found(report, root) == {
        ("error", "invalid-article", "leak.md", None),
        ("error", "invalid-article", "shared", None),
        ("error", "invalid-article", "loop.md", None),
    }
    assert all("symbolic link" in f.message and "delete the link" in f.fix for f in report.errors)


def test_cli_lint_with_an_index_finds_what_it_finds_without(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copied = REFUND.replace("id: refunds", "id: refunds-copy").replace("# Refunds", "# Refunds again")
    articles = write_articles(tmp_path / "kb", {"refunds.md": REFUND, "copy.md": copied})
    assert main(["build", str(articles), "--index", str(tmp_path / "ix"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["lint", str(articles), "--json"]) == 0
    without = LintReport.model_validate_json(capsys.readouterr().out)
    assert [f.kind for f in without.warnings] == ["near-duplicate", "near-duplicate"]
    assert main(["lint", str(articles), "--index", str(tmp_path / "ix"), "--json"]) == 0
    assert LintReport.model_validate_json(capsys.readouterr().out) == without
    assert main(["lint", str(articles), "--index", str(tmp_path / "none")]) == 2
    assert "holds no index" in capsys.readouterr().err
