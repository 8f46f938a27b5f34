"""The engine's session and sampler tables under concurrent use, as the server uses them: route
handlers on one event loop thread, the idle sweeper on another thread (the worker's). Requests go
through the real FastAPI routes as ASGI calls; only the socket is left out."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI

from runner.backend import checkpoints, rest, routes
from runner.backend.engine import Engine
from runner.backend.futures import FutureStore

T = TypeVar("T")
SESSIONS = 800
ROUNDS = 3


class Loop:
    """An event loop on its own thread, like the server's."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


async def call(app: FastAPI, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """One request through the ASGI app; server errors propagate as exceptions."""
    raw = json.dumps(body).encode() if body is not None else b""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, json.loads(b"".join(chunks) or b"null")


@pytest.fixture()
def backend(tmp_path: Path) -> Iterator[tuple[Loop, Engine, FastAPI]]:
    loop = Loop()
    # mock seam: no model directory, so the worker reports a load error; these routes need no model
    engine = Engine(tmp_path / "no-model", checkpoints.Store(tmp_path / "store"), FutureStore(loop.loop))
    ctx = routes.Context(engine=engine, started_at=0.0)
    app = FastAPI()
    app.include_router(routes.build(ctx))
    app.include_router(rest.build(ctx))
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so unlocked interleavings show up
    try:
        yield loop, engine, app
    finally:
        sys.setswitchinterval(old)
        engine.close()
        loop.close()


async def seed(app: FastAPI, names: list[str]) -> None:
    """Each session heartbeats and opens a sampler on the base model."""
    for i, sid in enumerate(names):
        assert (await call(app, "POST", "/api/v1/session_heartbeat", {"session_id": sid}))[0] == 200
        req = {"session_id": sid, "sampling_session_seq_id": i}
        assert (await call(app, "POST", "/api/v1/create_sampling_session", req))[0] == 200


async def statuses(app: FastAPI, done: threading.Event) -> int:
    """``/local/status`` over and over until ``done``; how many answered."""
    count = 0
    while not done.is_set():
        status, body = await call(app, "GET", "/api/v1/local/status")
        assert status == 200 and body["samplers"] >= 0
        count += 1
        await asyncio.sleep(0)
    return count


async def reopen(app: FastAPI, names: list[str], done: threading.Event) -> list[str]:
    """Each session heartbeats again and opens one more sampler, while the sweeper runs."""
    out = []
    try:
        for i, sid in enumerate(names):
            assert (await call(app, "POST", "/api/v1/session_heartbeat", {"session_id": sid}))[0] == 200
            req = {"session_id": sid, "sampling_session_seq_id": SESSIONS + i}
            status, body = await call(app, "POST", "/api/v1/create_sampling_session", req)
            assert status == 200
            out.append(body["sampling_session_id"])
            await asyncio.sleep(0)
    finally:
        done.set()
    return out


async def existing(app: FastAPI, sampler_ids: list[str]) -> list[str]:
    """The samplers the server still knows."""
    return [sid for sid in sampler_ids if (await call(app, "GET", f"/api/v1/samplers/{sid}"))[0] == 200]


def sweep_until(engine: Engine, done: threading.Event, errors: list[Exception]) -> None:
    """The idle sweeper, as the worker runs it, forgetting every session until ``done``."""
    try:
        while not done.is_set():
            engine.sweep_idle(-1.0)
    except Exception as exc:  # reported by the test
        errors.append(exc)


def test_status_sampler_and_sweeper_share_the_tables_safely(
    backend: tuple[Loop, Engine, FastAPI],
) -> None:
    loop, engine, app = backend
    for rnd in range(ROUNDS):
        names = [f"session_r{rnd}_{i}" for i in range(SESSIONS)]
        loop.run(seed(app, names))
        done, errors = threading.Event(), []
        sweeper = threading.Thread(target=sweep_until, args=(engine, done, errors))
        sweeper.start()
        reads = asyncio.run_coroutine_threadsafe(statuses(app, done), loop.loop)
        opened = loop.run(reopen(app, names, done))
        assert reads.result() > 0
        sweeper.join()
        assert not errors
        # a sampler opened while the sweeper ran either went with its session or keeps it alive
        kept = loop.run(existing(app, opened))
        after = loop.run(call(app, "GET", "/api/v1/local/status"))[1]
        assert after["samplers"] == len(kept)
        assert after["live_sessions"] == len({sid.split(":", 1)[0] for sid in kept})
        engine.sweep_idle(-1.0)
        final = loop.run(call(app, "GET", "/api/v1/local/status"))[1]
        assert (final["live_sessions"], final["samplers"], final["models"]) == (0, 0, 0)
