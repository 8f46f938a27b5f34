"""The one engine interface the app calls for run control: typed calls, typed results, no Textual.

Everything here blocks (subprocesses, file reads, waits): call it from thread workers only. Launching,
validating and the model lineup run in subprocesses (``runner.control.launcher``, ``.lineup``), so the
cookbook's heavy imports (torch, transformers) never enter the caller's process.

- the launch form: :class:`LaunchForm` (``request()`` is its :class:`LaunchRequest`), :func:`validate`,
  :func:`launch` -> :class:`LaunchResult` with typed :class:`PlannedRun` s, :func:`model_lineup`;
  with ``experiment`` on, :func:`validate` is ``tinkertop experiment --dry-run`` and
  :func:`start_experiment` -> :class:`ExperimentStarted` starts the experiment detached;
- one run: :func:`lookup` -> :class:`RunRef`, :func:`run_info`, :func:`stop`, :func:`resume`,
  :func:`delete`, :func:`clone_form` -> :class:`ActionResult`;
- the runs list: :class:`PendingRuns` (records with no folder yet) and :func:`status_source`, the
  supervisor's records for the run-folder reader (``RunStore(roots, status_source())``).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.control.pending import PendingRuns
from runner.runs.status import StatusSource
from runner.status import LIVE, Status

if TYPE_CHECKING:
    from runner.control.launch import LaunchRequest, PlannedRun
    from runner.control.launch_form import (
        FIELD_KEYS,
        LAUNCH_TIMEOUT_S,
        RESULTS_DIR,
        LaunchForm,
        LaunchResult,
        form_from_spec,
    )
    from runner.experiment.start import (
        EXPERIMENT_LOG,
        ExperimentStarted,
        experiment_exit,
        start_experiment,
        validate_experiment,
    )

# The launch side (launch form, recipe catalogue, experiments: ~30 ms of imports) loads on first use: the
# app's runs list, which its first paint needs, imports this module for PendingRuns and status_source.
_LAZY = {
    **dict.fromkeys(("LaunchRequest", "PlannedRun"), "runner.control.launch"),
    **dict.fromkeys(
        ("FIELD_KEYS", "LAUNCH_TIMEOUT_S", "RESULTS_DIR", "LaunchForm", "LaunchResult", "form_from_spec"),
        "runner.control.launch_form",
    ),
    **dict.fromkeys(
        ("EXPERIMENT_LOG", "ExperimentStarted", "experiment_exit", "start_experiment", "validate_experiment"),
        "runner.experiment.start",
    ),
}


def __getattr__(name: str) -> Any:
    """``api.LaunchForm`` and the other names of the launch side, imported on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "EXPERIMENT_LOG",
    "FIELD_KEYS",
    "LAUNCH_TIMEOUT_S",
    "RESULTS_DIR",
    "ExperimentStarted",
    "LaunchForm",
    "LaunchRequest",
    "LaunchResult",
    "PendingRuns",
    "PlannedRun",
    "Status",
    "experiment_exit",
    "form_from_spec",
    "start_experiment",
    "validate_experiment",
]

LINEUP_TIMEOUT_S = 180.0
REPO = Path(__file__).resolve().parents[1]  # where ``python -m runner...`` finds this package


def status_source() -> StatusSource:
    """The supervisor's records (``runner.control.records.status_for``): what the run-folder reader
    asks for the status of each run tinkertop launched."""
    from runner.control.records import status_for

    return status_for


@dataclass(frozen=True)
class ModelChoice:
    name: str
    label: str  # base | instruct | hybrid | reasoning (+vision)
    size: str
    renderer: str
    lr: float | None


@dataclass(frozen=True)
class RunRef:
    """A run folder and, when tinkertop launched it, its supervisor record (``run_id`` None: not)."""

    path: str
    name: str
    run_id: str | None
    status: Status
    pid: int | None = None
    exit_code: int | None = None

    def title(self) -> str:
        pid = f", pid {self.pid}" if self.pid else ""
        return f"{self.name} ({self.status}{pid})"


@dataclass
class ActionResult:
    ok: bool
    message: str
    ref: RunRef | None = None
    form: LaunchForm | None = None
    extra: dict[str, object] = field(default_factory=dict)


def launch_request(req: LaunchRequest, dry_run: bool, timeout: float | None = None) -> LaunchResult:
    """``python -m runner.control.launcher``: plan (and unless ``dry_run``, start) ``req`` (``timeout``:
    default ``LAUNCH_TIMEOUT_S``)."""
    from runner.control.launch import PlannedRun
    from runner.control.launch_form import LAUNCH_TIMEOUT_S, LaunchResult

    done = subprocess.run(
        [sys.executable, "-m", "runner.control.launcher", *(["--dry-run"] if dry_run else [])],
        input=json.dumps(req.to_json()),
        cwd=req.cwd,
        capture_output=True,
        text=True,
        timeout=LAUNCH_TIMEOUT_S if timeout is None else timeout,
    )
    error = "\n".join(line.removeprefix("tinkertop: ") for line in done.stderr.strip().splitlines())
    try:
        data = json.loads(done.stdout) if done.stdout.strip() else {}
    except ValueError:
        data = {}
    runs = [PlannedRun.from_json(r) for r in data.get("runs", [])]
    return LaunchResult(done.returncode == 0, done.returncode, error, runs, list(data.get("ids", [])))


