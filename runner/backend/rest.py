"""REST listing used by ``tinker run list`` / ``tinker checkpoint list`` and the cookbook, plus
this backend's own status route."""

from __future__ import annotations

import time
from typing import Any

import pydantic
from fastapi import APIRouter, HTTPException, Request

from runner.backend.http import parse
from runner.backend.routes import Context, locate

LIVE_SECONDS = 60.0


def _run(ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
    ckpts = ctx.engine.store.list_checkpoints(record["training_run_id"])
    train = [c for c in ckpts if c["checkpoint_type"] == "training"]
    sampler = [c for c in ckpts if c["checkpoint_type"] == "sampler"]
    return {
        "training_run_id": record["training_run_id"],
        "base_model": record.get("base_model", ctx.engine.base_name),
        "model_owner": record.get("model_owner", "local"),
        "is_lora": True,
        "lora_rank": record.get("lora_rank"),
        "last_request_time": record.get("last_request_time"),
        "last_checkpoint": train[0] if train else None,
        "last_sampler_checkpoint": sampler[0] if sampler else None,
        "user_metadata": record.get("user_metadata") or None,
    }


def _page(items: list[Any], offset: int, limit: int) -> tuple[list[Any], dict[str, int]]:
    offset, limit = max(0, offset), max(0, min(limit, 1000))
    return items[offset : offset + limit], {"offset": offset, "limit": limit, "total_count": len(items)}


def build(ctx: Context) -> APIRouter:
    """The listing routes (runs, checkpoints, weights info) and ``/local/status`` under /api/v1."""
    r = APIRouter(prefix="/api/v1")
    _run_routes(r, ctx)
    _checkpoint_routes(r, ctx)
    _status_route(r, ctx)
    return r


def _record(ctx: Context, run_id: str) -> dict[str, Any]:
    """The training run's record; a malformed id is a 400, an unknown one a 404."""
    try:
        found = ctx.engine.store.get_run(run_id)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    if found is None:
        raise HTTPException(404, f"unknown training run {run_id!r}")
    return found


def _run_routes(r: APIRouter, ctx: Context) -> None:
    """Training runs: the list, one run, one run's checkpoints."""
    store = ctx.engine.store

    @r.get("/training_runs")
    async def list_runs(limit: int = 20, offset: int = 0) -> dict[str, Any]:
        page, cursor = _page(store.list_runs(), offset, limit)
        return {"training_runs": [_run(ctx, rec) for rec in page], "cursor": cursor}

    @r.get("/training_runs/{run_id}")
    async def get_run(run_id: str) -> dict[str, Any]:
        return _run(ctx, _record(ctx, run_id))

    @r.get("/training_runs/{run_id}/checkpoints")
    async def run_checkpoints(run_id: str) -> dict[str, Any]:
        _record(ctx, run_id)
        return {"checkpoints": store.list_checkpoints(run_id)}


def _checkpoint_routes(r: APIRouter, ctx: Context) -> None:
    """Every checkpoint, and what a checkpoint's weights are (``weights_info``)."""

    @r.get("/checkpoints")
    async def all_checkpoints(limit: int = 100, offset: int = 0) -> dict[str, Any]:
        page, cursor = _page(ctx.engine.store.list_checkpoints(), offset, limit)
        return {"checkpoints": page, "cursor": cursor}

    @r.post("/weights_info")
    async def weights_info(request: Request) -> dict[str, Any]:
        body = await parse(request, _WeightsInfo)
        found = locate(ctx.engine, body.tinker_path)
        cfg = found.meta.get("lora_config") or {}
        return {
            "base_model": found.meta.get("base_model", ctx.engine.base_name),
            "is_lora": True,
            "lora_rank": found.meta.get("rank"),
            "train_unembed": cfg.get("train_unembed"),
            "train_mlp": cfg.get("train_mlp"),
            "train_attn": cfg.get("train_attn"),
        }


def _status_route(r: APIRouter, ctx: Context) -> None:
    """This backend's own status: ready or not, what it holds, what waits."""

    @r.get("/local/status")
    async def local_status() -> dict[str, Any]:
        eng = ctx.engine
        counts = eng.counts(LIVE_SECONDS)
        return {
            "ready": eng.ready.is_set(),
            "load_error": eng.load_error,
            "model": eng.base_name,
            "uptime_s": time.time() - ctx.started_at,
            "live_sessions": counts["live_sessions"],
            "models": counts["models"],
            "samplers": counts["samplers"],
            "queued": eng.queued(),
            "pending_futures": eng.futures.pending(),
        }


class _WeightsInfo(pydantic.BaseModel):
    tinker_path: str
