from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from copy import deepcopy
from typing import Any

import jsonschema
import pytest
from agents import FunctionTool
from agents.strict_schema import ensure_strict_json_schema
from openai.lib._pydantic import _ensure_strict_json_schema as openai_ensure_strict

from kbsuggest.config import Settings
from kbsuggest.kb import MAX_MESSAGE_CHARS, KnowledgeBase
from kbsuggest.registry import Registry
from kbsuggest.tools import (
    CONTENT_NOTICE,
    TOOLS,
    anthropic_tools,
    call_tool,
    openai_strict_tools,
    openai_tools,
)
from tests.conftest import REFUND, RETURNS_ZH, SHIPPING, write_articles


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    root = tmp_path_factory.mktemp("tools")
    articles = write_articles(root / "articles", {"refunds.md": REFUND, "shipping.md": SHIPPING, "zh.md": RETURNS_ZH})
    return KnowledgeBase.build(articles, root / "ix", settings=Settings(model="hashing"))


def _walk(node: Any) -> Iterator[Any]:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from _walk(child)


def test_openai_and_anthropic_shapes_carry_the_same_schemas() -> None:
    openai, anthropic = openai_tools(feedback=True), anthropic_tools(feedback=True)
    assert [t["type"] for t in openai] == ["function"] * 3
    assert [t["function"]["name"] for t in openai] == ["search_knowledge_base", "suggest_reply", "record_feedback"]
    assert [set(t) for t in anthropic] == [{"name", "description", "input_schema"}] * 3
    for o, a in zip(openai, anthropic, strict=True):
        assert set(o["function"]) == {"name", "description", "parameters"}
        assert o["function"]["name"] == a["name"] and o["function"]["description"] == a["description"]
        assert o["function"]["parameters"] == a["input_schema"]
    search, suggest, feedback = (t["input_schema"] for t in anthropic)
    assert set(feedback["required"]) == {"suggestion_id", "outcome"}
    assert search["type"] == "object" and search["required"] == ["message"]
    assert search["additionalProperties"] is False
    assert set(search["properties"]) == {"message", "k", "filters", "history"}
    assert set(suggest["properties"]) == {"message", "k", "filters", "history", "context", "tone"}
    context = suggest["properties"]["context"]["anyOf"][0]
    assert set(context["properties"]) == {"customer_name", "order_id", "agent_name", "store_name"}
    assert context["additionalProperties"] is False
    assert suggest["properties"]["tone"]["enum"] == ["friendly", "formal", "concise"]
    assert search["properties"]["message"]["maxLength"] == MAX_MESSAGE_CHARS
    # Self-contained: no $ref/$defs, which some tool-calling APIs do not resolve.
    assert not [n for n in _walk(anthropic) if isinstance(n, dict) and ({"$ref", "$defs"} & set(n))]


