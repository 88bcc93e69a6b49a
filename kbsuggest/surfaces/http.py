"""`kbsuggest serve`: the library over HTTP with FastAPI. OpenAPI at `/openapi.json`, with every error status
(`ErrorResponse`) and plain operation ids (`search`, `suggest`, ...); docs at `/docs` (Swagger UI) and `/redoc`,
their scripts served by the service itself (from fastapi-offline), so they work offline.

    POST /v1/search    SearchArgs  -> {"answers": [Answer, ...]}
    POST /v1/suggest   SuggestArgs -> Suggestion
    POST /v1/feedback  FeedbackArgs -> Feedback
    POST /v1/reload    {} or no body: re-load the index from disk -> Health
    GET  /healthz      Health (no key needed)

Serving many knowledge bases (a `kbsuggest.registry.Registry`, loaded on first use, sharing the models), each
by name, with the same bodies and answers:

    POST /v1/kbs/{name}/search, /v1/kbs/{name}/suggest, /v1/kbs/{name}/feedback, /v1/kbs/{name}/reload

an unknown name gets 404 naming those served. The single-index routes above are served too when an index
folder is given besides the registry; `/healthz` then describes that index, else the registry (`FleetHealth`).
Keys: `api_key` (the service's key) opens every route; `kb_keys` gives a knowledge base a key of its own that
opens its `/v1/kbs/{name}/` routes and nothing else. When any key is set, every route outside `OPEN_PATHS`
needs one: a knowledge base without a key of its own is then reached with the service's key only.
    GET  /metrics      Prometheus metrics (the key when one is set, also as `Authorization: Bearer KEY`)

Request bodies are the tools' argument models (`kbsuggest.tools`). Every error is JSON,
`{"error": {"type": ..., "message": ...}}`. Before the body is read, a request is refused with
400 when its `Host` is not one the service answers to (by default loopback names only, against DNS rebinding),
401 when a key is set and a request outside `OPEN_PATHS` lacks one that opens it in `X-API-Key`, and 415 when a
POST is not `Content-Type: application/json` (so a cross-site form or `text/plain` POST cannot reach a route).
Then 413 for a body over `max_body_bytes`, 408 for a body not sent within `body_timeout` seconds,
503 with over `MAX_CONCURRENT_REQUESTS` requests in flight, 422 for arguments that do not validate
(including too-long messages), 500 for an index that cannot be used.

`server_config` is uvicorn as `serve` runs it: a client must send a request's headers within
`HEADER_READ_TIMEOUT` seconds of connecting (or of its previous response), else the connection is closed, so
idle and slow-header connections cost one file descriptor each for a few seconds and never lock others out.
Idle keep-alive connections close after `KEEP_ALIVE_TIMEOUT` seconds; headers over 16 KiB get 400 (h11's limit).

`/v1/reload` loads the index anew and then swaps the reference in one assignment: requests in flight finish on
the knowledge base they started with, and if the new index cannot be loaded the old one keeps serving.
The endpoints are `async` and await `KnowledgeBase.asearch`/`asuggest`/`arecord_feedback` (and the reload in a
worker thread): the CPU-bound work runs in anyio's worker threads, the event loop keeps answering meanwhile.

`/metrics`: requests by route and status, latency by route, escalations by reason, reloads by outcome. Each
request is also logged (logger `kbsuggest.surfaces.http`, INFO) with `route`, `method`, `status` and
`duration_s` as record fields. Neither ever holds what a client wrote: unknown paths count as route `other`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, MutableMapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import anyio.to_thread
import h11
import uvicorn
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from kbsuggest import __version__
from kbsuggest.config import Settings
from kbsuggest.errors import InputError, KbSuggestError, UnknownKnowledgeBaseError
from kbsuggest.feedback.store import Feedback
from kbsuggest.kb import KnowledgeBase
from kbsuggest.registry import Folder, Registry
from kbsuggest.reply.models import EscalateReason, Suggestion
from kbsuggest.retrieval.models import Answer
from kbsuggest.tools import FeedbackArgs, SearchArgs, SuggestArgs, describe_validation_errors, error

if TYPE_CHECKING:  # the postgres extra: imported by whoever makes a Replica
    from kbsuggest.replica import Replica

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024
BODY_READ_TIMEOUT = 10.0
"""Seconds a client has to send its whole request body, else 408."""
HEADER_READ_TIMEOUT = 5.0
"""Seconds a client has to send a request's headers, from connecting or from its previous response."""
KEEP_ALIVE_TIMEOUT = 5
"""Seconds an idle keep-alive connection stays open."""
MAX_CONCURRENT_REQUESTS = 256
"""Requests past this many in flight (body received, answer not yet sent) get 503."""
OPEN_FILES_WANTED = 65536
"""`serve` raises the soft open-files limit towards this (each connection holds one), up to the hard limit."""
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""The `Host` names a service bound to loopback answers to."""
METRICS_PATH = "/metrics"
"""Prometheus metrics; with an API key set it needs the key, in `X-API-Key` or as `Authorization: Bearer KEY`."""
DOCS_ASSETS = "/docs-assets"
"""Where the Swagger UI and ReDoc scripts `/docs` and `/redoc` load are served from (no CDN: they work offline)."""
OPEN_PATHS = frozenset({"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
"""The paths that need no API key (with those under `DOCS_ASSETS`); every other path does when one is set."""
KB_PREFIX = "/v1/kbs/"
"""The routes of one knowledge base of a registry: `/v1/kbs/{name}/...`."""
_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="Needed when the service has a key.")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ErrorDetail(BaseModel):
    """What went wrong."""

    type: str = Field(description="What kind of error, e.g. `invalid_arguments`; the status's description lists them.")
    message: str = Field(description="What went wrong and how to fix it, with personal data masked.")


class ErrorResponse(BaseModel):
    """Every error the service answers, whatever the status."""

    error: ErrorDetail


ERROR_STATUSES = {
    400: "`invalid_host`: the `Host` header is not a name the service answers to.",
    401: "`unauthorized`: the service has an API key and `X-API-Key` is missing or wrong.",
    404: "`unknown_knowledge_base`: no knowledge base of that name is served; the message names those that are.",
    408: "`request_timeout`: the body did not arrive within the body timeout.",
    413: "`payload_too_large`: the body is over the size limit.",
    415: "`unsupported_media_type`: a POST without `Content-Type: application/json`.",
    422: "`invalid_arguments`: the body is not JSON, or its arguments do not validate.",
    500: "`knowledge_base_error`: the index cannot be used; `internal_error`: a bug, see the server's log.",
    503: "`overloaded`: too many requests in flight; retry shortly.",
}
"""The error statuses a route can answer, as documented in OpenAPI (404 and 405 aside, for unknown routes)."""


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorResponse, "description": ERROR_STATUSES[status]} for status in statuses}


class ReloadArgs(BaseModel):
    """No arguments. The body may be left out; clients generated from the OpenAPI send `{}` (with the JSON
    content type that every POST needs)."""

    model_config = ConfigDict(extra="forbid")


class SearchResponse(BaseModel):
    """The answers to a message, best first."""

    answers: list[Answer]


class Health(BaseModel):
    """What the service is serving."""

    status: str = "ok"
    articles: int
    sections: int
    built_at: datetime
    kbsuggest_version: str


class FleetHealth(BaseModel):
    """What a service of many knowledge bases is serving."""

    status: str = "ok"
    knowledge_bases: int = Field(description="How many knowledge bases are served.")
    loaded: int = Field(description="How many are loaded now (the others load on their first request).")
    kbsuggest_version: str


def _health(kb: KnowledgeBase) -> Health:
    return Health(
        articles=len(kb.articles),
        sections=len(kb.sections),
        built_at=kb.manifest.built_at,
        kbsuggest_version=__version__,
    )


def create_app(
    index_dir: Path | str | Replica | None = None,
    *,
    registry: Registry | None = None,
    api_key: str | None = None,
    kb_keys: Mapping[str, str] | None = None,
    allowed_hosts: Collection[str] | None = LOOPBACK_HOSTS,
    max_body_bytes: int = MAX_BODY_BYTES,
    body_timeout: float = BODY_READ_TIMEOUT,
    settings: Settings | None = None,
) -> FastAPI:
    """The service for the index in `index_dir`, loaded now (raising `KbSuggestError` if it cannot be used), or
    for a `kbsuggest.replica.Replica` (a knowledge base in PostgreSQL, kept current), and for the
    knowledge bases of `registry` at `/v1/kbs/{name}/` (loaded on first use); one of them at least.

    `api_key`: when set, `/v1` routes need it in `X-API-Key`; an empty or blank key raises `InputError`.
    `kb_keys`: knowledge base name -> a key that opens that one's `/v1/kbs/{name}/` routes (and no other).
    `allowed_hosts`: the `Host` names (port ignored) it answers to, None for any; the default suits a
    service bound to loopback. `max_body_bytes`: larger bodies get 413; `body_timeout`: seconds to send
    the body, else 408. `settings`: passed to `KnowledgeBase.load` (default: from `KBSUGGEST_*` variables)."""
    if index_dir is None and registry is None:
        raise InputError("nothing to serve. Fix: pass an index folder, a registry of knowledge bases, or both")
    _check_keys(api_key, kb_keys or {}, registry)
    holder = Folder(Path(index_dir), settings) if isinstance(index_dir, str | Path) else index_dir

    app = FastAPIOffline(
        title="kbsuggest",
        version=__version__,
        description=__doc__,
        static_url=DOCS_ASSETS,
        generate_unique_id_function=lambda route: route.name,  # operation ids: search, suggest, ...
    )
    metrics = _Metrics()
    app.add_middleware(
        RequestGuard,
        api_key=api_key,
        kb_keys=kb_keys,
        allowed_hosts=allowed_hosts,
        max_bytes=max_body_bytes,
        read_timeout=body_timeout,
    )
    app.add_middleware(_Measured, metrics=metrics, routes=app.routes)  # outermost: sees what `RequestGuard` refuses
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(KbSuggestError, _library_error)
    app.add_exception_handler(Exception, _internal_error)
    # Declares the header in OpenAPI only: `RequestGuard` checks the key, before the body is read.
    keyed = [Depends(_KEY_HEADER)]
    every = (400, 408, 413, 500, 503)  # the header, body and load checks, and a failure to answer
    keyed_post = _errors(*every, 401, 415, 422)

    if holder is not None:
        _single_routes(app, holder, metrics, keyed, keyed_post, _errors(*every))
    if registry is not None:
        _registry_routes(app, registry, metrics, keyed, _errors(*every, 401, 404, 415, 422))
    if holder is None and registry is not None:

        @app.get("/healthz", responses=_errors(*every))
        async def health() -> FleetHealth:
            """The knowledge bases being served."""
            return FleetHealth(
                knowledge_bases=len(registry), loaded=len(registry.loaded()), kbsuggest_version=__version__
            )

    @app.get(METRICS_PATH, include_in_schema=False)
    async def prometheus_metrics() -> Response:
        """Prometheus metrics, in its text format."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


