"""Supervised runs with real processes: the self-test job is a real chz script, not a mock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from runner.control import actions, procs, records, state_dir
from runner.control.testing import launch_job, status, steps, wait_for, wait_status


def test_run_finishes_with_exit_code_and_record(work: Path) -> None:
    run_id = launch_job(work, "steps=4", name="ok")
    assert wait_status(run_id, "finished", "failed") == "finished"
    state = state_dir.read_state(run_id) or {}
    assert state["exit_code"] == 0 and state["started_at"] and state["ended_at"]
    assert procs.start_time(state["pid"]) != state["pid_start"]  # the job is gone
    assert steps(run_id) == [0, 1, 2, 3]
    assert "behavior_if_log_dir_exists=delete" in state["argv"]
    record = next((work / "notes" / "experiments").glob("*-ok.md")).read_text()
    assert "finished (exit code 0)" in record and "last step: 3" in record
    # the runner's own files live outside the cookbook folder
    assert not (work / "results" / "logs" / "ok" / "state.json").exists()
    assert records.status_for(work / "results" / "logs" / "ok")["status"] == "finished"


def test_experiment_record_is_complete_when_the_status_says_finished(work: Path) -> None:
    """Read the record at the first moment the status is final: it must already hold the outcome.
    (A long metrics file gives the supervisor's summary real work to do, so an order that wrote the
    status first would show the unfilled record here.)"""
    run_id = launch_job(work, "steps=40000", "step_seconds=0", name="order")
    record = wait_for(lambda: next((work / "notes" / "experiments").glob("*-order.md"), None))
    final = wait_for(
        lambda: (
            (state_dir.read_state(run_id) or {}).get("status") in state_dir.TERMINAL and record.read_text()
        ),
        timeout=300,
        interval=0.002,
        what="a final status",
    )
    assert "finished (exit code 0)" in final and "last step: 39999" in final, final


def test_failed_run_keeps_exit_code_and_last_lines(work: Path) -> None:
    run_id = launch_job(work, "steps=5", "fail_at=2", name="boom")
    assert wait_status(run_id, "finished", "failed") == "failed"
    info = records.status_for(work / "results" / "logs" / "boom")
    assert info is not None and info["exit_code"] == 1
    assert any("selftest failure at step 2" in line for line in info["console_tail"])


def test_secret_printed_by_the_job_is_masked_in_the_console_log(work: Path) -> None:
    key = os.environ["TINKER_API_KEY"]
    os.environ["MY_SERVICE_TOKEN"] = "plain-value-without-a-pattern-1234"
    try:
        run_id = launch_job(work, "steps=3", "print_env=TINKER_API_KEY,MY_SERVICE_TOKEN", name="leaky")
        assert wait_status(run_id, "finished", "failed") == "finished"
    finally:
        del os.environ["MY_SERVICE_TOKEN"]
    text = state_dir.console_path(run_id).read_text()
    assert "debug: TINKER_API_KEY is " + "*" * len(key) in text  # the job did print it; masked in place
    assert key not in text and "plain-value-without-a-pattern-1234" not in text
    assert "step 2" in text  # the rest of the output is intact


def _group_gone(pgid: int) -> bool:
    return not procs.group_members(pgid)


def test_stop_leaves_no_process_in_the_group(work: Path) -> None:
    run_id = launch_job(work, "steps=100000", "step_seconds=0.05", "spawn_grandchild=true", name="long")
    wait_for(lambda: len(steps(run_id)) >= 2, what="first metrics")
    pgid = (state_dir.read_state(run_id) or {})["pgid"]
    assert len(wait_for(lambda: len(procs.group_members(pgid)) >= 2 and procs.group_members(pgid))) >= 2
    out = actions.stop("long", grace=5)
    assert out.status == "stopped"
    state = state_dir.read_state(run_id) or {}
    assert state["status"] == "stopped" and state["killed"] is False
    assert _group_gone(pgid)


def test_job_ignoring_sigterm_is_killed_after_grace(work: Path) -> None:
    run_id = launch_job(work, "steps=100000", "ignore_term=true", name="stubborn")
    wait_for(lambda: len(steps(run_id)) >= 1, what="first metrics")
    pgid = (state_dir.read_state(run_id) or {})["pgid"]
    out = actions.stop(run_id, grace=1.0)
    state = state_dir.read_state(run_id) or {}
    assert out.status == "stopped" and state["killed"] is True
    assert state["exit_code"] == -signal.SIGKILL
    assert _group_gone(pgid)


def test_killed_supervisor_is_lost_never_running(work: Path) -> None:
    run_id = launch_job(work, "steps=100000", name="orphan")
    wait_for(lambda: len(steps(run_id)) >= 1, what="first metrics")
    state = state_dir.read_state(run_id) or {}
    os.kill(state["supervisor_pid"], signal.SIGKILL)
    wait_for(lambda: records.status_for(work / "results/logs/orphan")["status"] == "lost", what="lost")
    info = records.status_for(work / "results/logs/orphan")
    assert info["status"] == "lost" and info["job_alive"] is True
    # stopping a lost run signals the job's group directly
    assert actions.stop("orphan", grace=2).status == "stopped"
    assert _group_gone(state["pgid"])


def test_reused_pid_is_not_taken_for_a_live_run(work: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        real = procs.start_time(other.pid)
        assert real is not None and procs.alive(other.pid, real)
        run_id = state_dir.run_id_for(work / "results/logs/ghost")
        state_dir.write_state(
            run_id,
            {
                "run_id": run_id,
                "name": "ghost",
                "status": "running",
                "supervisor_pid": other.pid,
                "supervisor_start": real - 1,
                "pid": other.pid,
                "pid_start": real - 1,
            },
        )
        assert records.effective_status(state_dir.read_state(run_id) or {}) == "lost"
        assert not procs.alive(other.pid, real - 1)
    finally:
        other.kill()
        other.wait()


def test_runs_outlive_a_sigkilled_launcher(work: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from runner.control.testing import launch_job
        ids = [launch_job(Path({str(work)!r}), "steps=60", "step_seconds=0.1", name=f"keep{{i}}") for i in range(3)]
        print(" ".join(ids), flush=True)
        time.sleep(600)
        """
    )
    launcher = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert launcher.stdout is not None
    ids = launcher.stdout.readline().split()
    assert len(ids) == 3
    for run_id in ids:
        wait_for(lambda r=run_id: len(steps(r)) >= 2, what="metrics")
    launcher.send_signal(signal.SIGKILL)
    launcher.wait()
    before = {r: len(steps(r)) for r in ids}
    for run_id in ids:
        assert status(run_id) in ("running", "finished")  # never lost: supervisors are detached
        wait_for(lambda r=run_id: len(steps(r)) >= min(before[r] + 2, 60), what="steps advancing")
    assert any(before[r] < 60 for r in ids)  # at least one run was mid-way when the launcher died
    for run_id in ids:
        assert wait_status(run_id, "finished", "failed", "lost") == "finished"
        assert steps(run_id) == list(range(60))


def test_resume_continues_in_the_same_folder(work: Path) -> None:
    run_id = launch_job(work, "steps=30", "step_seconds=0.05", name="again")
    wait_for(lambda: len(steps(run_id)) >= 3, what="metrics")
    actions.stop("again", grace=5)
    done = len(steps(run_id))
    assert done < 30
    actions.resume("again")
    assert wait_status(run_id, "finished", "failed") == "finished"
    state = state_dir.read_state(run_id) or {}
    assert state["attempt"] == 2 and "behavior_if_log_dir_exists=resume" in state["argv"]
    assert steps(run_id) == list(range(30))