def test_schemas_are_valid_json_schema_that_match_what_the_dispatcher_accepts() -> None:
    search, suggest = (t["input_schema"] for t in anthropic_tools())
    jsonschema.Draft202012Validator.check_schema(search)
    good = {"message": "refund?", "k": 2, "filters": {"locale": "en", "type": ["policy"], "today": "2026-01-01"}}
    jsonschema.validate(good, search)
    jsonschema.validate({**good, "context": {"customer_name": "Ann"}, "tone": "formal"}, suggest)
    for bad in ({"k": 2}, {"message": "x", "k": 0}, {"message": "x", "colour": "red"}, {"message": "x", "filters": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, search)


def test_search_returns_answers_marked_as_quoted_content(kb: KnowledgeBase) -> None:
    out = call_tool(kb, "search_knowledge_base", {"message": "when will my refund arrive", "k": 2}, compact=False)
    assert out["content_notice"] == CONTENT_NOTICE
    answers = out["result"]["answers"]
    assert len(answers) == 2 and answers[0]["article_id"] == "refunds"
    assert {"text", "snippet", "section_id", "path", "line_start", "matched_by"} <= set(answers[0])
    json.dumps(out)  # JSON-ready as it is


def test_suggest_fills_context_and_takes_json_string_arguments(kb: KnowledgeBase) -> None:
    arguments = json.dumps({"message": "when will my refund arrive", "context": {"customer_name": "Ann"}, "k": 1})
    out = call_tool(kb, "suggest_reply", arguments)
    assert out["content_notice"] == CONTENT_NOTICE
    suggestion = out["result"]
    assert len(suggestion["answers"]) == 1 and suggestion["drafts"]
    assert "Ann" in suggestion["drafts"][0]["text"]
    filtered = call_tool(kb, "search_knowledge_base", {"message": "退款", "filters": {"locale": "zh-CN"}})
    assert {a["locale"] for a in filtered["result"]["answers"]} == {"zh-CN"}


@pytest.mark.parametrize(
    ("name", "arguments", "kind", "says"),
    [
        ("delete_everything", {"message": "hi"}, "unknown_tool", "search_knowledge_base, suggest_reply"),
        ("search_knowledge_base", {}, "invalid_arguments", "message: Field required"),
        ("search_knowledge_base", None, "invalid_arguments", "message: Field required"),
        ("search_knowledge_base", {"message": "x", "k": 0}, "invalid_arguments", "k: Input should be greater"),
        ("search_knowledge_base", {"message": "x", "k": "many"}, "invalid_arguments", "k: Input should be"),
        ("search_knowledge_base", {"message": "x", "colour": "red"}, "invalid_arguments", "colour: Extra inputs"),
        ("search_knowledge_base", {"message": "x", "filters": {"lang": "en"}}, "invalid_arguments", "filters.lang"),
        ("search_knowledge_base", {"message": "x" * (MAX_MESSAGE_CHARS + 1)}, "invalid_arguments", "at most 4000"),
        ("search_knowledge_base", {"message": "   "}, "invalid_arguments", "the message is empty"),
        ("search_knowledge_base", "{not json", "invalid_arguments", "Invalid JSON"),
        ("search_knowledge_base", "[1, 2]", "invalid_arguments", "Input should be an object"),
        ("suggest_reply", {"message": "x", "tone": "rude"}, "invalid_arguments", "tone: Input should be"),
        ("suggest_reply", {"message": "x", "context": {"order_id": 5}}, "invalid_arguments", "context.order_id"),
        ("suggest_reply", {"message": "x", "context": {"coupon": "FREE"}}, "invalid_arguments", "'coupon' is not a"),
        ("record_feedback", {"suggestion_id": "x", "outcome": "accepted"}, "unknown_tool", "feedback=True"),
    ],
)
def test_bad_calls_are_structured_errors_not_exceptions(
    kb: KnowledgeBase, name: str, arguments: Any, kind: str, says: str
) -> None:
    out = call_tool(kb, name, arguments)
    assert set(out) == {"error"} and set(out["error"]) == {"type", "message"}
    assert out["error"]["type"] == kind
    assert says in out["error"]["message"]
    assert "Traceback" not in out["error"]["message"]


# The agent loop below is the one in the integration docs; only the model is fake.

Model = Callable[[list[dict[str, Any]], list[dict[str, Any]]], dict[str, Any]]


def run_agent(kb: KnowledgeBase, model: Model, customer_message: str, max_turns: int = 5) -> str:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a support agent. Answer only from the knowledge base."},
        {"role": "user", "content": customer_message},
    ]
    tools = openai_tools()
    for _ in range(max_turns):
        reply = model(messages, tools)  # e.g. client.chat.completions.create(...).choices[0].message.model_dump()
        messages.append(reply)
        if not reply.get("tool_calls"):
            return str(reply["content"])
        for call in reply["tool_calls"]:
            result = call_tool(kb, call["function"]["name"], call["function"]["arguments"])
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)})
    raise RuntimeError("the model kept calling tools")