Errors = dict[int | str, dict[str, Any]]


def _single_routes(
    app: FastAPI,
    holder: Folder | Replica,
    metrics: _Metrics,
    keyed: list[Any],
    keyed_post: Errors,
    health_errors: Errors,
) -> None:
    """The routes of the one index: /v1/search, /v1/suggest, /v1/feedback, /v1/reload, /healthz."""

    @app.post("/v1/search", dependencies=keyed, responses=keyed_post)
    async def search(args: SearchArgs) -> SearchResponse:
        """The article sections that best answer the message, best first."""
        answers = await holder.kb.asearch(args.message, k=args.k, filters=args.filters, history=args.history)
        return SearchResponse(answers=answers)

    @app.post("/v1/suggest", dependencies=keyed, responses=keyed_post)
    async def suggest(args: SuggestArgs) -> Suggestion:
        """Answers, reply drafts, a confidence and whether to hand the message to a person."""
        suggestion = await holder.kb.asuggest(
            args.message, args.context, args.k, tone=args.tone, filters=args.filters, history=args.history
        )
        if suggestion.escalate_reason is not None:
            metrics.escalations.labels(suggestion.escalate_reason).inc()
        return suggestion

    @app.post("/v1/feedback", dependencies=keyed, responses=keyed_post)
    async def record_feedback(args: FeedbackArgs) -> Feedback:
        """Record an agent's verdict on a suggestion (accepted, edited or rejected)."""
        return await holder.kb.arecord_feedback(**args.model_dump())

    @app.post("/v1/reload", dependencies=keyed, responses=keyed_post)
    async def reload(args: ReloadArgs | None = None) -> Health:
        """Load the index from disk again and serve it; on failure the previous index keeps serving."""
        try:
            kb = await anyio.to_thread.run_sync(holder.reload)
        except Exception as exc:
            metrics.reloads.labels("failure").inc()
            log.warning("reload failed; the previous index keeps serving: %s", exc)
            raise
        metrics.reloads.labels("success").inc()
        return _health(kb)

    @app.get("/healthz", responses=health_errors)
    async def health() -> Health:
        """The index being served."""
        return _health(holder.kb)


