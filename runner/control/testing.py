"""Helpers for tests and benchmarks that drive real supervised processes (no mocks)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from runner.control import records, state_dir
from runner.control.launch import LaunchRequest, launch, plan
from runner.status import Status

SELFTEST_JOB = str(Path(__file__).with_name("selftest_job.py"))
T = TypeVar("T")


def wait_for(cond: Callable[[], T], timeout: float = 30.0, interval: float = 0.05, what: str = "") -> T:
    """Poll ``cond`` until it returns something truthy; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or cond}")
        time.sleep(interval)


def launch_job(cwd: Path, *overrides: str, name: str | None = None, queue: bool = False, **kw: Any) -> str:
    """Launch the self-test job through the real launch path; returns its run id."""
    req = LaunchRequest(SELFTEST_JOB, list(overrides), name=name, queue=queue, cwd=cwd, **kw)
    return launch(req, plan(req))[0]


def status(run_id: str) -> Status:
    return records.effective_status(state_dir.read_state(run_id) or {})


def wait_status(run_id: str, *wanted: str, timeout: float = 60.0) -> str:
    def reached() -> str | None:
        now = status(run_id)
        return now if now in wanted else None

    return str(wait_for(reached, timeout, what=f"{run_id} {wanted}"))


def steps(run_id: str) -> list[int]:
    """Steps in the run's metrics.jsonl, in file order."""
    path = Path((state_dir.read_state(run_id) or {})["log_path"]) / "metrics.jsonl"
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    return [json.loads(line)["step"] for line in lines if line.strip()]
