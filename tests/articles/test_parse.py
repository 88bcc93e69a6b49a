from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import FrameType

import pytest

from kbsuggest.articles import load_articles
from kbsuggest.articles.parse import parse_article
from kbsuggest.errors import ArticleError, ArticlesInvalid
from tests.conftest import REFUND, RETURNS_ZH, SHIPPING, write_articles, write_links_out_of_the_folder


def parse(source: str, stem: str = "doc"):
    return parse_article(source, f"{stem}.md", default_id=stem, default_locale="en")


def test_headings_become_sections_with_paths_anchors_and_lines() -> None:
    article = parse(REFUND)
    assert [s.id for s in article.sections] == ["refunds#refund-timing", "refunds#refunds-for-cancelled-orders"]
    first = article.sections[0]
    assert first.heading_path == ("Refunds", "Refund timing")
    assert (first.line_start, first.line_end) == (11, 14)
    assert first.text.startswith("Once your return is inspected")
    assert REFUND.splitlines()[first.line_start - 1] == "## Refund timing"


def test_front_matter_defaults_fill_id_title_and_locale() -> None:
    article = parse(SHIPPING, stem="shipping")
    assert article.meta.id == "shipping"
    assert article.meta.title == "Shipping options"
    assert article.meta.locale == "en"
    assert article.meta.priority == 0 and article.meta.tags == ()


def test_article_without_front_matter_uses_defaults() -> None:
    article = parse("# Gift cards\n\nGift cards never expire and can be used on any order, including sale items.\n")
    assert (article.meta.id, article.meta.title, article.meta.type) == ("doc", "Gift cards", "policy")


def test_tables_render_as_labelled_rows() -> None:
    (section,) = parse(SHIPPING).sections
    assert "Option: Standard; Cost: $5.95, free over $49; Time: 3-5 business days" in section.text
    assert "Option: Express; Cost: $14.95; Time: 1-2 business days" in section.text


def test_lists_keep_markers_and_nesting() -> None:
    source = (
        "# Steps\n\n## How to return\n\n"
        "1. Sign in to your account\n2. Open the order\n   - pick items\n3. Print the label\n"
    )
    (section,) = parse(source).sections
    assert section.text == "1. Sign in to your account\n2. Open the order\n  - pick items\n3. Print the label"


def test_chinese_headings_keep_cjk_anchor_and_join_lines_without_spaces() -> None:
    article = parse(RETURNS_ZH)
    assert [s.anchor for s in article.sections] == ["退货期限", "退款到账时间"]
    assert article.meta.locale == "zh-CN"
    source = "# 标题\n\n## 发货\n\n我们会在付款后\n24小时内发货，节假日顺延，敬请谅解。请留意短信通知。\n"
    assert "付款后24小时" in parse(source).sections[0].text


def test_duplicate_headings_get_distinct_anchors() -> None:
    body = "\n\nSome words that make this section long enough to stand alone as its own section.\n\n"
    article = parse(f"# T\n\n## Fees{body}## Fees{body}")
    assert [s.anchor for s in article.sections] == ["fees", "fees-1"]


def test_validity_window_is_parsed_as_dates() -> None:
    source = "---\nvalid_from: 2026-11-20\nvalid_until: 2026-12-02\n---\n# Sale\n\nEverything is 20% off this week.\n"
    meta = parse(source).meta
    assert meta.valid_until == date(2026, 12, 2)
    assert meta.is_valid_on(date(2026, 11, 25)) and not meta.is_valid_on(date(2026, 12, 3))


def errors_of(source: str) -> list[ArticleError]:
    with pytest.raises(ArticlesInvalid) as caught:
        parse(source)
    return caught.value.errors


def test_invalid_yaml_names_the_line() -> None:
    (error,) = errors_of("---\nid: a\ntags: [x, y\n---\n# T\n\nBody text.\n")
    assert error.line == 4 and "invalid YAML" in error.problem


def test_unknown_field_is_an_error_with_a_suggestion() -> None:
    (error,) = errors_of("---\nid: a\nvalid_untill: 2026-01-01\n---\n# T\n\nBody text.\n")
    assert error.line == 3
    assert "unknown front-matter field 'valid_untill'" in error.problem
    assert "did you mean 'valid_until'?" in error.fix


def test_mistyped_fields_are_all_reported_with_lines() -> None:
    errors = errors_of("---\ntype: article\npriority: high\nvalid_from: someday\n---\n# T\n\nBody.\n")
    assert sorted((e.line, e.problem.split(":")[0]) for e in errors) == [
        (2, "field 'type'"),
        (3, "field 'priority'"),
        (4, "field 'valid_from'"),
    ]


def test_unclosed_front_matter_and_empty_body_are_errors() -> None:
    assert "never closed" in errors_of("---\nid: a\n# T\n\nBody.\n")[0].problem
    assert "no body text" in errors_of("---\nid: a\n---\n# Title only\n")[0].problem