def _registry_routes(app: FastAPI, registry: Registry, metrics: _Metrics, keyed: list[Any], errors: Errors) -> None:
    """/v1/kbs/{name}/search, suggest, feedback and reload: the single-index routes, per knowledge base."""

    async def loaded(name: str) -> KnowledgeBase:
        return await anyio.to_thread.run_sync(registry.get, name)  # an unknown name is refused before any work

    @app.post("/v1/kbs/{name}/search", dependencies=keyed, responses=errors)
    async def kb_search(name: str, args: SearchArgs) -> SearchResponse:
        """The article sections of knowledge base `name` that best answer the message, best first."""
        kb = await loaded(name)
        return SearchResponse(
            answers=await kb.asearch(args.message, k=args.k, filters=args.filters, history=args.history)
        )

    @app.post("/v1/kbs/{name}/suggest", dependencies=keyed, responses=errors)
    async def kb_suggest(name: str, args: SuggestArgs) -> Suggestion:
        """Answers from knowledge base `name`, reply drafts, a confidence and whether to hand over."""
        kb = await loaded(name)
        suggestion = await kb.asuggest(
            args.message, args.context, args.k, tone=args.tone, filters=args.filters, history=args.history
        )
        if suggestion.escalate_reason is not None:
            metrics.escalations.labels(suggestion.escalate_reason).inc()
        return suggestion

    @app.post("/v1/kbs/{name}/feedback", dependencies=keyed, responses=errors)
    async def kb_record_feedback(name: str, args: FeedbackArgs) -> Feedback:
        """Record an agent's verdict on a suggestion of knowledge base `name`."""
        kb = await loaded(name)
        return await kb.arecord_feedback(**args.model_dump())

    @app.post("/v1/kbs/{name}/reload", dependencies=keyed, responses=errors)
    async def kb_reload(name: str, args: ReloadArgs | None = None) -> Health:
        """Load knowledge base `name` again; on failure what was served keeps serving."""
        await anyio.to_thread.run_sync(registry.check, name)  # an unknown name is not a failed reload
        try:
            kb = await anyio.to_thread.run_sync(registry.reload, name)
        except Exception as exc:
            metrics.reloads.labels("failure").inc()
            log.warning("reload of %s failed; what was served keeps serving: %s", name, exc)
            raise
        metrics.reloads.labels("success").inc()
        return _health(kb)