class FakeModel:
    """Asks for `suggest_reply` once, then answers with the first draft it was given."""

    def __init__(self) -> None:
        self.seen: list[list[dict[str, Any]]] = []

    def __call__(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
        self.seen.append(list(messages))
        assert "suggest_reply" in [t["function"]["name"] for t in tools]
        if messages[-1]["role"] != "tool":
            arguments = json.dumps({"message": messages[-1]["content"], "context": {"customer_name": "Ann"}})
            call = {"id": "call_1", "type": "function", "function": {"name": "suggest_reply", "arguments": arguments}}
            return {"role": "assistant", "content": None, "tool_calls": [call]}
        result = json.loads(messages[-1]["content"])
        return {"role": "assistant", "content": result["result"]["drafts"][0]["text"]}


def test_agent_loop_with_the_openai_schema_and_a_fake_model(kb: KnowledgeBase) -> None:
    model = FakeModel()
    answer = run_agent(kb, model, "when will my refund arrive?")
    assert answer.startswith("Hi Ann,")
    tool_message = model.seen[-1][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_1"
    assert json.loads(tool_message["content"])["content_notice"] == CONTENT_NOTICE


def test_agent_loop_gets_errors_back_as_data(kb: KnowledgeBase) -> None:
    calls = iter(
        [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "search_knowledge_base", "arguments": "{}"}}
                ],
            },
            {"role": "assistant", "content": "Sorry, let me ask a colleague."},
        ]
    )
    seen: list[dict[str, Any]] = []

    def model(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
        seen.extend(messages[len(seen) :])
        return next(calls)

    assert run_agent(kb, model, "hello?") == "Sorry, let me ask a colleague."
    assert json.loads(seen[-1]["content"])["error"]["type"] == "invalid_arguments"


def test_record_feedback_is_offered_and_run_only_when_asked_for(kb: KnowledgeBase) -> None:
    """A model once recorded "accepted" for an unrelated answer: grading suggestions is the agent's call."""
    for offered in (openai_tools(), openai_strict_tools()):
        assert [t["function"]["name"] for t in offered] == ["search_knowledge_base", "suggest_reply"]
    assert [t["name"] for t in anthropic_tools()] == ["search_knowledge_base", "suggest_reply"]
    suggestion = call_tool(kb, "suggest_reply", {"message": "when does my refund arrive?"})["result"]
    verdict = {"suggestion_id": suggestion["id"], "outcome": "accepted"}
    refused = call_tool(kb, "record_feedback", verdict)
    assert refused["error"]["type"] == "unknown_tool" and "feedback=True" in refused["error"]["message"]
    result = call_tool(kb, "record_feedback", verdict, feedback=True)
    assert result["result"]["outcome"] == "accepted" and result["result"]["suggestion_id"] == suggestion["id"]
    bad = call_tool(kb, "record_feedback", {"suggestion_id": "nope", "outcome": "accepted"}, feedback=True)
    assert bad["error"]["type"] == "invalid_arguments" and "no suggestion 'nope'" in bad["error"]["message"]


# --- strict function calling ----------------------------------------------------------------------------------

STRICT_KEYWORDS = {
    # OpenAI Structured Outputs' supported subset (platform docs, "Supported schemas"), minus what we never emit.
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "anyOf",
    "description",
    "title",
    "format",
    "minimum",
    "maximum",
}


def _keywords(schema: dict[str, Any]) -> set[str]:
    found = set(schema) - {"properties"}
    items = [schema["items"]] if "items" in schema else []
    for child in [*schema.get("properties", {}).values(), *schema.get("anyOf", []), *items]:
        found |= _keywords(child)
    return found


def test_strict_schemas_are_left_unchanged_by_the_openai_and_agents_sdks_strict_validators() -> None:
    """Both SDKs rewrite a schema into strict form (or raise); a schema that is already strict comes back equal."""
    strict = openai_strict_tools(feedback=True)
    assert [t["function"]["strict"] for t in strict] == [True] * 3
    for tool in strict:
        schema = tool["function"]["parameters"]
        assert ensure_strict_json_schema(deepcopy(schema)) == schema
        assert openai_ensure_strict(deepcopy(schema), path=(), root=deepcopy(schema)) == schema
        assert _keywords(schema) <= STRICT_KEYWORDS
        jsonschema.Draft202012Validator.check_schema(schema)
    # The plain schemas are not strict: the validators would change them (optional fields made required).
    plain = TOOLS["suggest_reply"].parameters()
    assert ensure_strict_json_schema(deepcopy(plain)) != plain and {"default", "maxLength"} <= _keywords(plain)


def test_the_agents_sdk_takes_the_strict_tools_as_they_are(kb: KnowledgeBase) -> None:
    """The README's wrapping: FunctionTool makes its schema strict on creation, which must change nothing."""
    for spec in openai_strict_tools():
        name, schema = spec["function"]["name"], spec["function"]["parameters"]

        async def invoke(ctx: Any, arguments: str, name: str = name) -> str:
            return json.dumps(call_tool(kb, name, arguments))

        tool = FunctionTool(
            name=name, description=spec["function"]["description"], params_json_schema=schema, on_invoke_tool=invoke
        )
        assert tool.strict_json_schema and tool.params_json_schema == schema


def test_a_strict_call_sends_null_for_what_it_leaves_unset(kb: KnowledgeBase) -> None:
    suggest = TOOLS["suggest_reply"].strict_parameters()
    names = {"agent_name": None, "customer_name": "Ann", "order_id": None, "store_name": None}
    strict_call = {
        "message": "when will my refund arrive",
        "k": None,
        "filters": None,
        "history": None,
        "context": names,
        "tone": None,
    }
    jsonschema.validate(strict_call, suggest)
    with pytest.raises(jsonschema.ValidationError):  # every property must be sent
        jsonschema.validate({"message": "when will my refund arrive"}, suggest)
    out = call_tool(kb, "suggest_reply", json.dumps(strict_call))["result"]
    plain = call_tool(
        kb, "suggest_reply", {"message": "when will my refund arrive", "context": {"customer_name": "Ann"}}
    )
    assert out["drafts"] == plain["result"]["drafts"] and "Ann" in out["drafts"][0]["text"]
    filtered = {"locale": "zh-CN", "type": None, "tags": None, "products": None, "channel": None, "today": None}
    search = {"message": "退款", "k": 2, "filters": filtered, "history": None}
    jsonschema.validate(search, TOOLS["search_knowledge_base"].strict_parameters())
    answers = call_tool(kb, "search_knowledge_base", search)["result"]["answers"]
    assert answers and {a["locale"] for a in answers} == {"zh-CN"}


# --- compact results ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["search_knowledge_base", "suggest_reply"])
def test_compact_results_drop_section_texts_and_match_their_output_schema(kb: KnowledgeBase, name: str) -> None:
    arguments = {"message": "when will my refund arrive"}
    full, compact = (call_tool(kb, name, arguments, compact=c) for c in (False, True))
    jsonschema.validate(full, TOOLS[name].output_schema(compact=False))
    jsonschema.validate(compact, TOOLS[name].output_schema(compact=True))
    assert all("text" in a for a in full["result"]["answers"])
    assert not [a for a in compact["result"]["answers"] if "text" in a]
    firsts = [(a["section_id"], a["snippet"]) for a in (full["result"]["answers"][0], compact["result"]["answers"][0])]
    assert firsts[0] == firsts[1]
    assert len(json.dumps(compact)) < 0.7 * len(json.dumps(full))


SHIPPING_TALK = [
    {"role": "customer", "text": "how much is standard shipping"},
    {"role": "agent", "text": "Standard is $5.95, free over $49."},
]


def test_the_tools_take_the_conversation_s_history(kb: KnowledgeBase) -> None:
    out = call_tool(kb, "suggest_reply", {"message": "and express?", "history": SHIPPING_TALK})
    suggestion = out["result"]
    assert suggestion["conversation"]["kind"] == "follow_up" and suggestion["answers"][0]["article_id"] == "shipping"
    out = call_tool(kb, "search_knowledge_base", {"message": "and express?", "history": SHIPPING_TALK})
    assert out["result"]["answers"][0]["article_id"] == "shipping"
    bad = call_tool(kb, "suggest_reply", {"message": "and express?", "history": [{"role": "bot", "text": "hi"}]})
    assert bad["error"]["type"] == "invalid_arguments" and "history.0.role" in bad["error"]["message"]
    long = call_tool(kb, "search_knowledge_base", {"message": "x", "history": [{"role": "agent", "text": "a" * 7000}]})
    assert long["error"]["type"] == "invalid_arguments" and "over the limit" in long["error"]["message"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """Two knowledge bases: 'en' (refunds, shipping) and 'zh' (Chinese returns only)."""
    root = tmp_path_factory.mktemp("fleet")
    en = write_articles(root / "en-articles", {"refunds.md": REFUND, "shipping.md": SHIPPING})
    zh = write_articles(root / "zh-articles", {"zh.md": RETURNS_ZH})
    for articles, name in ((en, "en"), (zh, "zh")):
        KnowledgeBase.build(articles, root / "kbs" / name, settings=Settings(model="hashing"))
    return Registry.from_folder(root / "kbs", settings=Settings(model="hashing"))


def test_with_several_knowledge_bases_every_tool_takes_kb(fleet: Registry) -> None:
    for spec in anthropic_tools(feedback=True, many=True):
        assert "kb" in spec["input_schema"]["required"]
    for spec in openai_strict_tools(many=True):
        schema = spec["function"]["parameters"]
        assert "kb" in schema["required"] and ensure_strict_json_schema(deepcopy(schema)) == schema
    assert all("kb" not in spec["input_schema"]["properties"] for spec in anthropic_tools())
    first = {
        name: call_tool(fleet, "search_knowledge_base", {"kb": name, "message": "refund", "k": 1})
        for name in fleet.names
    }
    assert first["en"]["result"]["answers"][0]["article_id"] == "refunds"
    assert first["zh"]["result"]["answers"][0]["article_id"] == "returns-zh"
    suggestion = call_tool(fleet, "suggest_reply", {"kb": "en", "message": "how much is express shipping"})
    assert suggestion["result"]["answers"][0]["article_id"] == "shipping"
    recorded = call_tool(
        fleet,
        "record_feedback",
        {"kb": "en", "suggestion_id": suggestion["result"]["id"], "outcome": "accepted"},
        feedback=True,
    )
    assert recorded["result"]["outcome"] == "accepted"
    missing = call_tool(fleet, "search_knowledge_base", {"message": "refund"})
    assert missing["error"]["type"] == "invalid_arguments" and "kb: Field required" in missing["error"]["message"]
    unknown = call_tool(fleet, "search_knowledge_base", {"kb": "fr", "message": "refund"})
    assert unknown["error"] == {
        "type": "unknown_knowledge_base",
        "message": "no knowledge base named 'fr'. Fix: use one of en, zh",
    }


def test_a_registry_of_one_knowledge_base_takes_no_kb(fleet: Registry) -> None:
    one = Registry({"en": fleet.source.paths["en"]}, settings=Settings(model="hashing"))
    found = call_tool(one, "search_knowledge_base", {"message": "refund", "k": 1})
    assert found["result"]["answers"][0]["article_id"] == "refunds"
    assert call_tool(one, "search_knowledge_base", {"kb": "en", "message": "refund"})["error"]["type"] == (
        "invalid_arguments"
    )
