"""Splitting cases as fixture files: input, then per section `id | heading path` and its text, '.'-separated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kbsuggest.articles.parse import parse_article
from kbsuggest.articles.split import MAX_TOKENS, estimate_tokens

CASES = sorted((Path(__file__).parents[1] / "fixtures" / "split").glob("*.md"))


def parse(source: str, stem: str):
    return parse_article(source, f"{stem}.md", default_id=stem, default_locale="en")


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_split_fixture(case: Path) -> None:
    source, *expected = case.read_text(encoding="utf-8").split("\n.\n")
    stem = source.splitlines()[0].removeprefix("# ").lower().replace(" ", "-")
    got = [f"{s.id} | {' > '.join(s.heading_path)}\n{s.text}" for s in parse(source + "\n", stem).sections]
    assert got == [e.strip("\n") for e in expected]


def test_long_sections_split_under_the_token_bound_at_paragraphs() -> None:
    paragraph = " ".join(["The warranty covers manufacturing defects in materials and workmanship."] * 6)
    source = "# Warranty\n\n## Coverage\n\n" + "\n\n".join([paragraph] * 5) + "\n"
    sections = parse(source, "warranty").sections
    assert len(sections) > 1
    assert [s.id for s in sections] == [f"warranty#coverage~{i}" for i in range(1, len(sections) + 1)]
    assert all(estimate_tokens(s.text) <= MAX_TOKENS for s in sections)
    assert all(s.heading_path == ("Warranty", "Coverage") for s in sections)


def test_long_chinese_section_is_counted_per_character_and_split() -> None:
    sentence = "退货商品需保持吊牌完好且未经使用，仓库验收合格后我们会在两个工作日内发起退款。"
    source = "# 退货\n\n## 规则\n\n" + sentence * 20 + "\n"
    sections = parse(source, "tui").sections
    assert len(sections) >= 4
    assert all(estimate_tokens(s.text) <= MAX_TOKENS for s in sections)
    assert "".join(s.text.replace("\n", "") for s in sections) == sentence * 20


_words = st.text(alphabet="abcdefghij退货款订单", min_size=1, max_size=8)
_paragraph = st.lists(_words, min_size=1, max_size=60).map(" ".join)
_block = st.one_of(
    _paragraph,
    st.tuples(st.sampled_from(["## ", "### "]), _words).map("".join),
    st.lists(_words, min_size=1, max_size=5).map(lambda items: "\n".join(f"- {i}" for i in items)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_block, min_size=1, max_size=12))
def test_splitter_loses_no_text(blocks: list[str]) -> None:
    source = "# Title\n\nIntro words here.\n\n" + "\n\n".join(blocks) + "\n"
    sections = parse(source, "doc").sections
    kept = " ".join(s.text + " " + " ".join(s.heading_path) for s in sections)
    expected = re.findall(r"[a-j退货款订单]+", source)
    assert sorted(w for w in expected if w not in kept) == []