def _check_keys(api_key: str | None, kb_keys: Mapping[str, str], registry: Registry | None) -> None:
    """Refuse a blank key (it would let everyone in) and a key for a knowledge base not served."""
    for name, key in (("the API key", api_key), *((f"the key of knowledge base {n!r}", k) for n, k in kb_keys.items())):
        if key is not None and not key.strip():
            raise InputError(f"{name} is empty, which would let everyone in. Fix: pass a long random key, or None")
    unknown = sorted(name for name in kb_keys if registry is None or name not in registry)
    if unknown:
        raise InputError(f"keys are given for {', '.join(map(repr, unknown))}, which are not served. Fix: remove them")


def server_config(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for the service: the header timeout, the keep-alive timeout, no websockets.
    `options`: further `uvicorn.Config` arguments (e.g. `log_level`)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_HeaderTimeoutH11Protocol,
        ws="none",
        lifespan="off",
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
        **options,
    )


def serve(
    index_dir: Path | str | Replica | None = None,
    *,
    registry: Registry | None = None,
    kb_keys: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
) -> None:
    """Load the index (and serve the registry's knowledge bases, as `create_app`) with uvicorn until
    interrupted. Bound to a loopback address, it answers only to loopback `Host` names; bound to any other,
    to every name."""
    allowed_hosts = LOOPBACK_HOSTS | {host} if is_loopback(host) else None
    app = create_app(index_dir, registry=registry, kb_keys=kb_keys, api_key=api_key, allowed_hosts=allowed_hosts)
    _raise_open_files_limit()
    uvicorn.Server(server_config(app, host=host, port=port)).run()


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address to bind) is this machine only."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _raise_open_files_limit() -> None:
    if sys.platform == "win32":
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(OPEN_FILES_WANTED, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


class _HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for each request's headers: armed when the connection opens and
    after each response, it closes the connection if by then no complete request line and headers arrived."""

    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
        if not self.transport.is_closing():
            self._header_deadline = self.loop.call_later(HEADER_READ_TIMEOUT, self._headers_overdue)

    def _headers_overdue(self) -> None:
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.debug("closed a connection that sent no complete headers in %g s", HEADER_READ_TIMEOUT)
            self.transport.close()


def _json_error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(error(kind, message), status_code=status)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    kinds = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
    return _json_error(exc.status_code, kinds.get(exc.status_code, "http_error"), str(exc.detail))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _json_error(422, "invalid_arguments", describe_validation_errors(exc.errors()))


async def _library_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, UnknownKnowledgeBaseError):
        return _json_error(404, "unknown_knowledge_base", str(exc))
    if isinstance(exc, InputError):
        return _json_error(422, "invalid_arguments", str(exc))
    return _json_error(500, "knowledge_base_error", str(exc))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    return _json_error(500, "internal_error", "the server failed to answer; see its log")


class _Metrics:
    """The service's Prometheus metrics, in a registry of its own (so several apps can share a process).
    Labels are routes, statuses, escalation reasons and outcomes: never anything a client wrote."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kbsuggest_http_requests",
            "HTTP requests answered, by route (`other` for unknown paths) and status (`none`: the client left).",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "kbsuggest_http_request_duration_seconds",
            "Time from a request's headers to the end of its answer, by route.",
            ["route"],
            registry=self.registry,
        )
        self.escalations = Counter(
            "kbsuggest_escalations", "Suggestions handed to a person, by reason.", ["reason"], registry=self.registry
        )
        self.reloads = Counter(
            "kbsuggest_reloads", "Index reloads (`/v1/reload`), by outcome.", ["outcome"], registry=self.registry
        )
        for reason in get_args(EscalateReason):  # every series from the start, at 0
            self.escalations.labels(reason)
        for outcome in ("success", "failure"):
            self.reloads.labels(outcome)


