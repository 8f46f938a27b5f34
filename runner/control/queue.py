"""The run queue: at most N runs at once; queued runs start as slots free, each exactly once.

Queued runs are records with status ``queued``. ``drain()`` takes an exclusive ``fcntl`` lock on
``<state dir>/queue.lock``, counts live runs, and claims the oldest queued runs into the free slots by
rewriting their state to ``starting`` (atomic) before spawning their supervisors, so two processes
never start the same queued run. Every launch, every supervisor that ends, and ``tinkertop queue run``
calls it, so the queue moves with no app open.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runner import paths
from runner.control import records, state_dir
from runner.control.spawn import spawn_supervisor
from runner.status import LIVE, Status

DEFAULT_MAX_PARALLEL = 4


def settings_path() -> Path:
    return paths.state_dir() / "settings.json"


def max_parallel() -> int:
    """``$TINKERTOP_MAX_PARALLEL``, else ``max_parallel`` in settings.json, else 4."""
    env = os.environ.get("TINKERTOP_MAX_PARALLEL")
    if env and env.isdigit():
        return max(1, int(env))
    value = (state_dir.read_json(settings_path()) or {}).get("max_parallel")
    return max(1, int(value)) if isinstance(value, int) else DEFAULT_MAX_PARALLEL


def set_max_parallel(n: int) -> None:
    data = state_dir.read_json(settings_path()) or {}
    data["max_parallel"] = max(1, n)
    state_dir.write_json_atomic(settings_path(), data)


@contextmanager
def locked() -> Iterator[None]:
    """Exclusive lock shared by every process that claims queued runs."""
    with open(paths.state_dir() / "queue.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def snapshot() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(live runs, queued runs oldest first)."""
    live, queued = [], []
    for state in state_dir.iter_states():
        status = records.effective_status(state)
        if status in LIVE:
            live.append(state)
        elif status == Status.QUEUED:
            queued.append(state)
    queued.sort(key=lambda s: (s.get("queued_ts") or 0, s.get("run_id")))
    return live, queued


def drain(limit: int | None = None) -> list[str]:
    """Start queued runs into free slots; returns the ids this call started."""
    started: list[str] = []
    with locked():
        live, queued = snapshot()
        free = (limit or max_parallel()) - len(live)
        for state in queued[: max(0, free)]:
            run_id = state["run_id"]
            state_dir.update_state(
                run_id, status=Status.STARTING, claimed_ts=time.time(), claimed_by=os.getpid()
            )
            spec = state_dir.read_spec(run_id) or {}
            try:
                spawn_supervisor(run_id, python=spec.get("python"))
            except Exception as exc:
                state_dir.update_state(
                    run_id, status=Status.FAILED, error=str(exc), ended_at=state_dir.now_iso()
                )
                continue
            started.append(run_id)
    return started


def listing() -> list[dict[str, Any]]:
    """Live and queued runs with their position, for ``tinkertop queue``."""
    live, queued = snapshot()
    rows = [records.summarize(s) | {"position": None} for s in live]
    rows += [records.summarize(s) | {"position": i + 1} for i, s in enumerate(queued)]
    return rows