def test_loader_reports_every_problem_at_once(tmp_path: Path) -> None:
    root = write_articles(
        tmp_path,
        {
            "ok.md": REFUND,
            "dup.md": REFUND,
            "empty.md": "   \n",
            "notes.txt": "a note",
            "bad-type.md": "---\ntype: blog\n---\n# T\n\nBody.\n",
            "README.md": "# Guide for editors (ignored)\n",
            "_templates/en.md": "ignored",
        },
    )
    (root / "latin1.md").write_bytes("# Café\n\nline two\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(ArticlesInvalid) as caught:
        load_articles(root)
    found = {(Path(e.path).name, e.line) for e in caught.value.errors}
    assert found == {("ok.md", 1), ("empty.md", None), ("notes.txt", None), ("bad-type.md", 2), ("latin1.md", 1)}
    messages = str(caught.value)
    assert "duplicate id 'refunds'" in messages and "dup.md" in messages
    assert "not valid UTF-8" in messages and "not a Markdown file" in messages


def test_non_utf8_error_names_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(b"# Title\n\nfine\nbad \xff here\n")
    with pytest.raises(ArticlesInvalid) as caught:
        load_articles(tmp_path)
    assert caught.value.errors[0].line == 4


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArticlesInvalid, match="does not exist"):
        load_articles(tmp_path / "nope")


def _big_article(parts: int) -> str:
    """`parts` sections, each followed by a tiny one that joins the article's root."""
    return "# Big\n\n" + "".join(
        f"## Part {i}\n\nRefund {i} is handled within two business days, then takes a week.\n\n## Aside {i}\n\nok\n\n"
        for i in range(parts)
    )


def _lines_run(source: str) -> int:
    """Python lines executed to parse `source` (kbsuggest's and markdown-it's): a measure of work, not time."""
    count = 0

    def trace(frame: FrameType, event: str, arg: object) -> Callable[..., object] | None:
        nonlocal count
        if event == "line":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        parse(source, "big")
    finally:
        sys.settrace(None)
    return count


def test_parsing_work_grows_linearly_with_the_article() -> None:
    """Sections were numbered by counting the sections before each one, and a tiny section looked for its parent
    through every section before it: 4x the article took 5.6x the work, and more the larger it was."""
    small, large = _big_article(200), _big_article(800)
    assert len(parse(large, "big").sections) == 4 * len(parse(small, "big").sections)
    assert _lines_run(large) / _lines_run(small) < 4.4


def test_an_article_over_the_size_limit_is_refused_naming_its_size_the_limit_and_the_setting(tmp_path: Path) -> None:
    root = write_articles(tmp_path, {"refunds.md": REFUND, "huge.md": "# Huge\n\n" + "Refunds take a week. " * 100})
    limit = len(REFUND.encode())  # refunds.md, exactly at the limit, is read
    with pytest.raises(ArticlesInvalid) as caught:
        load_articles(root, max_bytes=limit)
    [error] = caught.value.errors
    assert error.path == str(root / "huge.md")
    size = (root / "huge.md").stat().st_size
    assert f"has {size:,} bytes, over the limit of {limit:,}" in error.problem
    assert "KBSUGGEST_MAX_ARTICLE_BYTES" in error.problem and "split it" in error.fix
    assert [a.meta.id for a in load_articles(root, max_bytes=size)] == ["huge", "refunds"]


def test_links_out_of_the_articles_folder_are_refused_naming_the_link(tmp_path: Path) -> None:
    root = write_links_out_of_the_folder(tmp_path)
    with pytest.raises(ArticlesInvalid) as caught:
        load_articles(root)
    problems = {Path(e.path).name: e.problem for e in caught.value.errors}
    secret = (tmp_path / "elsewhere").resolve()
    assert problems == {
        "leak.md": f"a symbolic link to {secret / 'secret.md'}, outside the articles folder",
        "shared": f"a symbolic link to {secret}, outside the articles folder",
        "loop.md": "a symbolic link that loops",
    }
    assert "hunter2" not in str(caught.value)
    for name in problems:
        (root / name).unlink()
    assert sorted(a.meta.id for a in load_articles(root)) == ["draft", "refunds"]


@pytest.mark.parametrize("code", [0x1B, 0x9B, 0x07, 0x00])
def test_control_characters_are_refused_naming_file_line_and_code(tmp_path: Path, code: int) -> None:
    text = REFUND.replace("within 2 business", f"within 2{chr(code)} business")
    root = write_articles(tmp_path / "kb", {"refunds.md": text})
    with pytest.raises(ArticlesInvalid) as raised:
        load_articles(root)
    assert f"refunds.md:{text.count(chr(10), 0, text.index(chr(code))) + 1}: a control character U+{code:04X}" in str(
        raised.value
    )


def test_tabs_and_windows_line_breaks_are_fine(tmp_path: Path) -> None:
    root = write_articles(tmp_path / "kb", {"refunds.md": REFUND.replace("\n", "\r\n").replace("Once", "\tOnce")})
    assert load_articles(root)[0].meta.id == "refunds"