class _Measured:
    """Counts and times every HTTP request, those `RequestGuard` refuses included, and logs one record for each with
    the route, status and duration as fields (`extra`): never the body, which holds the customer's message."""

    def __init__(self, app: ASGIApp, metrics: _Metrics, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = "none"

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception:
            if status == "none":
                status = "500"  # answered by Starlette's ServerErrorMiddleware, outside this one
            raise
        finally:
            elapsed = time.perf_counter() - started
            # The route's template (`/v1/kbs/{name}/search`): never a name a client wrote.
            matched = (r.path for r in self.routes if isinstance(r, Route) and r.path_regex.fullmatch(scope["path"]))
            route = next(matched, "other")
            self.metrics.requests.labels(route, status).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            fields = {"route": route, "method": scope["method"], "status": status, "duration_s": elapsed}
            log.info("%s %s %s %.1f ms", scope["method"], route, status, elapsed * 1000, extra=fields)


class _Refused(Exception):
    """A request `RequestGuard` answers itself, with `status` and a JSON error."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


class RequestGuard:
    """Checks each HTTP request before the app sees it, cheapest first: its `Host`, the API key and the content
    type from the headers alone, then the body's size and time to arrive, then the number of requests in flight.
    A failed check is answered with a JSON error and the app never runs."""

    def __init__(
        self,
        app: ASGIApp,
        api_key: str | None,
        allowed_hosts: Collection[str] | None,
        max_bytes: int,
        read_timeout: float,
        kb_keys: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self.api_key = api_key.encode() if api_key is not None else None
        self.kb_keys = {name: key.encode() for name, key in (kb_keys or {}).items()}
        self.allowed_hosts = None if allowed_hosts is None else frozenset(h.lower() for h in allowed_hosts)
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_headers(scope)
            body = await self._read_body(scope, receive)
            if body is None:
                return  # the client went away
            if self.in_flight >= MAX_CONCURRENT_REQUESTS:
                raise _Refused(503, "overloaded", f"over {MAX_CONCURRENT_REQUESTS} requests in flight; retry shortly")
        except _Refused as refusal:
            await _send_json_error(send, refusal.status, refusal.kind, str(refusal))
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        self.in_flight += 1
        try:
            await self.app(scope, replay, send)
        finally:
            self.in_flight -= 1

    def _check_headers(self, scope: Scope) -> None:
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)
        if self.allowed_hosts is not None:
            host = _host_name(headers.get(b"host", b"").decode("latin-1"))
            if host not in self.allowed_hosts:
                raise _Refused(
                    400,
                    "invalid_host",
                    f"this service answers to Host {', '.join(sorted(self.allowed_hosts))}, not {host!r} "
                    "(a DNS-rebinding guard). Fix: call it by one of those names, or run it with allowed_hosts",
                )
        given = headers.get(b"x-api-key", b"")
        if scope["path"] == METRICS_PATH and not given:  # Prometheus sends a key as `Authorization: Bearer KEY`
            scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
            given = token.strip() if scheme.lower() == b"bearer" else b""
        keys = self._keys_for(scope["path"])
        if keys is not None and not any(hmac.compare_digest(given, key) for key in keys):
            raise _Refused(401, "unauthorized", "missing or wrong X-API-Key header")
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if scope["method"] == "POST" and media_type != b"application/json":
            raise _Refused(
                415, "unsupported_media_type", "POST bodies must be JSON. Fix: send Content-Type: application/json"
            )
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large()

    def _keys_for(self, path: str) -> list[bytes] | None:
        """The keys that open `path`, None when it needs none: the service's key; for `/v1/kbs/{name}/...`, that
        knowledge base's key too. With any key set, every path outside `OPEN_PATHS` needs one."""
        if path in OPEN_PATHS or path.startswith(DOCS_ASSETS + "/") or (self.api_key is None and not self.kb_keys):
            return None
        keys = [self.api_key] if self.api_key is not None else []
        if path.startswith(KB_PREFIX):
            own = self.kb_keys.get(path[len(KB_PREFIX) :].partition("/")[0])
            keys += [own] if own is not None else []
        return keys

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        deadline = asyncio.get_running_loop().time() + self.read_timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
            except TimeoutError:
                raise _Refused(408, "request_timeout", f"the body took over {self.read_timeout:g} s") from None
            if message["type"] != "http.request":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                raise self._too_large()
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _too_large(self) -> _Refused:
        return _Refused(413, "payload_too_large", f"the request body is over {self.max_bytes} bytes")


def _host_name(host: str) -> str:
    """The name in a `Host` header, without its port: `[::1]:8000` -> `::1`, `Localhost:80` -> `localhost`."""
    if host.startswith("["):
        return host[1:].partition("]")[0].lower()
    return host.rpartition(":")[0].lower() if host.count(":") == 1 else host.lower()


async def _send_json_error(send: Send, status: int, kind: str, message: str) -> None:
    body = json.dumps(error(kind, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
