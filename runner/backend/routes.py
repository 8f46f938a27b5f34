"""The SDK-facing routes: service, sessions, training, weights, sampling and futures."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import pydantic
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from tinker import types

from runner.backend import sampling, trainer, wire
from runner.backend.checkpoints import Located
from runner.backend.engine import Engine, Sampler
from runner.backend.http import parse, read_body

PROTO = "application/x-protobuf"
POLL_SECONDS = 25.0
MAX_SAMPLES = 256


@dataclass
class Context:
    engine: Engine
    started_at: float


def build(ctx: Context) -> APIRouter:
    """The routes under /api/v1, group by group (the order they are matched in)."""
    r = APIRouter(prefix="/api/v1")
    for group in ROUTE_GROUPS:
        group(r, ctx.engine)
    return r


def _future(rid: str, **extra: Any) -> dict[str, Any]:
    """The answer of a route whose work runs later: the id the SDK polls ``retrieve_future`` with."""
    return {"request_id": rid, **extra}


def _service_routes(r: APIRouter, eng: Engine) -> None:
    """The service: health, client config, capabilities, telemetry."""

    @r.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @r.post("/client/config")
    async def client_config(request: Request) -> dict[str, Any]:
        await read_body(request)
        return {"pjwt_auth_enabled": False, "credential_default_source": "api_key"}

    @r.get("/get_server_capabilities")
    async def capabilities() -> dict[str, Any]:
        ctx_len = eng.base.max_context if eng.base else None
        model = {
            "model_name": eng.base_name,
            "max_context_length": ctx_len,
            "trainable": True,
            "sampleable": True,
        }
        return {"supported_models": [model]}

    @r.post("/telemetry")
    async def telemetry(request: Request) -> dict[str, str]:
        await read_body(request)
        return {"status": "accepted"}


def _session_routes(r: APIRouter, eng: Engine) -> None:
    """Sessions and the models they train: create, heartbeat, create_model, get_info."""

    @r.post("/create_session")
    async def create_session(request: Request) -> dict[str, Any]:
        await parse(request, types.CreateSessionRequest)
        sid = eng.new_session()
        return {"type": "create_session", "session_id": sid}

    @r.post("/session_heartbeat")
    async def heartbeat(request: Request) -> dict[str, Any]:
        req = await parse(request, types.SessionHeartbeatRequest)
        eng.touch_session(req.session_id)
        return {"type": "session_heartbeat"}

    @r.post("/create_model")
    async def create_model(request: Request) -> dict[str, Any]:
        req = await parse(request, types.CreateModelRequest)
        _check_base(eng, req.base_model)
        if req.lora_config is None:
            raise HTTPException(400, "only LoRA training is supported: pass lora_config")
        if req.optimizer_config.type != "adamw":
            raise HTTPException(
                400, f"optimizer {req.optimizer_config.type!r} is not supported here; use Adam"
            )
        lora_cfg = req.lora_config.model_dump(mode="json")
        meta = dict(req.user_metadata or {})
        session, seq = req.session_id, req.model_seq_id
        rid = eng.submit(
            lambda: {"type": "create_model", "model_id": eng.create_model(session, seq, lora_cfg, meta)}
        )
        return _future(rid, model_id=f"{session}:train:{seq}")

    @r.post("/get_info")
    async def get_info(request: Request) -> dict[str, Any]:
        req = await parse(request, types.GetInfoRequest)
        tm = eng.get_model(req.model_id)
        if tm is None:
            raise HTTPException(404, f"unknown model_id {req.model_id!r}")
        data = {"arch": "qwen3", "model_name": eng.base_name, "tokenizer_id": eng.base_name}
        return {
            "type": "get_info",
            "model_data": data,
            "model_id": tm.model_id,
            "is_lora": True,
            "lora_rank": tm.adapter.rank,
            "model_name": eng.base_name,
        }


def _training_routes(r: APIRouter, eng: Engine) -> None:
    """Training steps: forward_backward and optim_step (answered by futures)."""

    @r.post("/forward_backward")
    async def forward_backward(request: Request) -> dict[str, Any]:
        if PROTO not in request.headers.get("content-type", ""):
            raise HTTPException(415, f"forward_backward takes a protobuf body ({PROTO})")
        try:
            body = wire.decode_body(await read_body(request), request.headers.get("content-encoding"))
            job, _seq = wire.parse_forward_backward(body, _limits(eng))
        except wire.TooLarge as exc:
            raise HTTPException(413, str(exc)) from exc
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from exc
        _known(eng, job.model_id)
        return _future(eng.submit(lambda: eng.forward_backward(job)), model_id=job.model_id)

    @r.post("/optim_step")
    async def optim_step(request: Request) -> dict[str, Any]:
        req = await parse(request, types.OptimStepRequest)
        _known(eng, req.model_id)
        params = req.optim_params.model_dump(mode="json")
        if params.get("type", "adamw") != "adamw":
            raise HTTPException(400, f"optimizer {params['type']!r} is not supported here; use Adam")
        return _future(eng.submit(lambda: eng.optim_step(req.model_id, params)), model_id=req.model_id)


def _weights_routes(r: APIRouter, eng: Engine) -> None:
    """Weights: save (for training or for sampling) and load (answered by futures)."""

    @r.post("/save_weights")
    async def save_weights(request: Request) -> dict[str, Any]:
        req = await parse(request, types.SaveWeightsRequest)
        _known(eng, req.model_id)
        name = req.path or f"ckpt_{int(time.time() * 1000)}"
        return _future(eng.submit(lambda: eng.save_weights(req.model_id, name)), model_id=req.model_id)

    @r.post("/save_weights_for_sampler")
    async def save_for_sampler(request: Request) -> dict[str, Any]:
        req = await parse(request, types.SaveWeightsForSamplerRequest)
        tm = _known(eng, req.model_id)
        sampler_id = None
        if req.path is None:
            sampler_id = f"{tm.session_id}:sample:{req.sampling_session_seq_id or 0}"
        rid = eng.submit(lambda: eng.save_for_sampler(req.model_id, req.path, sampler_id))
        return _future(rid, model_id=req.model_id)

    @r.post("/load_weights")
    async def load_weights(request: Request) -> dict[str, Any]:
        req = await parse(request, types.LoadWeightsRequest)
        if req.model_id is not None:
            _known(eng, req.model_id)
        mid = req.model_id or f"{req.session_id}:train:{req.model_seq_id}"
        rid = eng.submit(
            lambda: eng.load_weights(req.path, req.model_id, req.session_id, req.model_seq_id, req.optimizer)
        )
        return _future(rid, model_id=mid)


def _sampling_routes(r: APIRouter, eng: Engine) -> None:
    """Sampling sessions and samples."""

    @r.post("/create_sampling_session")
    async def create_sampling_session(request: Request) -> dict[str, Any]:
        req = await parse(request, types.CreateSamplingSessionRequest)
        sampler = _sampler_for(eng, req.model_path, req.base_model)
        sid = f"{req.session_id}:sample:{req.sampling_session_seq_id}"
        eng.add_sampler(sid, sampler)
        return {"type": "create_sampling_session", "sampling_session_id": sid}

    @r.get("/samplers/{sampler_id}")
    async def get_sampler(sampler_id: str) -> dict[str, Any]:
        sampler = eng.get_sampler(sampler_id)
        if sampler is None:
            raise HTTPException(404, f"unknown sampler {sampler_id!r}")
        return {"sampler_id": sampler_id, "base_model": sampler.base_model, "model_path": sampler.model_path}

    @r.post("/asample")
    async def asample(request: Request) -> dict[str, Any]:
        req = await parse(request, types.SampleRequest)
        if req.sampling_session_id is not None:
            sampler = eng.get_sampler(req.sampling_session_id)
            if sampler is None:
                raise HTTPException(404, f"unknown sampling session {req.sampling_session_id!r}")
        else:
            sampler = _sampler_for(eng, req.model_path, req.base_model)
        spec = _spec(req)
        rid = eng.submit_sample(sampler, spec)
        return _future(rid, sample_sequence_ids=[f"{rid}:{i}" for i in range(spec.num_samples)])


def _future_routes(r: APIRouter, eng: Engine) -> None:
    """Futures: cancel one, or wait for its result (long poll)."""

    @r.post("/cancel_future")
    async def cancel_future(request: Request) -> dict[str, Any]:
        req = await parse(request, _Cancel)
        eng.cancel(req.request_id)
        return {}

    @r.post("/retrieve_future")
    async def retrieve_future(request: Request) -> Response:
        req = await parse(request, types.FutureRetrieveRequest)
        entry = await eng.futures.wait(req.request_id, POLL_SECONDS)
        if entry is None:
            return JSONResponse({"detail": f"unknown or expired request {req.request_id!r}"}, status_code=410)
        if not entry.done.is_set():
            return JSONResponse({"type": "try_again", "request_id": req.request_id, "queue_state": "active"})
        if entry.error is not None:
            return JSONResponse({"error": entry.error, "category": entry.category})
        return _result(entry.result, PROTO in request.headers.get("accept", ""))


ROUTE_GROUPS = (
    _service_routes,
    _session_routes,
    _training_routes,
    _weights_routes,
    _sampling_routes,
    _future_routes,
)


class _Cancel(pydantic.BaseModel):
    request_id: str


def _check_base(eng: Engine, name: str | None) -> str:
    try:
        return eng.check_base_model(name)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc


def _limits(eng: Engine) -> wire.Limits:
    """Bounds for a forward_backward body: the model's context and vocabulary once it is loaded."""
    if eng.base is None:
        return wire.Limits()
    # the trainer gives the precise context error; this bound only keeps allocations small
    return wire.Limits(max(wire.MAX_TOKENS, eng.base.max_context), vocab_size=eng.base.vocab_size)


