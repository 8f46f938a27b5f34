"""The engine: one worker thread owns torch, the base model, every adapter and optimizer.

HTTP handlers only enqueue work (``submit``) and return a future id; the worker runs jobs in
arrival order, which keeps each model's requests in the order the SDK sent them.

The tables of sessions, training models, samplers and cancelled requests are shared by the route
handlers (event loop) and the worker (which also runs the idle sweeper): they are read and changed only
through the methods of ``Engine``, each under ``Engine._lock``, and iterated over copies.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.backend import base_model, checkpoints, lora, sampling, trainer
from runner.backend.futures import FutureStore

log = logging.getLogger("tinkertop.backend")
USER_ERRORS = (ValueError, LookupError, TypeError)
IDLE_SECONDS = 1800.0  # the SDK heartbeats every 10 s


MAX_BATCH_REQUESTS = 64
MAX_SNAPSHOTS_PER_SESSION = 64


@dataclass
class Sampler:
    """A sampling session: base model alone, a saved checkpoint, or an in-memory snapshot."""

    base_model: str
    model_path: str | None
    adapter: lora.Adapter | None = None


@dataclass
class SampleJob:
    sampler: Sampler
    spec: sampling.SampleSpec


class Engine:
    def __init__(self, model_path: Path, store: checkpoints.Store, futures: FutureStore) -> None:
        self.model_path = model_path.resolve()
        self.base_name = str(self.model_path)
        self.store = store
        self.futures = futures
        self.models: dict[str, trainer.TrainingModel] = {}
        self.samplers: dict[str, Sampler] = {}
        self.sessions: dict[str, float] = {}
        self.base: base_model.BaseModel | None = None
        self.ready = threading.Event()
        self.load_error: str | None = None
        self.cancelled: set[str] = set()
        self._lock = threading.Lock()  # guards models, samplers, sessions and cancelled
        self._adapters: OrderedDict[str, lora.Adapter] = OrderedDict()
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="backend-worker", daemon=True)
        self._thread.start()

    # plumbing --------------------------------------------------------------------------------
    def submit(self, fn: Callable[[], Any]) -> str:
        """Queue ``fn`` for the worker; returns the future id (call on the event loop)."""
        rid = self.futures.create()
        self._queue.put((rid, fn))
        return rid

    def queued(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        self._queue.put(None)

    def submit_sample(self, sampler: Sampler, spec: sampling.SampleSpec) -> str:
        """Queue a sampling request; consecutive ones are decoded together in one batch."""
        rid = self.futures.create()
        self._queue.put((rid, SampleJob(sampler, spec)))
        return rid

    def _run(self) -> None:
        try:
            self.base = base_model.load(self.model_path)
        except Exception as exc:  # the server reports this on every request
            self.load_error = f"could not load the base model from {self.model_path}: {exc}"
            log.exception("model load failed")
        self.ready.set()
        carry: list[tuple[str, Any] | None] = []
        while True:
            item = carry.pop() if carry else self._queue.get()
            if item is None:
                return
            if self._take_cancelled(item[0]):
                self.futures.resolve(item[0], error="cancelled by the client", category="user")
                continue
            if not isinstance(item[1], SampleJob):
                self._run_one(item[0], item[1])
                continue
            batch = [item]
            while len(batch) < MAX_BATCH_REQUESTS:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None or not isinstance(nxt[1], SampleJob):
                    carry.append(nxt)
                    break
                batch.append(nxt)
            self._run_samples(batch)

    def _run_one(self, rid: str, fn: Callable[[], Any]) -> None:
        try:
            if self.base is None:
                raise RuntimeError(self.load_error or "model not loaded")
            self.futures.resolve(rid, fn())
        except USER_ERRORS as exc:
            self.futures.resolve(rid, error=str(exc), category="user")
        except Exception as exc:
            log.exception("request %s failed", rid)
            self.futures.resolve(rid, error=f"{type(exc).__name__}: {exc}", category="server")

    def _run_samples(self, batch: list[tuple[str, Any]]) -> None:
        """Decode sampling requests that share an adapter together; errors stay per request."""
        groups: dict[object, list[tuple[str, SampleJob]]] = {}
        for rid, job in batch:
            key = id(job.sampler.adapter) if job.sampler.adapter is not None else job.sampler.model_path
            groups.setdefault(key, []).append((rid, job))
        for jobs in groups.values():
            ok: list[tuple[str, SampleJob]] = []
            for rid, job in jobs:
                try:
                    if self.base is None:
                        raise RuntimeError(self.load_error or "model not loaded")
                    sampling.check(self.base, job.spec)
                    ok.append((rid, job))
                except Exception as exc:
                    self.futures.resolve(rid, error=str(exc), category="user")
            if not ok:
                continue
            if len(ok) == 1:
                rid, job = ok[0]
                self._run_one(rid, lambda job=job: self.sample(job.sampler, job.spec))  # type: ignore[misc]
                continue
            try:
                adapter = self._adapter_of(ok[0][1].sampler)
                results = sampling.generate_batch(self._base(), adapter, [job.spec for _, job in ok])
            except Exception:
                log.exception("batched sampling failed; retrying one by one")
                for rid, job in ok:
                    self._run_one(rid, lambda job=job: self.sample(job.sampler, job.spec))  # type: ignore[misc]
                continue
            for (rid, _), result in zip(ok, results, strict=True):
                self.futures.resolve(rid, result)

    # the shared tables (any thread) -----------------------------------------------------------
    def new_session(self) -> str:
        """A fresh session id, seen now."""
        sid = f"session_{uuid.uuid4().hex[:12]}"
        self.touch_session(sid)
        return sid

    def touch_session(self, session_id: str) -> None:
        """Mark ``session_id`` as seen now (a heartbeat), so the idle sweeper keeps it."""
        with self._lock:
            self.sessions[session_id] = time.time()

    def add_sampler(self, sampler_id: str, sampler: Sampler) -> None:
        """Register a sampler under ``<session>:sample:<seq>``; its session counts as seen now."""
        with self._lock:
            self.sessions[sampler_id.split(":", 1)[0]] = time.time()
            self.samplers[sampler_id] = sampler

    def get_sampler(self, sampler_id: str) -> Sampler | None:
        with self._lock:
            return self.samplers.get(sampler_id)

    def get_model(self, model_id: str) -> trainer.TrainingModel | None:
        with self._lock:
            return self.models.get(model_id)

    def cancel(self, request_id: str) -> None:
        """Drop ``request_id`` when the worker reaches it."""
        with self._lock:
            self.cancelled.add(request_id)

    def _take_cancelled(self, request_id: str) -> bool:
        with self._lock:
            if request_id not in self.cancelled:
                return False
            self.cancelled.discard(request_id)
            return True

    def counts(self, live_seconds: float) -> dict[str, int]:
        """Sessions seen within ``live_seconds``, training models and samplers, all at one instant."""
        with self._lock:
            seen = list(self.sessions.values())
            models, samplers = len(self.models), len(self.samplers)
        cutoff = time.time() - live_seconds
        return {"live_sessions": sum(1 for t in seen if t > cutoff), "models": models, "samplers": samplers}

    def _base(self) -> base_model.BaseModel:
        assert self.base is not None
        return self.base

    # names -----------------------------------------------------------------------------------
    def check_base_model(self, name: str | None) -> str:
        """The canonical base model name for ``name`` (the model directory), or ValueError."""
        if name is None or name in (self.base_name, self.model_path.name):
            return self.base_name
        try:
            if Path(name).resolve() == self.model_path:
                return self.base_name
        except OSError:
            pass
        raise ValueError(f"base model {name!r} is not served here; this server has {self.base_name!r}")

    def training_model(self, model_id: str) -> trainer.TrainingModel:
        tm = self.get_model(model_id)
        if tm is None:
            raise LookupError(f"unknown model_id {model_id!r} (the server may have restarted)")
        return tm

    # training (worker thread) ----------------------------------------------------------------
    def sweep_idle(self, idle_seconds: float = IDLE_SECONDS) -> int:
        """Forget models and samplers of sessions silent for ``idle_seconds`` (their files stay)."""
        cutoff = time.time() - idle_seconds
        with self._lock:
            gone = {sid for sid, seen in list(self.sessions.items()) if seen < cutoff}
            for mid in [m for m, tm in list(self.models.items()) if tm.session_id in gone]:
                del self.models[mid]
            for sid in [s for s in list(self.samplers) if s.split(":", 1)[0] in gone]:
                del self.samplers[sid]
            for sid in gone:
                del self.sessions[sid]
        return len(gone)

    def create_model(self, session_id: str, seq: int, lora_cfg: dict[str, Any], meta: dict[str, Any]) -> str:
        self.sweep_idle()
        model_id = f"{session_id}:train:{seq}"
        targets = lora.target_suffixes(
            bool(lora_cfg.get("train_attn", True)),
            bool(lora_cfg.get("train_mlp", True)),
            bool(lora_cfg.get("train_unembed", True)),
        )
        adapter = lora.new_adapter(self._base().layers, int(lora_cfg["rank"]), targets, lora_cfg.get("seed"))
        self._register(model_id, session_id, lora_cfg, adapter, meta)
        return model_id

    def _register(
        self,
        model_id: str,
        session_id: str,
        lora_cfg: dict[str, Any],
        adapter: lora.Adapter,
        meta: dict[str, Any],
    ) -> trainer.TrainingModel:
        tm = trainer.TrainingModel(
            model_id=model_id,
            session_id=session_id,
            base_model=self.base_name,
            lora_config=lora_cfg,
            adapter=adapter,
            optimizer=trainer.make_optimizer(adapter),
            user_metadata=meta,
        )
        with self._lock:
            self.sessions[session_id] = time.time()
            self.models[model_id] = tm
        record = {
            "base_model": self.base_name,
            "model_owner": "local",
            "is_lora": True,
            "lora_rank": adapter.rank,
            "lora_config": lora_cfg,
            "user_metadata": {str(k): str(v) for k, v in meta.items()},
            "created": time.time(),
        }
        self.store.record_run(model_id, record)
        return tm

    def forward_backward(self, job: trainer.FwdBwdJob) -> trainer.FwdBwdResult:
        return trainer.forward_backward(self._base(), self.training_model(job.model_id), job)

    def optim_step(self, model_id: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"type": "optim_step", "metrics": trainer.optim_step(self.training_model(model_id), params)}

    def save_weights(self, model_id: str, name: str) -> dict[str, Any]:
        tm = self.training_model(model_id)
        state = tm.optimizer.state_dict()
        path = self.store.save(model_id, "weights", name, tm.adapter, self._meta(tm), state)
        return {"type": "save_weights", "path": path}

    def save_for_sampler(self, model_id: str, name: str | None, sampler_id: str | None) -> dict[str, Any]:
        tm = self.training_model(model_id)
        if name is not None:
            path = self.store.save(model_id, "sampler_weights", name, tm.adapter, self._meta(tm))
            return {"type": "save_weights_for_sampler", "path": path}
        assert sampler_id is not None
        snapshot = Sampler(self.base_name, None, tm.adapter.snapshot())
        with self._lock:
            self.sessions[tm.session_id] = time.time()
            self.samplers[sampler_id] = snapshot
            self._prune_snapshots(tm.session_id)
        return {"type": "save_weights_for_sampler", "sampling_session_id": sampler_id}

    def _prune_snapshots(self, session_id: str) -> None:
        """Keep a session's newest in-memory sampler snapshots only (they hold adapter copies).

        The caller holds ``_lock``."""
        mine = [
            k
            for k, v in list(self.samplers.items())
            if v.adapter is not None and k.startswith(session_id + ":")
        ]
        for key in mine[:-MAX_SNAPSHOTS_PER_SESSION]:
            self.samplers.pop(key, None)

    def load_weights(
        self, path: str, model_id: str | None, session_id: str | None, seq: int | None, optimizer: bool
    ) -> dict[str, Any]:
        found = self.store.locate(path)
        if found.meta.get("kind") != "weights" and optimizer:
            raise ValueError(f"{path} is a sampler checkpoint; it has no optimizer state")
        adapter = self.store.load_adapter(found, trainable=True)
        if model_id is None:
            if session_id is None or seq is None:
                raise ValueError("load_weights needs model_id, or session_id and model_seq_id")
            model_id = f"{session_id}:train:{seq}"
            lora_cfg = dict(found.meta.get("lora_config") or {"rank": adapter.rank})
            meta = dict(found.meta.get("user_metadata") or {})
            tm = self._register(model_id, session_id, lora_cfg, adapter, meta)
        else:
            tm = self.training_model(model_id)
            tm.adapter = adapter
            tm.optimizer = trainer.make_optimizer(adapter)
        state = self.store.load_optimizer(found) if optimizer else None
        if state is not None:
            tm.optimizer.load_state_dict(state)
        return {"type": "load_weights", "path": path, "model_id": model_id}

    def _meta(self, tm: trainer.TrainingModel) -> dict[str, Any]:
        return {"base_model": tm.base_model, "lora_config": tm.lora_config, "user_metadata": tm.user_metadata}

    # sampling (worker thread) ----------------------------------------------------------------
    def sample(self, sampler: Sampler, spec: sampling.SampleSpec) -> sampling.SampleResult:
        return sampling.generate(self._base(), self._adapter_of(sampler), spec)

    def _adapter_of(self, sampler: Sampler) -> lora.Adapter | None:
        if sampler.adapter is None and sampler.model_path is not None:
            return self._adapter_for(sampler.model_path)
        return sampler.adapter

    def _adapter_for(self, path: str) -> lora.Adapter:
        if path in self._adapters:
            self._adapters.move_to_end(path)
            return self._adapters[path]
        adapter = self.store.load_adapter(self.store.locate(path), trainable=False)
        self._adapters[path] = adapter
        while len(self._adapters) > 16:
            self._adapters.popitem(last=False)
        return adapter
