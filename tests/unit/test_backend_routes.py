"""The backend's routes, built group by group, keep the wire protocol: the same methods and paths in the
same order, and the listing routes answer from a real checkpoint store with the same status codes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from runner.backend import checkpoints, rest, routes
from runner.backend.engine import Engine

# what the SDK and the cookbook call (the wire protocol); the order is the order routes are matched in
SDK_ROUTES = [
    ("GET", "/api/v1/healthz"),
    ("POST", "/api/v1/client/config"),
    ("GET", "/api/v1/get_server_capabilities"),
    ("POST", "/api/v1/telemetry"),
    ("POST", "/api/v1/create_session"),
    ("POST", "/api/v1/session_heartbeat"),
    ("POST", "/api/v1/create_model"),
    ("POST", "/api/v1/get_info"),
    ("POST", "/api/v1/forward_backward"),
    ("POST", "/api/v1/optim_step"),
    ("POST", "/api/v1/save_weights"),
    ("POST", "/api/v1/save_weights_for_sampler"),
    ("POST", "/api/v1/load_weights"),
    ("POST", "/api/v1/create_sampling_session"),
    ("GET", "/api/v1/samplers/{sampler_id}"),
    ("POST", "/api/v1/asample"),
    ("POST", "/api/v1/cancel_future"),
    ("POST", "/api/v1/retrieve_future"),
]
REST_ROUTES = [
    ("GET", "/api/v1/training_runs"),
    ("GET", "/api/v1/training_runs/{run_id}"),
    ("GET", "/api/v1/training_runs/{run_id}/checkpoints"),
    ("GET", "/api/v1/checkpoints"),
    ("POST", "/api/v1/weights_info"),
    ("GET", "/api/v1/local/status"),
]


def _context(tmp_path: Path) -> routes.Context:
    """A real checkpoint store; the engine is a seam (loading a model is not what these tests are about):
    the listing routes read only its ``store`` and ``base_name``."""
    engine = SimpleNamespace(store=checkpoints.Store(tmp_path / "store"), base_name="tiny")
    return routes.Context(engine=cast(Engine, engine), started_at=0.0)


def _table(router: APIRouter) -> list[tuple[str, str]]:
    return [(m, r.path) for r in router.routes if isinstance(r, APIRoute) for m in sorted(r.methods or ())]


def test_route_groups_keep_every_path_in_order(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    assert _table(routes.build(ctx)) == SDK_ROUTES
    assert _table(rest.build(ctx)) == REST_ROUTES


async def test_listing_routes_answer_from_a_real_store(tmp_path: Path) -> None:
    api = FastAPI()
    api.include_router(rest.build(_context(tmp_path)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://local") as client:
        runs = await client.get("/api/v1/training_runs")
        assert runs.status_code == 200
        assert runs.json() == {"training_runs": [], "cursor": {"offset": 0, "limit": 20, "total_count": 0}}
        assert (await client.get("/api/v1/training_runs/nobody")).status_code == 404
        assert (await client.get("/api/v1/training_runs/nobody/checkpoints")).status_code == 404
        assert (await client.get("/api/v1/training_runs/..%2Fetc")).status_code in (400, 404)
        bad = await client.post("/api/v1/weights_info", json={"tinker_path": "http://elsewhere"})
        assert bad.status_code == 400 and "not a tinker:// path" in bad.text
        missing = await client.post("/api/v1/weights_info", json={"tinker_path": "tinker://run1/weights/w1"})
        assert missing.status_code == 404 and "checkpoint not found" in missing.text