def _known(eng: Engine, model_id: str) -> trainer.TrainingModel:
    tm = eng.get_model(model_id)
    if tm is None:
        raise HTTPException(404, f"unknown model_id {model_id!r} (was the server restarted?)")
    return tm


def locate(eng: Engine, tinker_path: str) -> Located:
    """The checkpoint at ``tinker_path``; a malformed path is a 400, a missing checkpoint a 404."""
    try:
        return eng.store.locate(tinker_path)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from exc
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc


def _sampler_for(eng: Engine, model_path: str | None, base_model: str | None) -> Sampler:
    if not model_path:
        return Sampler(_check_base(eng, base_model), None)
    locate(eng, model_path)
    return Sampler(eng.base_name, model_path)


def _spec(req: types.SampleRequest) -> sampling.SampleSpec:
    p = req.sampling_params
    if not 1 <= req.num_samples <= MAX_SAMPLES:
        raise HTTPException(400, f"num_samples must be 1..{MAX_SAMPLES}")
    unsupported = [
        name
        for name, value in (
            ("topk_prompt_logprobs", req.topk_prompt_logprobs),
            ("topk_sample_logprobs", req.topk_sample_logprobs),
            ("prompt_alt_tokens_k", req.prompt_alt_tokens_k),
            ("target_prompt_logprobs", req.target_prompt_logprobs),
        )
        if value
    ]
    if unsupported:
        raise HTTPException(400, f"not supported by the local backend: {', '.join(unsupported)}")
    if p.max_tokens is not None and p.max_tokens < 0:
        raise HTTPException(400, "max_tokens must be >= 0")
    try:
        prompt = req.prompt.to_ints()
    except Exception as exc:
        raise HTTPException(400, f"prompt: {exc}") from exc
    stop: str | list[str] | list[int] | None
    if p.stop is None or isinstance(p.stop, str):
        stop = p.stop
    else:
        stop = cast(list[int], [x if isinstance(x, int) else str(x) for x in p.stop])
    return sampling.SampleSpec(
        prompt=prompt,
        num_samples=req.num_samples,
        max_tokens=p.max_tokens,
        temperature=float(p.temperature),
        top_k=int(p.top_k),
        top_p=float(p.top_p),
        seed=p.seed,
        stop=stop,
        prompt_logprobs=bool(req.prompt_logprobs),
        prompt_logprobs_last_n=req.prompt_logprobs_last_n,
    )


def _result(result: Any, proto: bool) -> Response:
    if isinstance(result, trainer.FwdBwdResult):
        if proto:
            return Response(wire.forward_backward_proto(result), media_type=PROTO)
        return JSONResponse(wire.forward_backward_json(result))
    if isinstance(result, sampling.SampleResult):
        if proto:
            return Response(wire.sample_proto(result), media_type=PROTO)
        return JSONResponse(wire.sample_json(result))
    return JSONResponse(result)
