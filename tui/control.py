"""Worker-side calls for run control from the app: launch form values, lookups, stop/resume/delete.

Everything here blocks (subprocesses, file reads, waits): call it from thread workers only. Recipe
validation, the model lineup and the learning-rate suggestions run in subprocesses, so the cookbook's
heavy imports (torch, transformers) never enter the app's process. No Textual here.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from runner.control.api import LaunchResult, launch_cli
from runner.runs.model import RunSummary

FIELD_KEYS = {"model": "model_name", "renderer": "renderer_name", "learning_rate": "learning_rate"}
LINEUP_TIMEOUT_S = 180.0
# prints the lineup with each model's recommended renderer and suggested learning rate as JSON
_LINEUP_SCRIPT = """
import json
from runner.control.catalogue import models, suggested_lr
print(json.dumps([m.__dict__ | {"label": m.label, "lr": suggested_lr(m.name)} for m in models()]))
"""


@dataclass(frozen=True)
class LaunchForm:
    """What the launch form holds; ``args()`` is the ``tinkertop launch`` argument list."""

    recipe: str
    model: str = ""
    renderer: str = ""
    learning_rate: str = ""
    local: bool = False
    smoke: bool = False
    queue: bool = False  # queue the runs (at most N at once) instead of starting them now
    name: str = ""
    overrides: str = ""  # free "key=value key=value" text (shell quoting allowed)
    sweep: str = ""  # "key=a,b,c key2=x,y": one run per combination

    def override_list(self) -> list[str]:
        out = [f"{key}={getattr(self, attr)}" for attr, key in FIELD_KEYS.items() if getattr(self, attr)]
        return out + shlex.split(self.overrides)

    def args(self) -> list[str]:
        args = [self.recipe, *self.override_list()]
        args += ["--local"] if self.local else []
        args += ["--smoke"] if self.smoke else []
        args += ["--queue"] if self.queue else []
        args += ["--name", self.name] if self.name else []
        for item in shlex.split(self.sweep):
            args += ["--sweep", item]
        return args


@dataclass(frozen=True)
class ModelChoice:
    name: str
    label: str  # base | instruct | hybrid | reasoning (+vision)
    size: str
    renderer: str
    lr: float | None


@dataclass(frozen=True)
class RunRef:
    """A run folder and, when tinkertop launched it, its supervisor record."""

    path: str
    name: str
    run_id: str | None
    status: str
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


def validate(form: LaunchForm, cwd: Path) -> LaunchResult:
    """``tinkertop launch ... --dry-run``: resolved configs, or the error naming the bad key."""
    try:
        args = form.args()
    except ValueError as exc:  # unbalanced quotes in the free fields
        return LaunchResult(False, 2, f"overrides: {exc}")
    return launch_cli([*args, "--dry-run"], cwd=cwd)


def launch(form: LaunchForm, cwd: Path) -> LaunchResult:
    """Validate again and start the runs (supervised, detached)."""
    return launch_cli(form.args(), cwd=cwd)


def model_lineup(timeout: float = LINEUP_TIMEOUT_S) -> list[ModelChoice]:
    """The cookbook's models with type, recommended renderer and suggested learning rate."""
    done = subprocess.run(
        [sys.executable, "-c", _LINEUP_SCRIPT],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[1],
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "lineup failed")
    rows = json.loads(done.stdout)
    return [ModelChoice(r["name"], r["label"], r["size"], r["renderer"], r.get("lr")) for r in rows]


def lookup(path: str) -> RunRef:
    """The run at folder ``path`` with its supervisor status (``run_id`` None: not launched here)."""
    from runner.control import records, store

    run_id = store.run_id_for(path)
    state = store.read_state(run_id)
    name = Path(path).name
    if state is None:
        return RunRef(path, name, None, "not launched by tinkertop")
    status = records.effective_status(state)
    pid = state.get("pid") if status in (*records.LIVE, "lost") else None
    return RunRef(path, str(state.get("name") or name), run_id, status, pid, state.get("exit_code"))


def _act(fn, ref: RunRef, *args: object) -> ActionResult:  # type: ignore[no-untyped-def]
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
    from runner.control import store

    spec = store.read_spec(ref.run_id) if ref.run_id else None
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


def form_from_spec(spec: dict) -> LaunchForm:
    """Split a spec's overrides back into the form's fields."""
    fields: dict[str, str] = {}
    rest: list[str] = []
    by_key = {key: attr for attr, key in FIELD_KEYS.items()}
    for item in [*spec.get("user_overrides", []), *spec.get("combo", [])]:
        key, _, value = str(item).partition("=")
        if key in by_key:
            fields[by_key[key]] = value
        else:
            rest.append(str(item))
    return LaunchForm(
        recipe=str(spec.get("recipe") or ""),
        local=bool(spec.get("local")),
        smoke=bool(spec.get("smoke")),
        name=f"{spec.get('name', 'run')}-clone",
        overrides=shlex.join(rest),
        model=fields.get("model", ""),
        renderer=fields.get("renderer", ""),
        learning_rate=fields.get("learning_rate", ""),
    )


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


class PendingRuns:
    """Runs whose supervisor record exists but whose folder does not (yet): queued, starting, or
    failed before the job made its folder. The runs list shows them from the record alone."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = [os.path.abspath(r) for r in roots]
        self._shown: set[str] = set()
        self._ids: dict[str, str] = {}  # folder -> run id
        self._states: dict[str, tuple[float, dict]] = {}  # run id -> (state mtime, state)

    def _under_roots(self, path: str) -> bool:
        return any(path == r or path.startswith(r + os.sep) for r in self.roots)

    def _state(self, run_dir: Path) -> dict | None:
        """A record's state, re-read only when its file changed."""
        from runner.control import store

        try:
            mtime = (run_dir / "state.json").stat().st_mtime
        except OSError:
            return None
        hit = self._states.get(run_dir.name)
        if hit is None or hit[0] != mtime:
            state = store.read_json(run_dir / "state.json")
            if state is None:
                return None
            hit = self._states[run_dir.name] = (mtime, state)
        return hit[1]

    def update(self, known: set[str]) -> list[RunSummary]:
        """Summaries of pending runs, plus ``deleted`` ones for pending runs that went away.
        Records of runs the list already shows (``known`` folders) are not read."""
        from runner.control import records, store

        for path in known - self._ids.keys():
            self._ids[path] = store.run_id_for(path)
        known_ids = {self._ids[p] for p in known}
        out = []
        for run_dir in store.runs_root().iterdir():
            if run_dir.name in known_ids:
                continue
            state = self._state(run_dir)
            path = os.path.abspath(str((state or {}).get("log_path") or ""))
            if state is None or path in known or not self._under_roots(path) or os.path.exists(path):
                continue
            out.append(_pending_summary(path, records.summarize(state)))
        now = {s.path for s in out}
        gone = self._shown - now - known
        self._shown = now
        for path in sorted(gone):
            summary = _pending_summary(path, {"status": "deleted"})
            out.append(replace(summary, note="no longer pending"))
        return out


def _pending_summary(path: str, record: dict) -> RunSummary:
    code, error = record.get("exit_code"), record.get("error")
    note = "; ".join(x for x in ("no folder yet", None if code is None else f"exit {code}", error) if x)
    return RunSummary(
        path=path,
        name=str(record.get("name") or Path(path).name),
        kind="unknown",
        status=str(record.get("status")),
        step=None,
        progress=None,
        headline_key=None,
        headline_value=None,
        spark=[],
        last_change=None,
        n_lines=0,
        bad_lines=0,
        latest={},
        note=note,
        status_source="supervisor",
    )
