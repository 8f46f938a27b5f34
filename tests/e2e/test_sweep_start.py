"""A sweep of real cookbook runs on the real embedded backend, started from one warm zygote: every member
has its own supervisor, console log, process group, stop and resume; the key never reaches a log."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.control import actions, procs, records, state_dir
from runner.control.testing import wait_for, wait_status
from tests.e2e.conftest import Backend, launch_json

pytestmark = pytest.mark.e2e


def _has_metrics(run_id: str) -> bool:
    state = state_dir.read_state(run_id) or {}
    if records.effective_status(state) in ("failed", "lost", "stopped"):
        raise AssertionError(f"{run_id} ended: {records.tail(state_dir.console_path(run_id))[-8:]}")
    metrics = Path(state["log_path"]) / "metrics.jsonl"
    return metrics.exists() and metrics.stat().st_size > 0


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_sweep_members_fork_from_one_warm_parent_and_stop_alone(backend: Backend, tmp_path: Path) -> None:
    out = launch_json(
        tmp_path, "math_rl", "--local", "--smoke", "max_steps=50", "--name", "sw", "--sweep", "seed=0,1"
    )
    first, second = (r["run_id"] for r in out["runs"])
    wait_for(
        lambda: _has_metrics(first) and _has_metrics(second), timeout=600, what="both runs' first metrics"
    )
    a, b = (state_dir.read_state(r) or {} for r in (first, second))
    assert a["warm"] is True and b["warm"] is True
    zygote = _parent(a["pid"])
    assert _parent(b["pid"]) == zygote and zygote not in (a["supervisor_pid"], b["supervisor_pid"])
    assert b"runner.control.zygote" in Path(f"/proc/{zygote}/cmdline").read_bytes()
    zygote_log = (backend.home / "zygote.log").read_text()
    assert f"tokenizer of {backend.model_path} loaded" in zygote_log  # preloaded once for the batch
    assert os.getpgid(a["pid"]) == a["pid"] and os.getpgid(b["pid"]) == b["pid"]
    for run_id in (first, second):
        text = state_dir.console_path(run_id).read_text()
        assert "forked from the warm zygote" in text and backend.key not in text

    actions.stop(first, grace=10, wait=False)
    assert wait_status(first, "stopped", "finished", "failed", timeout=60) == "stopped"
    assert procs.alive(b["pid"], b["pid_start"])  # the other member goes on
    assert procs.alive(zygote, procs.start_time(zygote))

    actions.resume(first)  # a resume spawns plainly: the batch's zygote served its launch once
    wait_for(lambda: (state_dir.read_state(first) or {}).get("attempt", 1) > 1, timeout=60, what="resume")
    wait_status(first, "running", timeout=120)
    resumed = state_dir.read_state(first) or {}
    assert resumed["warm"] is False and _parent(resumed["pid"]) == resumed["supervisor_pid"]

    for run_id in (first, second):
        actions.stop(run_id, grace=10, wait=False)
    for run_id in (first, second):
        assert wait_status(run_id, "stopped", "finished", "failed", timeout=60) in ("stopped", "finished")
