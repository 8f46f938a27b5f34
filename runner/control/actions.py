"""Control actions on runs: stop, resume, clone, rm. RUN is a run name, id, or folder path."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from runner.control import procs, queue, records, state_dir
from runner.control.spawn import spawn_supervisor
from runner.status import LIVE_OR_QUEUED, TERMINAL, Status


class ActionError(Exception):
    """An action refused (exit code 2)."""


@dataclass
class Outcome:
    run_id: str
    status: Status
    message: str


def _resolve(ref: str) -> tuple[str, dict]:
    problem = state_dir.ref_problem(ref)
    if problem:
        raise ActionError(problem)
    run_id = state_dir.resolve(ref)
    state = state_dir.read_state(run_id) if run_id else None
    if not run_id or state is None:
        raise ActionError(f"no run named {ref!r} (a run name, id, or folder path launched by tinkertop)")
    return run_id, state


def wait_status(run_id: str, statuses: Iterable[str], timeout: float) -> Status:
    """Poll the state until its effective status is one of ``statuses`` (or the timeout passes)."""
    deadline, wanted = time.monotonic() + timeout, set(statuses)
    while True:
        status = records.effective_status(state_dir.read_state(run_id) or {})
        if status in wanted or time.monotonic() >= deadline:
            return status
        time.sleep(0.1)


def stop(ref: str, grace: float = 10.0, wait: bool = True) -> Outcome:
    """SIGTERM to the job's group, SIGKILL after ``grace``; the supervisor reaps and records it."""
    run_id, state = _resolve(ref)
    status = records.effective_status(state)
    if status == Status.QUEUED:
        with queue.locked():
            if (state_dir.read_state(run_id) or {}).get("status") == Status.QUEUED:
                state_dir.update_state(run_id, status=Status.STOPPED, ended_at=state_dir.now_iso())
                return Outcome(run_id, Status.STOPPED, "removed from the queue")
        state = state_dir.read_state(run_id) or {}
        status = records.effective_status(state)
    if status in TERMINAL:
        return Outcome(run_id, status, f"already {status}")
    if status == Status.LOST:
        _record_lost(run_id, state)
        return _stop_orphan(run_id, state, grace)
    state_dir.write_json_atomic(
        state_dir.record_dir(run_id) / "stop.json", {"grace": grace, "at": state_dir.now_iso()}
    )
    procs.signal_pid(state.get("supervisor_pid") or 0, state.get("supervisor_start"), signal.SIGTERM)
    if not wait:
        return Outcome(run_id, Status.STOPPING, "stop requested")
    final = wait_status(run_id, TERMINAL | {Status.LOST}, grace + 30)
    return Outcome(run_id, final, f"{final}")


def _record_lost(run_id: str, state: dict) -> None:
    """Persist what /proc showed: the supervisor is gone without a final record."""
    if state.get("status") != Status.LOST:
        state_dir.update_state(run_id, status=Status.LOST, lost_at=state_dir.now_iso())


