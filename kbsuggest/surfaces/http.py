"""`kbsuggest serve`: the library over HTTP with FastAPI. OpenAPI at `/openapi.json`, docs at `/docs`.

    POST /v1/search    SearchArgs  -> {"answers": [Answer, ...]}
    POST /v1/suggest   SuggestArgs -> Suggestion
    POST /v1/reload    re-load the index from disk -> Health
    GET  /healthz      Health (no key needed)

Request bodies are the tools' argument models (`kbsuggest.tools`). When an API key is set, the `/v1`
routes need it in the `X-API-Key` header. Every error is JSON, `{"error": {"type": ..., "message": ...}}`:
401 without the key, 413 for a body over `max_body_bytes`, 422 for arguments that do not validate
(including too-long messages), 500 for an index that cannot be used.

`/v1/reload` loads the index anew and then swaps the reference in one assignment: requests in flight finish on
the knowledge base they started with, and if the new index cannot be loaded the old one keeps serving.
The endpoints are plain `def`s, so FastAPI runs the CPU-bound retrieval in its threadpool.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from kbsuggest import __version__
from kbsuggest.config import Settings
from kbsuggest.errors import InputError, KbSuggestError
from kbsuggest.feedback.store import Feedback
from kbsuggest.kb import KnowledgeBase
from kbsuggest.reply.models import Suggestion
from kbsuggest.retrieval.models import Answer
from kbsuggest.tools import FeedbackArgs, SearchArgs, SuggestArgs, describe_validation_errors, error

MAX_BODY_BYTES = 64 * 1024
BODY_READ_TIMEOUT = 10.0
"""Seconds a client has to send its whole request body."""
MAX_CONCURRENT_CONNECTIONS = 256
"""uvicorn answers 503 past this many open connections, so idle or slow clients cannot exhaust it."""
_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="Needed when the service has a key.")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


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


class _Holder:
    """The current `KnowledgeBase`. Readers take `.kb` once per request; `reload` replaces it in one assignment."""

    def __init__(self, index_dir: Path, settings: Settings | None) -> None:
        self.index_dir = index_dir
        self.settings = settings
        self.kb = KnowledgeBase.load(index_dir, settings=settings)
        self._reload_lock = threading.Lock()

    def reload(self) -> KnowledgeBase:
        with self._reload_lock:
            self.kb = KnowledgeBase.load(self.index_dir, settings=self.settings)
            return self.kb

    def health(self, kb: KnowledgeBase) -> Health:
        return Health(
            articles=len(kb.articles),
            sections=len(kb.sections),
            built_at=kb.manifest.built_at,
            kbsuggest_version=__version__,
        )


def create_app(
    index_dir: Path | str,
    *,
    api_key: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    body_timeout: float = BODY_READ_TIMEOUT,
    settings: Settings | None = None,
) -> FastAPI:
    """The service for the index in `index_dir`, loaded now (raising `KbSuggestError` if it cannot be used).

    `api_key`: when set, `/v1` routes need it in `X-API-Key`; an empty or blank key raises `InputError`.
    `max_body_bytes`: larger bodies get 413;
    `body_timeout`: seconds to send the body, else 408.
    `settings`: passed to `KnowledgeBase.load` (default: from `KBSUGGEST_*` environment variables)."""
    if api_key is not None and not api_key.strip():
        raise InputError("the API key is empty, which would let everyone in. Fix: pass a long random key, or None")
    holder = _Holder(Path(index_dir), settings)

    def check_key(given: Annotated[str | None, Depends(_KEY_HEADER)]) -> None:
        if api_key is not None and not hmac.compare_digest((given or "").encode(), api_key.encode()):
            raise HTTPException(401, "missing or wrong X-API-Key header")

    app = FastAPI(title="kbsuggest", version=__version__, description=__doc__)
    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes, read_timeout=body_timeout)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(KbSuggestError, _library_error)
    app.add_exception_handler(Exception, _internal_error)
    authorised = [Depends(check_key)]

    @app.post("/v1/search", dependencies=authorised)
    def search(args: SearchArgs) -> SearchResponse:
        """The article sections that best answer the message, best first."""
        return SearchResponse(answers=holder.kb.search(args.message, k=args.k, filters=args.filters))

    @app.post("/v1/suggest", dependencies=authorised)
    def suggest(args: SuggestArgs) -> Suggestion:
        """Answers, reply drafts, a confidence and whether to hand the message to a person."""
        return holder.kb.suggest(args.message, context=args.context, k=args.k, tone=args.tone, filters=args.filters)

    @app.post("/v1/feedback", dependencies=authorised)
    def feedback(args: FeedbackArgs) -> Feedback:
        """Record an agent's verdict on a suggestion (accepted, edited or rejected)."""
        return holder.kb.record_feedback(**args.model_dump())

    @app.post("/v1/reload", dependencies=authorised)
    def reload() -> Health:
        """Load the index from disk again and serve it; on failure the previous index keeps serving."""
        return holder.health(holder.reload())

    @app.get("/healthz")
    def healthz() -> Health:
        """The index being served."""
        return holder.health(holder.kb)

    return app


def serve(index_dir: Path | str, *, host: str = "127.0.0.1", port: int = 8000, api_key: str | None = None) -> None:
    """Load the index and serve it with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(
        create_app(index_dir, api_key=api_key),
        host=host,
        port=port,
        timeout_keep_alive=5,
        limit_concurrency=MAX_CONCURRENT_CONNECTIONS,
    )


def _json_error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(error(kind, message), status_code=status)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    kinds = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    return _json_error(exc.status_code, kinds.get(exc.status_code, "http_error"), str(exc.detail))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return _json_error(422, "invalid_arguments", describe_validation_errors(exc.errors()))


async def _library_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, InputError):
        return _json_error(422, "invalid_arguments", str(exc))
    return _json_error(500, "knowledge_base_error", str(exc))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    return _json_error(500, "internal_error", "the server failed to answer; see its log")


class _BodyLimit:
    """Reject request bodies over `max_bytes` with 413, whether declared by Content-Length or streamed, and
    bodies not received within `read_timeout` seconds with 408, so a slow client holds nothing for long."""

    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout: float = BODY_READ_TIMEOUT) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        deadline = asyncio.get_running_loop().time() + self.read_timeout
        while True:
            try:
                message = await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
            except TimeoutError:
                await self._refuse(send, 408, "request_timeout", f"the body took over {self.read_timeout:g} s")
                return
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await self._refuse(send, 413, "payload_too_large", f"the request body is over {self.max_bytes} bytes")

    async def _refuse(self, send: Send, status: int, kind: str, message: str) -> None:
        body = json.dumps(error(kind, message)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
