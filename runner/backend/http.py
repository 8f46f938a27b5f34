"""HTTP helpers shared by the route modules: body limits, JSON parsing, errors, auth."""

from __future__ import annotations

import hmac
import json
from typing import Any, TypeVar

import pydantic
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_BODY = 64 * 1024 * 1024
M = TypeVar("M", bound=pydantic.BaseModel)


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message, "error": message}, status_code=status)


async def read_body(request: Request) -> bytes:
    """The body, read in chunks and refused (413) as soon as it passes the limit."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise HTTPException(413, f"request body exceeds the {MAX_BODY}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse(request: Request, model: type[M]) -> M:
    """The JSON body validated as the SDK's own request type; 400/422 with a message otherwise."""
    body = await read_body(request)
    data = _json(body)
    if not isinstance(data, dict):
        raise HTTPException(400, "the JSON body must be an object")
    data.pop("type", None)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        msgs = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise HTTPException(422, f"invalid {model.__name__}: {msgs}") from exc


def _json(body: bytes) -> Any:
    """Parse a JSON body; a nesting deeper than the parser's recursion limit is a 400, never a 500."""
    try:
        return json.loads(body or b"{}")
    except RecursionError as exc:
        raise HTTPException(400, "malformed JSON body: nested too deeply") from exc
    except ValueError as exc:
        raise HTTPException(400, f"malformed JSON body: {exc}") from exc


class Guard:
    """ASGI middleware: the per-start key in ``X-API-Key`` and a body-size ceiling, before routing."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-api-key", b"")
        if not hmac.compare_digest(given, self.key):
            await error(401, "missing or wrong X-API-Key").__call__(scope, receive, send)
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            await error(413, f"request body exceeds the {MAX_BODY}-byte limit").__call__(scope, receive, send)
            return
        await self.app(scope, receive, send)


def plain(obj: Any) -> Any:
    """A pydantic model (or anything) as JSON-ready data."""
    if isinstance(obj, pydantic.BaseModel):
        return obj.model_dump(mode="json", exclude_none=True)
    return obj