def _stop_orphan(run_id: str, state: dict, grace: float) -> Outcome:
    """The supervisor is gone: signal the job's group directly if it is still the same process."""
    pid, started = int(state.get("pid") or 0), state.get("pid_start")
    if pid and procs.alive(pid, started):
        procs.signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while procs.group_members(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if procs.group_members(pid):
            procs.signal_group(pid, signal.SIGKILL)
    state_dir.update_state(
        run_id, status=Status.STOPPED, ended_at=state_dir.now_iso(), error="supervisor was lost"
    )
    return Outcome(run_id, Status.STOPPED, "supervisor was lost; job group signalled directly")


def resume(ref: str) -> Outcome:
    """Relaunch in the same folder with behavior_if_log_dir_exists=resume (last checkpoint)."""
    run_id, state = _resolve(ref)
    status = records.effective_status(state)
    if status in LIVE_OR_QUEUED:
        raise ActionError(f"{state.get('name')} is {status}: nothing to resume")
    if status == Status.LOST and records.job_alive(state):
        raise ActionError(
            f"{state.get('name')} is lost but its job (pid {state.get('pid')}) still runs: stop it first"
        )
    spec = state_dir.read_spec(run_id)
    if spec is None:
        raise ActionError(f"{run_id}: spec.json is missing; cannot resume")
    if status == Status.LOST:
        _record_lost(run_id, state)
    if not spec.get("logdir_arg", True):
        raise ActionError(f"{spec.get('recipe')} cannot resume (its log-dir behaviour is fixed to 'ask')")
    (state_dir.record_dir(run_id) / "stop.json").unlink(missing_ok=True)
    state_dir.update_state(
        run_id,
        status=Status.STARTING,
        mode="resume",
        attempt=int(state.get("attempt", 1)) + 1,
        claimed_ts=time.time(),
        exit_code=None,
        ended_at=None,
        error=None,
        supervisor_pid=None,
        stop_requested=False,
    )
    spawn_supervisor(run_id, python=spec.get("python"))
    where = last_checkpoint(Path(spec["log_path"]))
    frm = f"from checkpoint {where}" if where else "with no checkpoint yet (starts over)"
    return Outcome(run_id, Status.STARTING, f"resuming {spec['name']} in {spec['log_path']} {frm}")


def last_checkpoint(log_path: Path) -> str | None:
    """Name of the last ``checkpoints.jsonl`` record with a ``state_path`` (what the cookbook resumes)."""
    import json

    try:
        lines = (log_path / "checkpoints.jsonl").read_text().splitlines()
    except OSError:
        return None
    found = None
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("state_path"):
            found = str(row.get("name"))
    return found


def clone_command(ref: str) -> str:
    """The run's launch as a command line to edit and run again."""
    run_id, _ = _resolve(ref)
    spec = state_dir.read_spec(run_id) or {}
    parts = ["tinkertop", "launch", spec.get("recipe", "?"), *spec.get("user_overrides", [])]
    parts += spec.get("combo", [])
    if spec.get("local"):
        parts.append("--local")
    if spec.get("smoke"):
        parts.append("--smoke")
    base = str(spec.get("name", "run"))[: state_dir.MAX_NAME - len("-clone")]
    parts += ["--name", f"{base}-clone"]
    return shlex.join(parts)


def rm(ref: str, confirm: str | None) -> Outcome:
    """Delete a run's folder and record, only when ``confirm`` is exactly its name; never a live run,
    never a folder that holds a live run or sits inside one, never through a symlink."""
    run_id, state = _resolve(ref)
    name = state.get("name") or run_id
    status = records.effective_status(state)
    if _is_live(state):
        raise ActionError(f"{name} is {status}: stop it before deleting")
    if confirm != name:
        raise ActionError(f"deleting {name} needs the confirmation --yes-delete {name}")
    if not state.get("log_path"):
        raise ActionError(f"{name}: its record names no folder; nothing deleted")
    folder = Path(state["log_path"])
    if folder.is_symlink():
        raise ActionError(
            f"{name}: {folder} is a symlink to {os.readlink(folder)}; refusing to follow it, nothing "
            "deleted (remove the link yourself if you mean to)"
        )
    with queue.locked():  # no queued run starts in the folder while it is checked and deleted
        _refuse_live_overlap(run_id, name, folder)
        if folder.is_dir():
            shutil.rmtree(folder)
        shutil.rmtree(state_dir.record_dir(run_id), ignore_errors=True)
    return Outcome(run_id, Status.DELETED, f"deleted {folder} and its record")


def _is_live(state: dict) -> bool:
    status = records.effective_status(state)
    return status in LIVE_OR_QUEUED or (status == Status.LOST and records.job_alive(state))


def _overlaps(a: str, b: str) -> bool:
    """One folder is the other or inside it (both real paths)."""
    return os.path.commonpath([a, b]) in (a, b)


def _refuse_live_overlap(run_id: str, name: str, folder: Path) -> None:
    """ActionError naming a live (or queued) run whose folder is, holds, or sits inside ``folder``."""
    real = state_dir.real_folder(folder)
    for other in state_dir.iter_states():
        path = other.get("log_path")
        if other.get("run_id") == run_id or not path or not _is_live(other):
            continue
        if _overlaps(real, state_dir.real_folder(path)):
            raise ActionError(
                f"{name}: refusing to delete {folder}: the live run {other.get('name')} "
                f"({records.effective_status(other)}, {path}) shares it; stop that run first"
            )