def validate(form: LaunchForm, cwd: Path) -> LaunchResult:
    """A dry run: the resolved configs, or the error naming the bad key (nothing reserved, nothing run).

    An experiment form runs ``tinkertop experiment ... --dry-run``: the pipeline's own plan stage (the
    eval set read, an error naming its file and line; the launch validated)."""
    if form.experiment:
        from runner.experiment.start import validate_experiment

        return validate_experiment(form, cwd)
    return _form_launch(form, cwd, dry_run=True)


def launch(form: LaunchForm, cwd: Path) -> LaunchResult:
    """Validate again and start the runs (supervised, detached) or queue them."""
    return _form_launch(form, cwd, dry_run=False)


def _form_launch(form: LaunchForm, cwd: Path, dry_run: bool) -> LaunchResult:
    from runner.control.launch_form import LaunchResult

    if not form.recipe:
        return LaunchResult(False, 2, "launch needs a RECIPE (see tinkertop launch --list)")
    try:
        req = form.request(cwd)
    except ValueError as exc:  # unbalanced quotes in the free fields
        return LaunchResult(False, 2, f"overrides: {exc}")
    return launch_request(req, dry_run)


def model_lineup(timeout: float = LINEUP_TIMEOUT_S) -> list[ModelChoice]:
    """The cookbook's models with type, recommended renderer and suggested learning rate."""
    done = subprocess.run(
        [sys.executable, "-m", "runner.control.lineup", "--json"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        cwd=REPO,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "lineup failed")
    rows = json.loads(done.stdout)
    return [ModelChoice(r["name"], r["label"], r["size"], r["renderer"], r.get("lr")) for r in rows]


def lookup(path: str) -> RunRef:
    """The run at folder ``path`` with its supervisor status (``run_id`` None: not launched here)."""
    from runner.control import records, state_dir

    run_id = state_dir.run_id_for(path)
    state = state_dir.read_state(run_id)
    name = Path(path).name
    if state is None:
        return RunRef(path, name, None, Status.UNKNOWN)
    status = records.effective_status(state)
    pid = state.get("pid") if status in LIVE | {Status.LOST} else None
    return RunRef(path, str(state.get("name") or name), run_id, status, pid, state.get("exit_code"))


def _act(fn: Callable[..., Any], ref: RunRef, *args: object) -> ActionResult:
    from runner.control.actions import ActionError

    if ref.run_id is None:
        return ActionResult(False, f"{ref.name} was not launched by tinkertop: no supervisor to ask", ref)
    try:
        out = fn(ref.run_id, *args)
    except (ActionError, OSError, RuntimeError) as exc:
        return ActionResult(False, str(exc), ref)
    return ActionResult(True, f"{ref.name}: {out.message}", replace(ref, status=out.status))


def stop(ref: RunRef, grace: float = 10.0) -> ActionResult:
    """SIGTERM to the run's process group, SIGKILL after ``grace``; waits for the record."""
    from runner.control import actions

    return _act(actions.stop, ref, grace, True)


def resume(ref: RunRef) -> ActionResult:
    from runner.control import actions

    return _act(actions.resume, ref)


def delete(ref: RunRef, typed: str) -> ActionResult:
    """Delete the run's folder and record; ``typed`` must be exactly its name (the runner checks)."""
    from runner.control import actions

    return _act(actions.rm, ref, typed)


def clone_form(ref: RunRef, lr_factor: float | None = None) -> ActionResult:
    """The run's launch spec as a form to edit and relaunch (sweep members keep their values).

    ``lr_factor``: the learning rate scaled by it already filled in (from the launch spec, else the
    run's config.json), and the name saying so; no learning rate found is an error, not a guess."""
    from runner.control import state_dir
    from runner.control.launch_form import form_from_spec

    spec = state_dir.read_spec(ref.run_id) if ref.run_id else None
    if not spec:
        return ActionResult(False, f"{ref.name}: no launch spec (not launched by tinkertop)", ref)
    form = form_from_spec(spec)
    if lr_factor is None:
        return ActionResult(True, f"cloned {ref.name}", ref, form=form)
    lr = _float(form.learning_rate) or _float(_config_value(ref.path, "learning_rate"))
    if lr is None:
        return ActionResult(False, f"{ref.name}: no learning rate in its launch spec or config.json", ref)
    new = f"{lr * lr_factor:.3g}"
    form = replace(form, learning_rate=new, name=f"{spec.get('name', 'run')}-lr{new}")
    return ActionResult(True, f"cloned {ref.name} with learning rate {lr:g} -> {new}", ref, form=form)


def _float(text: object) -> float | None:
    try:
        value = float(str(text)) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and value == value and value > 0 else None


def _config_value(path: str, key: str) -> object:
    """A top-level value of the run's config.json, read as the run view reads it (bounded)."""
    from runner.runs.folder import read_config

    config, _ = read_config(Path(path) / "config.json")
    return config.get(key) if config else None


@dataclass(frozen=True)
class RunInfo:
    """What the run view adds about control: supervisor status, exit code, console tail, W&B."""

    ref: RunRef
    console_tail: list[str]
    wandb: str | None
    wandb_url: str | None


def run_info(path: str) -> RunInfo:
    """Read the run's record (if any) and find its W&B run (reads files: call from a worker)."""
    from runner.control import records
    from runner.runs.links import wandb_link

    ref = lookup(path)
    record = records.status_for(path) if ref.run_id else None
    console = (record or {}).get("console_log")
    link = wandb_link(path, (console,) if console else ())
    tail = list((record or {}).get("console_tail") or [])
    return RunInfo(ref, tail, link.describe() if link else None, link.url if link else None)
