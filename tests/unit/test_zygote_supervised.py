"""Sweeps through the real launch path: members forked from one warm zygote, each with its own
supervisor, console log, exit code, process group and stop; a gone zygote means a plain spawn."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from runner.control import actions, gitinfo, procs, state_dir, zygote_client
from runner.control.launch import LaunchRequest, launch, plan, write_records
from runner.control.spawn import spawn_supervisor
from runner.control.testing import SELFTEST_JOB, wait_for, wait_status
from runner.status import Status

MODULE = "runner.control.selftest_job"  # a module target, as the catalogue's recipes are


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def console(run_id: str) -> str:
    try:
        return state_dir.console_path(run_id).read_text()
    except FileNotFoundError:  # the supervisor has not written its first line yet
        return ""


def test_sweep_members_come_from_one_warm_zygote_with_their_own_exit_codes(work: Path) -> None:
    req = LaunchRequest(MODULE, ["steps=3"], name="warm", sweep=["exit_code=0,3"], cwd=work)
    ids = launch(req, plan(req))
    assert [wait_status(r, "finished", "failed") for r in ids] == ["finished", "failed"]
    states = [state_dir.read_state(r) or {} for r in ids]
    assert [s["exit_code"] for s in states] == [0, 3]
    assert all(s["warm"] is True and s.get("zygote") is None for s in states)
    for run_id in ids:
        text = console(run_id)
        assert "forked from the warm zygote" in text and "plain spawn" not in text
        log_path = Path((state_dir.read_state(run_id) or {})["log_path"])
        assert (log_path / "metrics.jsonl").read_text().count("\n") == 3


def test_stopping_a_warm_member_stops_only_it(work: Path) -> None:
    overrides = ["steps=100000", "step_seconds=0.05"]
    req = LaunchRequest(MODULE, overrides, name="st", sweep=["learning_rate=1e-4,2e-4"], cwd=work)
    ids = launch(req, plan(req))
    for run_id in ids:
        wait_status(run_id, "running")
    first, second = (state_dir.read_state(r) or {} for r in ids)
    zygote_pid = parent_of(first["pid"])
    assert parent_of(second["pid"]) == zygote_pid != first["supervisor_pid"]  # both forked by one parent
    assert first["pgid"] == first["pid"] and os.getpgid(first["pid"]) == first["pid"]
    actions.stop(ids[0], grace=10, wait=False)
    assert wait_status(ids[0], "stopped", "finished", "failed") == "stopped"
    assert (state_dir.read_state(ids[0]) or {})["signal"] == signal.SIGTERM
    assert procs.alive(second["pid"], second["pid_start"])  # the other member goes on
    actions.stop(ids[1], grace=10, wait=False)
    assert wait_status(ids[1], "stopped", "finished", "failed") == "stopped"


def test_a_gone_zygote_means_a_plain_spawn_said_in_the_console_log(work: Path, tmp_path: Path) -> None:
    req = LaunchRequest(SELFTEST_JOB, ["steps=2"], name="fallback", cwd=work)
    (run,) = plan(req)
    write_records(req, run, gitinfo.code_state(work), [])
    gone = tmp_path / "gone.sock"  # no zygote listens here
    state_dir.update_state(run.run_id, status=Status.STARTING, zygote=str(gone))
    spawn_supervisor(run.run_id)
    assert wait_status(run.run_id, "finished", "failed") == "finished"
    state = state_dir.read_state(run.run_id) or {}
    assert state["exit_code"] == 0 and state["warm"] is False and state.get("zygote") is None
    assert wait_for(
        lambda: "warm start unavailable" in console(run.run_id) and "plain spawn" in console(run.run_id)
    )


def test_a_stop_while_the_zygote_still_warms_starts_nothing(work: Path, tmp_path: Path) -> None:
    gate = tmp_path / "never"
    (work / "slowwarm.py").write_text(
        f"import os, time\nwhile not os.path.exists({str(gate)!r}):\n    time.sleep(0.05)\n"
    )
    address = zygote_client.start_zygote(sys.executable, work, dict(os.environ), "slowwarm")
    req = LaunchRequest(SELFTEST_JOB, ["steps=2"], name="early", cwd=work)
    (run,) = plan(req)
    write_records(req, run, gitinfo.code_state(work), [])
    state_dir.update_state(run.run_id, status=Status.STARTING, zygote=address)
    spawn_supervisor(run.run_id)
    wait_for(lambda: "attempt 1" in console(run.run_id), what="the supervisor waiting on the zygote")
    actions.stop(run.run_id, grace=10, wait=False)
    assert wait_status(run.run_id, "stopped", "finished", "failed") == "stopped"
    assert "stop requested before the job started" in console(run.run_id)
    assert not (Path(run.log_path) / "metrics.jsonl").exists()
    gate.write_text("")  # the zygote finishes warming, finds no one waiting, and leaves
