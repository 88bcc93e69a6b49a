"""The HTTP service on a real uvicorn bound to 127.0.0.1, driven with httpx, and with a client generated from its
live `/openapi.json` by openapi-python-client (a real generator, run as users run it)."""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from kbsuggest.cli import _parser, main
from kbsuggest.errors import InputError
from kbsuggest.kb import MAX_MESSAGE_CHARS, KnowledgeBase
from kbsuggest.registry import Registry
from kbsuggest.surfaces import http
from kbsuggest.surfaces.http import (
    DOCS_ASSETS,
    ERROR_STATUSES,
    HEADER_READ_TIMEOUT,
    MAX_BODY_BYTES,
    create_app,
    server_config,
)
from tests.conftest import HASHING, HASHING_ENV

KEY = "s3cret-key"
JSON = {"content-type": "application/json"}


@contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """Serve `app` with uvicorn in a thread on a free 127.0.0.1 port; yield its base URL; shut it down."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(server_config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        assert not thread.is_alive()


def article(n: int, version: int) -> str:
    """Article `n` at index version `version`: every section says which version it is."""
    return (
        f"---\nid: topic-{n}\ntype: policy\n---\n# Topic {n}: {TOPICS[n]}\n\n"
        f"## About {TOPICS[n]}\n\nEverything about {TOPICS[n]}. Index version V{version}.\n\n"
        f"## More on {TOPICS[n]}\n\nDetails and exceptions for {TOPICS[n]}. Index version V{version}.\n"
    )


TOPICS = ["refunds and money back", "shipping and delivery", "returns and exchanges", "sizes and fit", "gift cards"]


def write_version(articles: Path, version: int) -> None:
    articles.mkdir(parents=True, exist_ok=True)
    for n in range(len(TOPICS)):
        (articles / f"topic-{n}.md").write_text(article(n, version), encoding="utf-8")


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    write_version(tmp_path / "articles", 1)
    KnowledgeBase.build(tmp_path / "articles", tmp_path / "ix", settings=HASHING)
    return tmp_path / "ix"


@pytest.fixture
def base_url(index_dir: Path) -> Iterator[str]:
    with running(create_app(index_dir, settings=HASHING)) as url:
        yield url


def test_search_and_suggest_take_the_conversation_s_history(base_url: str) -> None:
    history = [{"role": "customer", "text": "tell me about gift cards"}, {"role": "agent", "text": "Sure."}]
    with httpx.Client(base_url=base_url) as client:
        r = client.post("/v1/suggest", json={"message": "and what about them?", "history": history})
        assert r.status_code == 200, r.text
        assert r.json()["conversation"]["kind"] == "follow_up" and r.json()["answers"][0]["article_id"] == "topic-4"
        r = client.post("/v1/search", json={"message": "and what about them?", "history": history, "k": 1})
        assert r.status_code == 200 and r.json()["answers"][0]["article_id"] == "topic-4"
        r = client.post("/v1/search", json={"message": "hi", "history": [{"role": "agent"}]})
        assert r.status_code == 422 and "history" in r.json()["error"]["message"]


def versions(answers: list[dict[str, Any]]) -> set[str]:
    return {word.strip(".") for a in answers for word in a["text"].split() if word.startswith("V")}


def test_search_suggest_health_and_openapi(base_url: str, index_dir: Path) -> None:
    with httpx.Client(base_url=base_url) as client:
        r = client.post("/v1/search", json={"message": "when do I get my money back", "k": 2})
        assert r.status_code == 200, r.text
        answers = r.json()["answers"]
        assert len(answers) == 2 and answers[0]["article_id"] == "topic-0" and versions(answers) == {"V1"}

        r = client.post(
            "/v1/suggest",
            json={"message": "gift cards?", "context": {"customer_name": "Ann"}, "tone": "formal", "k": 1},
        )
        assert r.status_code == 200, r.text
        suggestion = r.json()
        assert suggestion["answers"][0]["article_id"] == "topic-4"
        assert suggestion["drafts"][0]["tone"] == "formal" and "Ann" in suggestion["drafts"][0]["text"]

        health = client.get("/healthz").json()
        kb = KnowledgeBase.load(index_dir, settings=HASHING)
        assert health["status"] == "ok" and health["articles"] == 5 and health["sections"] == len(kb.sections)
        assert health["built_at"] == kb.manifest.built_at.isoformat().replace("+00:00", "Z")

        spec = client.get("/openapi.json").json()
        assert {"/v1/search", "/v1/suggest", "/v1/reload", "/healthz"} <= set(spec["paths"])
        assert spec["components"]["securitySchemes"]["APIKeyHeader"] == {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "Needed when the service has a key.",
        }
        assert client.get("/docs").status_code == 200

        r = client.get("/nowhere")
        assert r.status_code == 404 and r.json()["error"]["type"] == "not_found"


def test_api_key_is_needed_on_v1_routes_when_set(index_dir: Path) -> None:
    body = {"message": "refund"}
    with running(create_app(index_dir, api_key=KEY, settings=HASHING)) as url, httpx.Client(base_url=url) as client:
        for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": KEY + "x"}, {"X-API-Key": ""}):
            for path in ("/v1/search", "/v1/suggest", "/v1/reload"):
                r = client.post(path, json=body, headers=headers)
                assert r.status_code == 401, (path, headers)
                assert r.json() == {"error": {"type": "unauthorized", "message": "missing or wrong X-API-Key header"}}
        assert client.post("/v1/search", json=body, headers={"X-API-Key": KEY}).status_code == 200
        assert client.post("/v1/reload", headers={"X-API-Key": KEY, **JSON}).status_code == 200
        assert client.get("/healthz").status_code == 200


def test_an_empty_key_is_refused_rather_than_letting_everyone_in(index_dir: Path) -> None:
    with pytest.raises(InputError, match="the API key is empty"):
        create_app(index_dir, api_key="", settings=HASHING)


def test_an_empty_key_from_the_flag_or_the_environment_refuses_to_start(index_dir: Path) -> None:
    for flag, env_key, named in ((["--api-key", ""], None, "--api-key"), ([], "  ", "KBSUGGEST_API_KEY")):
        env = {k: v for k, v in HASHING_ENV.items() if k != "KBSUGGEST_API_KEY"}
        if env_key is not None:
            env["KBSUGGEST_API_KEY"] = env_key
        # Were the key taken as "no key", the server would start and serve until the timeout.
        done = subprocess.run(
            [sys.executable, "-m", "kbsuggest.cli", "serve", "--index", str(index_dir), "--port", "0", *flag],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert f"error: {named} is empty, which would turn authentication off" in done.stderr
    with pytest.raises(InputError, match="the API key is empty"):
        create_app(index_dir, api_key=" \t", settings=HASHING)


def test_no_key_needed_when_none_is_set(base_url: str) -> None:
    r = httpx.post(f"{base_url}/v1/search", json={"message": "refund"}, headers={"X-API-Key": "anything"})
    assert r.status_code == 200


def test_cli_takes_the_key_from_the_environment_and_binds_to_localhost(
    index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(http, "serve", lambda index, **kwargs: served.update(index=index, **kwargs))
    monkeypatch.setenv("KBSUGGEST_API_KEY", "from-env")
    assert main(["serve", "--index", str(index_dir)]) == 0
    assert served == {
        "index": index_dir,
        "registry": None,
        "kb_keys": None,
        "host": "127.0.0.1",
        "port": 8000,
        "api_key": "from-env",
    }
    assert main(["serve", "--index", str(index_dir), "--api-key", "flag", "--port", "9"]) == 0
    assert served["api_key"] == "flag" and served["port"] == 9
    assert _parser().parse_args(["serve", "--index", "ix"]).host == "127.0.0.1"


def test_cli_serve_on_a_port_in_use_fails(index_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = subprocess.run(
            [sys.executable, "-m", "kbsuggest.cli", "serve", "--index", str(index_dir), "--port", port],
            env=HASHING_ENV,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 3  # uvicorn's startup failure
    assert f"error while attempting to bind on address ('127.0.0.1', {port}): address already in use" in done.stderr


def test_cli_serve_with_a_missing_index_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBSUGGEST_MODEL", "hashing")
    assert main(["serve", "--index", str(tmp_path / "none"), "--port", "0"]) == 2
    assert "holds no index" in capsys.readouterr().err


def test_oversized_bodies_get_413(base_url: str) -> None:
    big = {"message": "x" * (MAX_BODY_BYTES + 1)}
    with httpx.Client(base_url=base_url) as client:
        r = client.post("/v1/search", json=big)
        assert r.status_code == 413
        assert r.json()["error"] == {"type": "payload_too_large", "message": "the request body is over 65536 bytes"}

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold on the streamed bytes too
            yield b'{"message": "'
            for _ in range(80):
                yield b"x" * 1024
            yield b'"}'

        r = client.post("/v1/search", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["type"] == "payload_too_large"
        # Just under the limit still reaches validation (and fails there on the message length instead).
        r = client.post("/v1/search", json={"message": "x" * (MAX_BODY_BYTES - 100)})
        assert r.status_code == 422


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"message": "x" * (MAX_MESSAGE_CHARS + 1)}, "body.message: String should have at most 4000 characters"),
        ({"message": "   "}, "the message is empty"),
        ({"message": "refund", "k": 0}, "body.k: Input should be greater than or equal to 1"),
        ({"message": "refund", "filters": {"lang": "en"}}, "body.filters.lang: Extra inputs are not permitted"),
        ({"k": 3}, "body.message: Field required"),
        ("not json", "JSON decode error"),
    ],
)
def test_bad_requests_get_422_with_a_json_error(base_url: str, body: Any, says: str) -> None:
    kwargs: dict[str, Any] = {"json": body} if isinstance(body, dict) else {"content": body}
    r = httpx.post(f"{base_url}/v1/suggest", headers={"content-type": "application/json"}, **kwargs)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["type"] == "invalid_arguments" and says in error["message"], error


def test_reload_serves_the_rebuilt_index_and_keeps_the_old_one_if_the_new_cannot_load(
    base_url: str, index_dir: Path
) -> None:
    articles = index_dir.parent / "articles"
    with httpx.Client(base_url=base_url) as client:
        before = client.get("/healthz").json()
        write_version(articles, 2)
        (articles / "topic-9.md").write_text("---\nid: loyalty\n---\n# Loyalty points\n\nPoints never expire.\n")
        KnowledgeBase.build(articles, index_dir, settings=HASHING)
        assert versions(client.post("/v1/search", json={"message": "gift cards"}).json()["answers"]) == {"V1"}

        r = client.post("/v1/reload", headers=JSON)
        assert r.status_code == 200
        assert r.json()["articles"] == 6 and r.json()["built_at"] > before["built_at"]
        assert client.get("/healthz").json() == r.json()
        assert versions(client.post("/v1/search", json={"message": "gift cards"}).json()["answers"]) == {"V2"}

        (index_dir / "manifest.json").write_text("{not json")
        r = client.post("/v1/reload", headers=JSON)
        assert r.status_code == 500
        assert r.json()["error"]["type"] == "knowledge_base_error" and "manifest.json is unreadable" in r.text
        assert client.post("/v1/search", json={"message": "gift cards"}).status_code == 200


def test_hundreds_of_concurrent_requests_across_rebuilds_and_reloads(base_url: str, index_dir: Path) -> None:
    articles = index_dir.parent / "articles"
    messages = ["refund money back", "delivery time", "exchange a return", "what size fits", "gift card balance"]
    reloads_done = threading.Event()

    def client_loop(worker: int) -> list[tuple[int, set[str]]]:
        seen: list[tuple[int, set[str]]] = []
        after_last_reload = 0  # requests sent once the last reload had finished: they must see V5
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while len(seen) < 13 or not after_last_reload:
                reloaded = reloads_done.is_set()
                route = "/v1/search" if len(seen) % 2 else "/v1/suggest"
                r = client.post(route, json={"message": messages[(worker + len(seen)) % 5], "k": 3})
                seen.append((r.status_code, versions(r.json()["answers"]) if r.status_code == 200 else set()))
                after_last_reload += reloaded
        return seen

    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(client_loop, worker) for worker in range(16)]
        try:
            with httpx.Client(base_url=base_url) as admin:
                for version in range(2, 6):
                    time.sleep(0.05)
                    write_version(articles, version)
                    KnowledgeBase.build(articles, index_dir, settings=HASHING)
                    assert admin.post("/v1/reload", headers=JSON).status_code == 200
        finally:
            reloads_done.set()
        results = [seen for future in futures for seen in future.result()]
    seen_versions = {marks for _, found in results for marks in found}

    print(f"{len(results)} requests, versions seen: {sorted(seen_versions)}")
    assert len(results) >= 200
    assert [status for status, _ in results if status != 200] == []
    mixed = [marks for _, marks in results if len(marks) != 1]
    assert mixed == [], "an answer list mixed index versions"
    assert {"V1", "V5"} <= seen_versions


def test_feedback_round_trip(base_url: str, index_dir: Path) -> None:
    with httpx.Client(base_url=base_url) as client:
        suggestion = client.post("/v1/suggest", json={"message": "gift cards?"}).json()
        r = client.post("/v1/feedback", json={"suggestion_id": suggestion["id"], "outcome": "edited", "agent": "kim"})
        assert r.status_code == 200, r.text
        assert r.json()["outcome"] == "edited" and r.json()["agent"] == "kim"
        r = client.post("/v1/feedback", json={"suggestion_id": "nope", "outcome": "accepted"})
        assert r.status_code == 422 and "no suggestion" in r.json()["error"]["message"]
        assert client.post("/v1/feedback", json={"suggestion_id": "x", "outcome": "meh"}).status_code == 422


def _read_response(client: socket.socket) -> str:
    """Read one HTTP response whole: its headers and its body may arrive in separate packets."""
    data = b""
    while True:
        head, ended, body = data.partition(b"\r\n\r\n")
        length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
        if ended and length and len(body) >= int(length.group(1)):
            return data.decode()
        chunk = client.recv(4096)
        if not chunk:
            return data.decode()
        data += chunk


def test_a_client_that_sends_its_body_too_slowly_gets_408(index_dir: Path) -> None:
    app = create_app(index_dir, settings=HASHING, body_timeout=0.5)
    with running(app) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as client:
            client.sendall(
                b"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"message": "re'
            )
            reply = _read_response(client)  # the server's 408, well before this socket's 5 s timeout ends the wait
        assert reply.startswith("HTTP/1.1 408") and "request_timeout" in reply


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"message": "refund", "k": "3"}, "body.k: Input should be a valid integer"),
        ({"message": "refund", "k": True}, "body.k: Input should be a valid integer"),
        ({"message": "refund", "k": 2.0}, "body.k: Input should be a valid integer"),
        ({"message": "refund", "filters": {"today": 0}}, "today must be a date written YYYY-MM-DD, not 0"),
        ({"message": "refund", "filters": {"today": "86400"}}, "today must be a date written YYYY-MM-DD"),
    ],
)
def test_arguments_are_not_coerced(base_url: str, body: dict[str, Any], says: str) -> None:
    for route in ("/v1/search", "/v1/suggest"):
        r = httpx.post(f"{base_url}{route}", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["type"] == "invalid_arguments" and says in r.json()["error"]["message"]
    assert httpx.post(
        f"{base_url}/v1/search", json={"message": "refund", "filters": {"today": "2026-01-01"}}
    ).is_success


def test_the_key_is_checked_before_the_body_is_read(index_dir: Path) -> None:
    with running(create_app(index_dir, api_key=KEY, settings=HASHING)) as url:
        r = httpx.post(f"{url}/v1/suggest", content=b"{not json", headers=JSON)
        assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized"
        r = httpx.post(f"{url}/v1/suggest", json={"message": "x" * (MAX_BODY_BYTES + 1)})
        assert r.status_code == 401
        # Headers announcing a body that never comes: the answer is 401 at once, not a wait for the body.
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as client:
            client.sendall(b"POST /v1/search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n")
            client.sendall(b"Content-Length: 100\r\n\r\n")
            reply = _read_response(client)
        assert reply.startswith("HTTP/1.1 401") and "unauthorized" in reply


def test_without_a_key_cross_site_posts_and_foreign_hosts_are_refused(base_url: str, index_dir: Path) -> None:
    before = httpx.get(f"{base_url}/healthz").json()
    KnowledgeBase.build(index_dir.parent / "articles", index_dir, settings=HASHING)
    # What a page on another site can send without a CORS preflight: a form, text/plain, or no body at all.
    for headers in ({"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"}, {}):
        r = httpx.post(f"{base_url}/v1/reload", content=b'{"a": 1}' if headers else b"", headers=headers)
        assert r.status_code == 415, (headers, r.text)
        assert r.json()["error"]["type"] == "unsupported_media_type"
    r = httpx.post(f"{base_url}/v1/search", content=b'{"message": "refund"}', headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert httpx.get(f"{base_url}/healthz").json() == before, "a refused reload reloaded"

    port = base_url.rsplit(":", 1)[1]
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", "[::2]"):  # DNS rebinding
        r = httpx.post(f"{base_url}/v1/reload", headers={"host": host, **JSON})
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_host", host
        assert httpx.get(f"{base_url}/healthz", headers={"host": host}).status_code == 400
    for host in (f"localhost:{port}", f"LOCALHOST:{port}", "127.0.0.1", f"[::1]:{port}"):
        r = httpx.post(f"{base_url}/v1/search", json={"message": "refund"}, headers={"host": host})
        assert r.status_code == 200, (host, r.text)
    r = httpx.post(f"{base_url}/v1/reload", headers={"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 200 and r.json()["built_at"] > before["built_at"]


def test_any_host_is_answered_when_allowed_hosts_is_none(index_dir: Path) -> None:
    with running(create_app(index_dir, allowed_hosts=None, settings=HASHING)) as url:
        assert httpx.get(f"{url}/healthz", headers={"host": "kb.internal.example"}).status_code == 200


@contextmanager
def cli_server(*args: str | Path, open_files: int = 1024) -> Iterator[str]:
    """`kbsuggest serve ARGS --port 0` in a subprocess started with a soft open-files limit of `open_files`; yield
    its URL."""
    command = f'ulimit -Sn {open_files} && exec "$0" -m kbsuggest.cli serve "$@" --port 0'
    server = subprocess.Popen(
        ["sh", "-c", command, sys.executable, *map(str, args)],
        env=HASHING_ENV,
        stdout=subprocess.DEVNULL,  # the access log
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    started = threading.Event()
    url: list[str] = []

    def read_log() -> None:  # drained to the end, so the server never blocks on a full pipe
        assert server.stderr is not None
        for line in server.stderr:
            if found := re.search(r"Uvicorn running on (http://\S+)", line):
                url.append(found.group(1))
                started.set()

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        assert started.wait(60), "kbsuggest serve did not start"
        yield url[0]
    finally:
        server.terminate()
        server.wait(10)
        reader.join(10)
        server.stderr.close()


def test_500_connections_that_never_finish_their_headers_lock_nobody_out(index_dir: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1024:  # this process holds the 500 client sockets
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    # 256 open files: serve must raise its own limit to hold 500 connections at once.
    with cli_server("--index", index_dir, open_files=256) as url, ExitStack() as stack:
        host, port = url.removeprefix("http://").split(":")
        slow = [stack.enter_context(socket.create_connection((host, int(port)), timeout=5)) for _ in range(500)]
        for client in slow:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.")
        # One more finishes a request, then starts the next one and stalls: the deadline holds for that one too.
        stalled_after_one = stack.enter_context(socket.create_connection((host, int(port)), timeout=5))
        stalled_after_one.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert _read_response(stalled_after_one).startswith("HTTP/1.1 200")
        stalled_after_one.sendall(b"POST /v1/sugg")

        with httpx.Client(base_url=url, timeout=5) as client:
            assert client.get("/healthz").status_code == 200
            r = client.post("/v1/suggest", json={"message": "gift cards?"})
            assert r.status_code == 200, r.text
            assert client.get("/healthz", headers={"host": "evil.example"}).status_code == 400  # bound to loopback
        for client in slow:  # still open when those answers came: the server had not yet dropped them
            client.setblocking(False)
            with pytest.raises(BlockingIOError):
                client.recv(1, socket.MSG_PEEK)

        for client in [*slow, stalled_after_one]:  # dropped once their headers are overdue
            client.settimeout(HEADER_READ_TIMEOUT + 30)
            with suppress(ConnectionResetError):
                assert client.recv(1024) == b""


def generate_client(spec: str, folder: Path) -> Any:
    """The package openapi-python-client generates from `spec` (no post-hooks: ruff is not needed), imported."""
    (folder / "openapi.json").write_text(spec, encoding="utf-8")
    (folder / "config.yaml").write_text("post_hooks: []\n", encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", "openapi.json", "--meta", "none",
         "--output-path", "kbsuggest_client", "--config", "config.yaml"],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    sys.path.insert(0, str(folder))
    try:
        importlib.invalidate_caches()
        return importlib.import_module("kbsuggest_client")
    finally:
        sys.path.remove(str(folder))


@pytest.fixture
def clean_modules() -> Any:
    yield
    for name in [n for n in sys.modules if n == "kbsuggest_client" or n.startswith("kbsuggest_client.")]:
        del sys.modules[name]


def test_a_client_generated_from_the_live_openapi_parses_answers_and_errors(
    index_dir: Path, tmp_path: Path, clean_modules: None
) -> None:
    with running(create_app(index_dir, api_key=KEY, settings=HASHING)) as url:
        generate_client(httpx.get(f"{url}/openapi.json").text, tmp_path)
        from kbsuggest_client import Client  # type: ignore[import-not-found]
        from kbsuggest_client.api.default import (  # type: ignore[import-not-found]
            health,
            record_feedback,
            reload,
            search,
            suggest,
        )
        from kbsuggest_client.models import (  # type: ignore[import-not-found]
            ErrorResponse,
            FeedbackArgs,
            FeedbackArgsOutcome,
            ReloadArgs,
            SearchArgs,
            SuggestArgs,
            SuggestArgsContextType0,
            SuggestArgsTone,
        )

        # raise_on_unexpected_status: a status the OpenAPI does not document raises instead of parsing as None.
        with Client(base_url=url, headers={"X-API-Key": KEY}, raise_on_unexpected_status=True) as client:
            found = search.sync(client=client, body=SearchArgs(message="when do I get my money back", k=2))
            assert [a.article_id for a in found.answers][:1] == ["topic-0"] and len(found.answers) == 2

            context = SuggestArgsContextType0.from_dict({"customer_name": "Ann"})
            body = SuggestArgs(message="gift cards?", k=1, tone=SuggestArgsTone.FORMAL, context=context)
            suggestion = suggest.sync(client=client, body=body)
            assert suggestion.answers[0].article_id == "topic-4" and "Ann" in suggestion.drafts[0].text
            verdict = record_feedback.sync(
                client=client, body=FeedbackArgs(suggestion_id=suggestion.id, outcome=FeedbackArgsOutcome.ACCEPTED)
            )
            assert verdict.suggestion_id == suggestion.id and verdict.outcome.value == "accepted"
            assert reload.sync(client=client, body=ReloadArgs()).articles == health.sync(client=client).articles == 5

            invalid = suggest.sync_detailed(client=client, body=SuggestArgs(message="gift cards?", k=0))
            assert invalid.status_code == 422 and isinstance(invalid.parsed, ErrorResponse)
            assert invalid.parsed.error.type_ == "invalid_arguments"
            assert "body.k: Input should be greater than or equal to 1" in invalid.parsed.error.message

            unknown = record_feedback.sync_detailed(
                client=client, body=FeedbackArgs(suggestion_id="nope", outcome=FeedbackArgsOutcome.REJECTED)
            )
            assert unknown.status_code == 422 and "no suggestion" in unknown.parsed.error.message

        async def ask_without_the_key() -> Any:
            async with Client(base_url=url, raise_on_unexpected_status=True) as anonymous:
                return await search.asyncio_detailed(client=anonymous, body=SearchArgs(message="refund"))

        refused = asyncio.run(ask_without_the_key())
        assert refused.status_code == 401 and isinstance(refused.parsed, ErrorResponse)
        assert refused.parsed.error.type_ == "unauthorized"


def test_every_operation_documents_the_error_model_and_has_a_plain_id(base_url: str) -> None:
    spec = httpx.get(f"{base_url}/openapi.json").json()
    operations = {op["operationId"]: op for path in spec["paths"].values() for op in path.values()}
    assert set(operations) == {"search", "suggest", "record_feedback", "reload", "health"}
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for name, op in operations.items():
        errors = {int(status) for status in op["responses"]} - {200}
        assert errors <= set(ERROR_STATUSES) and {400, 408, 413, 500, 503} <= errors, name
        for status in errors:
            assert op["responses"][str(status)]["content"]["application/json"]["schema"] == error_ref, (name, status)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["ErrorResponse"]["required"] == ["error"]


def test_the_docs_pages_load_their_scripts_from_the_service(index_dir: Path) -> None:
    with running(create_app(index_dir, api_key=KEY, settings=HASHING)) as url, httpx.Client(base_url=url) as client:
        for page, wanted in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
            html = client.get(page).text
            loaded = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]""", html)
            assert any(link.endswith(wanted) for link in loaded), html
            assert not [link for link in loaded if not link.startswith(f"{DOCS_ASSETS}/")], "loaded from elsewhere"
            assert "fonts.googleapis" not in html and "cdn." not in html
            for link in loaded:  # served without the key, as a browser fetches them
                r = client.get(link)
                assert r.status_code == 200 and len(r.content) > 1000, link


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text parsed by prometheus_client: (sample name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_requests_escalations_and_reloads_and_nothing_quotes_a_message(
    index_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Quokka7731"  # in every message sent, and in a path: it must reach no label and no log
    keyed = {"X-API-Key": KEY}
    with running(create_app(index_dir, api_key=KEY, settings=HASHING)) as url, httpx.Client(base_url=url) as client:
        assert client.get("/metrics").status_code == 401  # the same key as /v1
        reasons = []
        for message in (f"gift cards {secret}?", f"I want a real person now {secret}"):
            r = client.post("/v1/suggest", json={"message": message}, headers=keyed)
            assert r.status_code == 200
            reasons.append(r.json()["escalate_reason"])
        assert client.post("/v1/search", json={"message": f"refund {secret}"}, headers=keyed).status_code == 200
        assert client.post("/v1/search", json={"message": f"refund {secret}"}).status_code == 401
        r = client.post("/v1/search", json={"message": f"refund {secret}", "k": 0}, headers=keyed)
        assert r.status_code == 422
        assert client.get(f"/nowhere/{secret}", headers=keyed).status_code == 404
        assert client.post("/v1/reload", headers={**keyed, **JSON}).status_code == 200
        (index_dir / "manifest.json").write_text("{not json")
        assert client.post("/v1/reload", headers={**keyed, **JSON}).status_code == 500

        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200  # Prometheus'
        assert client.get("/healthz", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        r = client.post("/v1/search", json={"message": "refund"}, headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 401  # the bearer form is for /metrics only
        r = client.get("/metrics", headers=keyed)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    found = samples(r.text)

    def requests(route: str, status: str) -> float:
        return found[("kbsuggest_http_requests_total", (("route", route), ("status", status)))]

    assert requests("/v1/suggest", "200") == 2 and requests("/v1/search", "200") == 1
    assert requests("/v1/search", "401") == 2 and requests("/v1/search", "422") == 1
    assert requests("/metrics", "401") == 2 and requests("/metrics", "200") == 1  # counted before this one
    assert requests("other", "404") == 1
    assert requests("/v1/reload", "200") == requests("/v1/reload", "500") == 1
    assert found[("kbsuggest_http_request_duration_seconds_count", (("route", "/v1/suggest"),))] == 2
    escalations = {
        dict(labels)["reason"]: v for (name, labels), v in found.items() if name == "kbsuggest_escalations_total"
    }
    reasons_known = ("human_requested", "no_answer", "unresolved", "upset_customer", "urgent")
    assert escalations == {reason: reasons.count(reason) for reason in reasons_known}  # every reason, counted
    assert reasons[1] == "human_requested"
    assert found[("kbsuggest_reloads_total", (("outcome", "success"),))] == 1
    assert found[("kbsuggest_reloads_total", (("outcome", "failure"),))] == 1
    assert secret not in r.text

    records = [record for record in caplog.records if record.name == "kbsuggest.surfaces.http"]
    assert {(getattr(record, "route", None), getattr(record, "status", None)) for record in records} >= {
        ("/v1/suggest", "200"),
        ("other", "404"),
        ("/v1/search", "401"),
    }
    for record in caplog.records:
        if record.name.startswith(("httpx", "httpcore")):
            continue  # this test's client logs its requests' URLs
        assert secret not in record.getMessage() and secret not in repr(vars(record)), record


@pytest.fixture
def fleet(tmp_path: Path) -> Registry:
    """Two knowledge bases whose sections say which one they are (V1 for shop-a, V2 for shop-b)."""
    for name, version in (("shop-a", 1), ("shop-b", 2)):
        write_version(tmp_path / f"articles-{name}", version)
        KnowledgeBase.build(tmp_path / f"articles-{name}", tmp_path / "kbs" / name, settings=HASHING)
    return Registry.from_folder(tmp_path / "kbs", settings=HASHING)


def test_many_knowledge_bases_each_with_its_own_key(fleet: Registry, index_dir: Path) -> None:
    keys = {"shop-a": "key-of-a", "shop-b": "key-of-b"}
    app = create_app(index_dir, registry=fleet, api_key=KEY, kb_keys=keys, settings=HASHING)
    question = {"message": "when do I get my money back", "k": 1}
    with running(app) as url, httpx.Client(base_url=url) as client:
        for name, version in (("shop-a", "V1"), ("shop-b", "V2")):
            r = client.post(f"/v1/kbs/{name}/search", json=question, headers={"X-API-Key": keys[name]})
            assert r.status_code == 200, r.text
            assert versions(r.json()["answers"]) == {version}
        r = client.post("/v1/kbs/shop-b/suggest", json=question, headers={"X-API-Key": keys["shop-a"]})
        assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized"  # a's key does not open b
        r = client.post("/v1/search", json=question, headers={"X-API-Key": keys["shop-a"]})
        assert r.status_code == 401  # nor the single-index routes
        r = client.post("/v1/kbs/shop-b/suggest", json=question, headers={"X-API-Key": KEY})
        assert r.status_code == 200 and versions(r.json()["answers"]) == {"V2"}  # the service key opens all
        r = client.post("/v1/search", json=question, headers={"X-API-Key": KEY})
        assert r.status_code == 200 and versions(r.json()["answers"]) == {"V1"}  # the single index still served
        own = client.post("/v1/kbs/shop-a/suggest", json=question, headers=_key(keys["shop-a"])).json()
        feedback = {"suggestion_id": own["id"], "outcome": "accepted"}
        r = client.post("/v1/kbs/shop-a/feedback", json=feedback, headers=_key(keys["shop-a"]))
        assert r.status_code == 200, r.text
        r = client.post("/v1/kbs/shop-a/reload", headers={**JSON, **_key(keys["shop-a"])})
        assert r.status_code == 200 and r.json()["articles"] == len(TOPICS)
        r = client.post("/v1/kbs/nowhere/search", json=question, headers=_key(KEY))
        assert r.status_code == 404
        assert r.json()["error"] == {
            "type": "unknown_knowledge_base",
            "message": "no knowledge base named 'nowhere'. Fix: use one of shop-a, shop-b",
        }
        r = client.post("/v1/kbs/nowhere/search", json=question, headers=_key(keys["shop-a"]))
        assert r.status_code == 401  # a knowledge base's key learns nothing of the others
        metrics = client.get("/metrics", headers=_key(KEY)).text
    assert 'route="/v1/kbs/{name}/search",status="200"' in metrics  # the route's template, not the name


def _key(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_a_registry_alone_is_served_and_its_health_counts_the_knowledge_bases(fleet: Registry) -> None:
    with running(create_app(registry=fleet)) as url, httpx.Client(base_url=url) as client:
        assert client.get("/healthz").json()["loaded"] == 0
        r = client.post("/v1/kbs/shop-b/search", json={"message": "gift cards", "k": 1})
        assert r.status_code == 200 and versions(r.json()["answers"]) == {"V2"}
        assert client.get("/healthz").json() | {"kbsuggest_version": None} == {
            "status": "ok",
            "knowledge_bases": 2,
            "loaded": 1,
            "kbsuggest_version": None,
        }
        assert client.post("/v1/search", json={"message": "gift cards"}).status_code == 404  # no single index


def test_keys_for_knowledge_bases_not_served_or_blank_are_refused(fleet: Registry) -> None:
    with pytest.raises(InputError, match="keys are given for 'shop-c', which are not served"):
        create_app(registry=fleet, kb_keys={"shop-c": "k"})
    with pytest.raises(InputError, match="the key of knowledge base 'shop-a' is empty"):
        create_app(registry=fleet, kb_keys={"shop-a": " "})
    with pytest.raises(InputError, match="nothing to serve"):
        create_app()


def test_cli_serves_many_knowledge_bases_with_a_keys_file(
    fleet: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, Any] = {}
    monkeypatch.setattr(http, "serve", lambda index, **kwargs: served.update(index=index, **kwargs))
    keys = tmp_path / "keys.json"
    keys.write_text('{"shop-a": "key-of-a"}', encoding="utf-8")
    root = fleet.source.paths["shop-a"].parent
    assert main(["serve", "--kbs", str(root), "--kb", f"extra={root / 'shop-b'}", "--kb-keys", str(keys)]) == 0
    assert served["index"] is None and served["kb_keys"] == {"shop-a": "key-of-a"}
    assert served["registry"].names == ("extra", "shop-a", "shop-b")
    assert served["registry"].source.paths["extra"] == root / "shop-b"
    assert main(["serve", "--kb", "no-equals-sign"]) == 2
    assert main(["serve"]) == 2
