"""Fuzzing the HTTP service (hypothesis) on a real uvicorn bound to 127.0.0.1: whatever the method, path,
headers and body, the answer is never a 5xx, every error is the documented `{"error": {...}}` JSON, and an
operation's every status is one its OpenAPI documents.

A fixed, derandomised budget (`max_examples`), so CI runs the same requests every time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kbsuggest.kb import KnowledgeBase
from kbsuggest.surfaces.http import create_app
from tests.conftest import HASHING
from tests.surfaces.test_http import KEY, running, write_version

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()  # NaN and Infinity too: Python's JSON parser accepts them
    | st.text(st.characters(exclude_categories=()), max_size=40)  # lone surrogates included
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8,
)
TEXT = st.text(st.characters(exclude_categories=()), max_size=300)  # control characters and lone surrogates too
VALID_ARGUMENTS = st.fixed_dictionaries(
    {"message": st.sampled_from(["where is my refund?", "退货要多久", "gift cards?", "x" * 4000]) | TEXT},
    optional={
        "k": st.integers(1, 20),
        "filters": st.fixed_dictionaries(
            {},
            optional={
                "locale": st.sampled_from(["en", "zh-CN", "zh", "fr-CA", ""]) | st.text(max_size=10),
                "type": st.lists(st.sampled_from(["policy", "product", "faq"]), max_size=3),
                "tags": st.lists(st.text(max_size=10), max_size=3),
                "products": st.lists(st.text(max_size=10), max_size=3),
                "channel": st.text(max_size=10),
                "today": st.dates().map(lambda day: day.isoformat()),
            },
        ),
        "context": st.dictionaries(st.sampled_from(["customer_name", "order_id", "agent_name", "x"]), TEXT),
        "tone": st.sampled_from(["friendly", "formal", "concise"]),
        "suggestion_id": st.text(max_size=20),
        "outcome": st.sampled_from(["accepted", "edited", "rejected"]),
        "final_text": TEXT,
        "agent": st.text(max_size=10),
    },
)
MIXED_ARGUMENTS = VALID_ARGUMENTS.flatmap(
    lambda args: st.fixed_dictionaries({name: st.just(value) | JSON_VALUES for name, value in args.items()})
)
BODIES = st.one_of(
    VALID_ARGUMENTS.map(lambda args: json.dumps(args).encode()),
    MIXED_ARGUMENTS.map(lambda args: json.dumps(args).encode()),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=200),
)
ROUTES = ["/v1/search", "/v1/suggest", "/v1/feedback"]
ODD_PATHS = ["/v1/reload", "/healthz", "/openapi.json", "/docs", "/v1/search/", "/v1%2Fsearch", "/V1/search", "/v1/"]


def mostly(usual: Any, *unusual: Any) -> st.SearchStrategy[Any]:
    """`usual` three times in four, else one of `unusual`: most requests get past the guard to the arguments."""
    return st.sampled_from([usual] * 3 * len(unusual) + list(unusual))


REQUESTS = st.fixed_dictionaries(
    {
        "method": mostly("POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"),
        "path": mostly(True, False).flatmap(
            lambda usual: (
                st.sampled_from(ROUTES)
                if usual
                else st.sampled_from(ODD_PATHS) | st.from_regex(r"/[a-zA-Z0-9/._~-]{0,20}", fullmatch=True)
            )
        ),
        "key": mostly(KEY, None, "wrong"),
        "content_type": mostly("application/json", "application/json; charset=utf-8", "text/plain", None),
        "host": mostly(None, "localhost", "evil.example", "[::1]"),
        "body": BODIES,
    }
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root = tmp_path_factory.mktemp("fuzz")
    write_version(root / "articles", 1)
    KnowledgeBase.build(root / "articles", root / "ix", settings=HASHING)
    with (
        running(create_app(root / "ix", api_key=KEY, settings=HASHING)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def spec(service: httpx.Client) -> dict[str, Any]:
    """The service's OpenAPI document."""
    return dict(service.get("/openapi.json").json())


@settings(
    max_examples=400,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=REQUESTS)
def test_no_request_gets_a_5xx_and_every_error_is_json(
    service: httpx.Client, spec: dict[str, Any], request: dict[str, Any]
) -> None:
    headers = {
        name: value
        for name, value in (
            ("X-API-Key", request["key"]),
            ("Content-Type", request["content_type"]),
            ("Host", request["host"]),
        )
        if value is not None
    }
    r = service.request(request["method"], request["path"], content=request["body"], headers=headers)
    assert r.status_code < 500, (request, r.text)
    operation = spec["paths"].get(request["path"], {}).get(request["method"].lower())
    if operation is not None:
        assert str(r.status_code) in operation["responses"], (request, r.status_code, r.text)
    event(str(r.status_code))  # pytest --hypothesis-show-statistics: how often each status was seen
    if r.status_code >= 400 and request["method"] != "HEAD":
        error = r.json()
        assert list(error) == ["error"] and sorted(error["error"]) == ["message", "type"], r.text
        assert isinstance(error["error"]["type"], str) and isinstance(error["error"]["message"], str)
