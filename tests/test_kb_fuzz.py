"""The Python API under arbitrary arguments: every public call returns its result or raises `InputError`.

Each call draws plausible arguments (so it gets deep), then replaces none, one or two of them with any
JSON-like value (None, bools, numbers, text with lone surrogates, lists, dicts). A fixed number of
derandomised examples per method keeps the run deterministic and its cost fixed in CI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kbsuggest import Filters, KnowledgeBase
from kbsuggest.errors import InputError
from kbsuggest.feedback.store import Feedback
from kbsuggest.reply.models import Suggestion
from kbsuggest.retrieval.models import Answer
from tests.conftest import HASHING, REFUND, RETURNS_ZH, SHIPPING, write_articles

EXAMPLES = 150
"""Examples per method: 750 calls in all, about ten seconds with the hashing encoder."""

_text = st.text(st.characters(exclude_categories=()), max_size=30)  # lone surrogates included
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=8,
)
_message = st.sampled_from(["when will my refund arrive", "express shipping cost", "退款多久到账"])
_filters = st.sampled_from(
    [
        None,
        Filters(locale="zh-CN"),
        Filters(type=("policy",), today=date(2026, 1, 1)),
        {"locale": "en", "tags": ["refunds"]},
        {"type": ["faq"], "today": "2026-01-01"},
    ]
)
_context = st.none() | st.dictionaries(st.sampled_from(["customer_name", "order_id"]), st.sampled_from(["Ann", "A-12"]))
VALID: dict[str, st.SearchStrategy[Any]] = {
    "message": _message,
    "messages": st.lists(_message, max_size=3) | st.tuples(_message),
    "k": st.integers(min_value=1, max_value=8) | st.just(np.int64(2)),
    "filters": _filters,
    "context": _context,
    "tone": st.sampled_from(["friendly", "formal", "concise"]),
    "outcome": st.sampled_from(["accepted", "edited", "rejected"]),
    "final_text": st.sampled_from([None, "We sent it."]),
    "article_id": st.sampled_from([None, "refunds"]),
    "agent": st.sampled_from([None, "ann"]),
}
"""Plausible values of each argument."""
ODD: dict[str, list[Any]] = {
    "message": ["", "  ", "\ud800", "x" * 5000],
    "messages": ["one message", [], ["ok", 3]],
    "k": [0, -1, 10**18, True, 2.0, "3"],
    "filters": [{"tags": "refunds"}, {"colour": "red"}, {"\ud800": 1}, {"today": "soon"}, [("locale", "en")]],
    "context": [[("customer_name", "Ann")], {"customer_name": 7}, {"\udfff": "x"}, {"customer_name": "\ud800"}],
    "tone": ["rude", "FORMAL"],
    "suggestion_id": ["no-such-id", "\ud800", ""],
    "outcome": ["maybe", "ACCEPTED"],
    "final_text": ["\udfff"],
    "article_id": ["nope", ["refunds"]],
}
"""Values of each argument worth trying besides any JSON-like value."""


def _arguments(names: list[str], **valid: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments `names`, plausible, with none, one or two of them odd or any JSON-like value."""
    plausible = {**{name: VALID[name] for name in names if name in VALID}, **valid}

    @st.composite
    def draw(data: st.DrawFn) -> dict[str, Any]:
        arguments = {name: data(plausible[name]) for name in names}
        for name in data(st.permutations(names))[: data(st.sampled_from([0, 1, 2]))]:
            arguments[name] = data(st.sampled_from(ODD[name]) | _json if name in ODD else _json)
        return arguments

    return draw()


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("fuzz")
    articles = write_articles(
        root / "articles", {"refunds.md": REFUND, "shipping.md": SHIPPING, "zh/returns-zh.md": RETURNS_ZH}
    )
    return KnowledgeBase.build(articles, root / "ix", settings=HASHING)


def _result_or_input_error(call: Callable[[], Any], expected: type, many: bool = False) -> None:
    try:
        result = call()
    except InputError as exc:
        assert str(exc).encode("utf-8")  # says what is wrong, and can be sent on as JSON
        event("InputError")
        return
    event("result")
    for item in result if many else [result]:
        assert all(isinstance(r, expected) for r in item) if isinstance(item, list) else isinstance(item, expected)


_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_SETTINGS
@given(_arguments(["message", "k", "filters"]))
def test_search(kb: KnowledgeBase, arguments: dict[str, Any]) -> None:
    _result_or_input_error(lambda: kb.search(**arguments), Answer)


@_SETTINGS
@given(_arguments(["messages", "k", "filters"]))
def test_search_many(kb: KnowledgeBase, arguments: dict[str, Any]) -> None:
    _result_or_input_error(lambda: kb.search_many(**arguments), Answer, many=True)


@_SETTINGS
@given(_arguments(["message", "context", "k", "tone", "filters"]))
def test_suggest(kb: KnowledgeBase, arguments: dict[str, Any]) -> None:
    _result_or_input_error(lambda: kb.suggest(**arguments), Suggestion)


@_SETTINGS
@given(_arguments(["messages", "context", "k", "tone", "filters"]))
def test_suggest_many(kb: KnowledgeBase, arguments: dict[str, Any]) -> None:
    _result_or_input_error(lambda: kb.suggest_many(**arguments), Suggestion, many=True)


@_SETTINGS
@given(data=st.data())
def test_record_feedback(kb: KnowledgeBase, data: st.DataObject) -> None:
    made = kb.suggest("when will my refund arrive").id
    names = ["suggestion_id", "outcome", "final_text", "article_id", "agent"]
    arguments = data.draw(_arguments(names, suggestion_id=st.just(made)))
    _result_or_input_error(lambda: kb.record_feedback(**arguments), Feedback)


def test_filters_may_be_a_dict_of_their_fields(kb: KnowledgeBase) -> None:
    as_dict = kb.search("退款多久到账", filters={"locale": "zh-CN", "type": ["policy"]})
    assert as_dict == kb.search("退款多久到账", filters=Filters(locale="zh-CN", type=("policy",)))
    assert as_dict[0].article_id == "returns-zh"
    with pytest.raises(InputError, match=r"filters\.colour: Extra inputs are not permitted.*Fix: use the fields"):
        kb.search("refund", filters={"colour": "red"})


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda kb: kb.search("refund", k=None), "k is NoneType, not a whole number"),
        (lambda kb: kb.search("refund", k={"k": 3}), "k is dict, not a whole number"),
        (lambda kb: kb.search("refund", filters=[("locale", "en")]), "filters is list. Fix:"),
        (lambda kb: kb.search(None), "the message is NoneType, not text"),
        (lambda kb: kb.search_many("refund"), "messages is str, not a list"),
        (lambda kb: kb.suggest("refund", context=["customer_name"]), "context is list. Fix:"),
        (lambda kb: kb.suggest("refund", context={1: "Ann"}), "a context key is int, not text"),
        (lambda kb: kb.record_feedback(["id"], "accepted"), "suggestion_id is list, not text"),
        (lambda kb: kb.record_feedback("id", "accepted", article_id={}), "article_id is dict, not text"),
    ],
)
def test_a_wrong_type_is_an_input_error_naming_the_argument(
    kb: KnowledgeBase, call: Callable[[KnowledgeBase], Any], problem: str
) -> None:
    with pytest.raises(InputError) as caught:
        call(kb)
    assert problem in str(caught.value)
