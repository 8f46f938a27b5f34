"""Start ``tinkertop experiment`` from the launch form: :func:`validate_experiment` (its ``--dry-run``:
the planned run, or the plan stage's error naming file and line) and :func:`start_experiment` (detached,
its output in ``<results>/experiment.log``; :func:`experiment_exit` once it ends). Re-exported by
:mod:`runner.api`, the module the app calls."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from runner.control.launch import PlannedRun
from runner.control.launch_form import LAUNCH_TIMEOUT_S, RESULTS_DIR, LaunchForm, LaunchResult
from runner.control.spawn import start_detached

EXPERIMENT_LOG = "experiment.log"  # in the results folder: the detached experiment's output
_exits: dict[int, int] = {}  # pid -> exit code of the experiments this process started (reaped)


@dataclass(frozen=True)
class ExperimentStarted:
    """A detached ``tinkertop experiment``: its output goes to ``log`` in the ``results`` folder."""

    log: Path
    results: Path
    pid: int
    args: tuple[str, ...]


def _experiment_cmd(form: LaunchForm, *extra: str) -> list[str]:
    if not form.recipe:
        raise ValueError("an experiment needs a RECIPE (see tinkertop launch --list)")
    return [sys.executable, "-m", "runner.cli", *form.experiment_args(), *extra]


def validate_experiment(form: LaunchForm, cwd: Path, timeout: float = LAUNCH_TIMEOUT_S) -> LaunchResult:
    """``tinkertop experiment ... --dry-run --json``: the planned run, or the plan stage's error."""
    try:
        cmd = _experiment_cmd(form, "--dry-run", "--json")
    except ValueError as exc:  # a missing field or unbalanced quotes
        return LaunchResult(False, 2, str(exc))
    done = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout
    )
    error = "\n".join(line.removeprefix("tinkertop: ") for line in done.stderr.strip().splitlines())
    if done.returncode != 0:
        return LaunchResult(False, done.returncode, error or f"tinkertop experiment exited {done.returncode}")
    try:
        data = json.loads(done.stdout)
        plan = data["plan"]
    except (ValueError, KeyError, TypeError) as exc:
        return LaunchResult(False, -1, f"tinkertop experiment --dry-run: unreadable plan: {exc}")
    note = f"experiment ({plan['task_type']}): base eval on {form.eval_set}, train, trained eval"
    run = PlannedRun(
        name=str(plan["name"]),
        run_id="",
        log_path=str(plan["log_path"]),
        argv=[],
        overrides=list(plan.get("launch", {}).get("overrides", [])),
        config=dict(plan.get("config") or {}),
        notes=[note, f"results: {data['results']} (log: {EXPERIMENT_LOG})"],
    )
    return LaunchResult(True, 0, error, [run])


def start_experiment(form: LaunchForm, cwd: Path) -> ExperimentStarted:
    """Start ``tinkertop experiment`` detached (own session, stdin closed: it outlives the app), its
    output appended to ``<results>/experiment.log``. The environment is passed on as is (the key stays
    in it, never in an argument or the log); this process reaps it (:func:`experiment_exit`).
    ValueError: the form lacks a field; OSError: the folder or the process could not be made."""
    cmd = _experiment_cmd(form)
    results = (Path(cwd) / (form.results_dir or RESULTS_DIR)).resolve()
    results.mkdir(parents=True, exist_ok=True)
    log = results / EXPERIMENT_LOG
    with open(log, "ab") as out:
        out.write(f"$ tinkertop {shlex.join(cmd[3:])}\n".encode())
        out.flush()
        proc = start_detached(cmd, out, cwd=cwd)
    threading.Thread(target=_reap, args=(proc,), name=f"reap-{proc.pid}", daemon=True).start()
    return ExperimentStarted(log, results, proc.pid, tuple(cmd[3:]))


def _reap(proc: subprocess.Popen[bytes]) -> None:
    _exits[proc.pid] = proc.wait()


def experiment_exit(started: ExperimentStarted) -> int | None:
    """The exit code of an experiment this process started, None while it runs."""
    return _exits.get(started.pid)
