"""Status of a run as its supervisor recorded it, with liveness checked against /proc.

``status_for(run_path)`` is what the run-folder reader calls for every run at each refresh: it is one
``stat`` for folders tinkertop did not launch, and cached by state-file mtime otherwise (the /proc
liveness check is redone for live runs, it is a couple of small reads).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from runner.control import procs, state_dir
from runner.runs.console import read_console_tail
from runner.status import LIVE, Status

# a claimed run whose supervisor has not yet written its pid is "starting" for this long, then lost
START_TIMEOUT_S = 60.0
TAIL_LINES = 20

# run id -> (state mtime, state, summary)
_cache: dict[str, tuple[float, dict[str, Any], dict[str, Any]]] = {}
_roots: dict[tuple[str | None, str | None], Path] = {}  # (TINKERTOP_HOME, HOME) -> runs_root()


def supervisor_alive(state: dict[str, Any]) -> bool:
    return procs.alive(state.get("supervisor_pid"), state.get("supervisor_start"))


def job_alive(state: dict[str, Any]) -> bool:
    return procs.alive(state.get("pid"), state.get("pid_start"))


def effective_status(state: dict[str, Any]) -> Status:
    """The recorded status, except a live status whose supervisor is gone becomes ``lost`` (so does a
    record with no status; a word that is not a status is ``unknown``)."""
    status = Status.parse(state.get("status") or Status.LOST, Status.UNKNOWN)
    if status not in LIVE:
        return status
    if state.get("supervisor_pid"):
        return status if supervisor_alive(state) else Status.LOST
    claimed = float(state.get("claimed_ts") or 0)
    return status if time.time() - claimed < START_TIMEOUT_S else Status.LOST


def tail(path: Path, lines: int = TAIL_LINES, max_bytes: int = 64_000) -> list[str]:
    """The last non-blank lines of a console capture (at most ``max_bytes`` read from its end; each
    progress-bar update after a ``\\r`` is a line): :func:`runner.runs.console.read_console_tail`."""
    return read_console_tail(path, lines, max_bytes, skip_blank=True)


def summarize(state: dict[str, Any]) -> dict[str, Any]:
    """The fields the reader and the CLI show."""
    run_id = state.get("run_id", "")
    status = effective_status(state)
    out = {
        "run_id": run_id,
        "name": state.get("name"),
        "status": status,
        "recorded_status": state.get("status"),
        "exit_code": state.get("exit_code"),
        "pid": state.get("pid"),
        "supervisor_pid": state.get("supervisor_pid"),
        "started": state.get("started_at"),
        "ended": state.get("ended_at"),
        "created": state.get("created_at"),
        "log_path": state.get("log_path"),
        "recipe": state.get("recipe"),
        "local": state.get("local", False),
        "attempt": state.get("attempt", 1),
        "console_log": str(state_dir.console_path(run_id)),
        "error": state.get("error"),
        "stopping": bool(state.get("stop_requested")) and status in LIVE,
        "job_alive": job_alive(state) if status == Status.LOST else None,
    }
    if status in (Status.FAILED, Status.LOST):
        out["console_tail"] = tail(state_dir.console_path(run_id))
    return out


def _records_root() -> Path:
    """``state_dir.runs_root()`` made (and its folders created) once per ``TINKERTOP_HOME`` / ``HOME``, not
    once per run: a scan asks for every run, and the root only moves with those variables."""
    key = (os.environ.get("TINKERTOP_HOME"), os.environ.get("HOME"))
    root = _roots.get(key)
    if root is None:
        root = _roots[key] = state_dir.runs_root()
    return root


def status_for(run_path: str | Path) -> dict[str, Any] | None:
    """Supervisor status of the run in folder ``run_path``, or None if tinkertop did not launch it."""
    run_id = state_dir.run_id_for(run_path)
    path = _records_root() / run_id / "state.json"
    try:
        mtime = path.stat().st_mtime
    except OSError:
        _cache.pop(run_id, None)
        return None
    hit = _cache.get(run_id)
    if hit and hit[0] == mtime:
        if hit[2]["status"] not in LIVE:
            return hit[2]
        state = hit[1]  # live: only the /proc check is redone
    else:
        state = state_dir.read_state(run_id) or {}
        if not state:
            return None
    result = summarize(state)
    _cache[run_id] = (mtime, state, result)
    return result


def list_runs() -> list[dict[str, Any]]:
    return [summarize(s) for s in state_dir.iter_states()]
