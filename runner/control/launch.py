"""Launch: validate overrides, plan runs (names, folders, sweeps), write records, start or enqueue.

``plan()`` does everything that can fail before a process starts: recipe lookup, chz validation of the
overrides (a typo names the key), credentials, name and folder allocation. ``launch()`` then writes each
run's spec, state, code diff and experiment record, and starts a supervisor (or queues the run).
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from runner import paths
from runner.control import creds, experiments, gitinfo, state_dir
from runner.control.catalogue import Target, UnknownRecipe, resolve_target
from runner.status import Status


class LaunchError(Exception):
    """A launch refused before any process started (exit code 2)."""


@dataclass
class LaunchRequest:
    recipe: str
    overrides: list[str] = field(default_factory=list)
    name: str | None = None
    local: bool = False
    sweep: list[str] = field(default_factory=list)
    queue: bool = False
    smoke: bool = False
    cwd: Path = field(default_factory=Path.cwd)
    python: str = sys.executable

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)} | {"cwd": str(self.cwd)}

    @classmethod
    def from_json(cls, data: object) -> LaunchRequest:
        """The request ``to_json`` wrote; LaunchError naming what is wrong with anything else."""
        if not isinstance(data, dict) or not isinstance(data.get("recipe"), str):
            raise LaunchError("a launch request is a JSON object with a 'recipe'")
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise LaunchError(f"launch request: unknown field(s) {', '.join(sorted(unknown))}")
        for key in ("overrides", "sweep"):
            if not all(isinstance(x, str) for x in data.get(key, [])):
                raise LaunchError(f"launch request: {key} must be a list of strings")
        return cls(**(data | {"cwd": Path(data.get("cwd") or Path.cwd())}))


@dataclass
class PlannedRun:
    name: str
    run_id: str
    log_path: str
    argv: list[str]  # the child's argv without behavior_if_log_dir_exists
    overrides: list[str]  # what the user asked for, plus what --local/--smoke added
    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    logdir_arg: bool = True  # the config has behavior_if_log_dir_exists
    combo: list[str] = field(default_factory=list)  # this run's sweep values

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlannedRun:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def parse_overrides(items: list[str]) -> list[str]:
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise LaunchError(f"override {item!r} is not key=value")
        if creds.looks_secret(value):
            raise LaunchError(f"override {key!r} looks like a secret: pass secrets through the environment")
    return items


def expand_sweep(sweep: list[str]) -> list[list[str]]:
    """``["lr=1,2", "seed=0,1"]`` -> the cartesian product as lists of overrides."""
    axes = []
    for item in sweep:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise LaunchError(f"--sweep {item!r} is not key=a,b,c")
        axes.append([f"{key}={v}" for v in values.split(",")])
    return [list(combo) for combo in itertools.product(*axes)] if axes else [[]]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]+", "-", text).strip("-")[:80]


def _sweep_suffix(combo: list[str]) -> str:
    parts = []
    for item in combo:
        key, _, value = item.partition("=")
        parts.append(f"{key.rsplit('.', 1)[-1]}{value}")
    return _slug("-".join(parts))


def _key_of(item: str) -> str:
    return item.partition("=")[0]


def _given(overrides: list[str], key: str) -> str | None:
    found = None
    for item in overrides:
        if _key_of(item) == key:
            found = item.partition("=")[2]
    return found


def allocate(base: str, logs_root: Path, taken: set[str]) -> tuple[str, str, str]:
    """A name whose folder and record are both free; reserves the record dir. (name, log_path, id)"""
    for i in itertools.count(1):
        name = base if i == 1 else f"{base}-{i}"
        log_path = logs_root / name
        run_id = state_dir.run_id_for(log_path)
        if name in taken or log_path.exists():
            continue
        record = state_dir.record_dir(run_id)
        try:
            record.mkdir(parents=True)
        except FileExistsError:
            if not record.parent.is_dir():  # the state folder is a file: no name will ever be free
                raise LaunchError(f"cannot keep run records in {record.parent}: not a folder") from None
            continue
        taken.add(name)
        return name, str(log_path), run_id
    raise AssertionError("unreachable")


def _local_overrides(overrides: list[str], notes: list[str]) -> list[str]:
    from runner.backend.lifecycle import BackendError
    from runner.control.localenv import local_model

    extra = []
    given = _given(overrides, "model_name")
    if given is not None and not os.path.isdir(os.path.expanduser(given)):
        raise LaunchError(f"--local serves local model folders only; model_name={given} is not a folder")
    if given is None:
        try:
            target = local_model()
        except BackendError as exc:
            first = str(exc).splitlines()[0]
            raise LaunchError(f"--local: the embedded backend is not available: {first}") from exc
        extra.append(f"model_name={target.model_path}")
        if _given(overrides, "renderer_name") is None:
            extra.append(f"renderer_name={target.renderer}")
        notes.append(f"local backend: tiny model {target.model_path} ({target.renderer})")
    return extra + overrides


def _model_notes(config: dict[str, Any], overrides: list[str]) -> list[str]:
    from runner.control.catalogue import recommended_renderer, suggested_lr

    model = config.get("model_name")
    if not isinstance(model, str) or os.path.isdir(model):
        return []
    notes = []
    renderer = recommended_renderer(model)
    if renderer and config.get("renderer_name") in (None, renderer):
        notes.append(f"renderer: {renderer} (recommended for {model})")
    lr = suggested_lr(model)
    if lr is not None and _given(overrides, "learning_rate") is None:
        notes.append(f"suggested learning_rate for {model}: {lr:.3g} (hyperparam_utils.get_lr)")
    return notes


def plan(req: LaunchRequest, *, dry_run: bool = False) -> list[PlannedRun]:
    """Validate and allocate every run of the request; raises LaunchError before anything starts.
    A ``dry_run`` gives its name reservations back before it returns (see :func:`release`)."""
    target, entry, user, notes = _prepare(req)
    combos = expand_sweep(req.sweep)
    parse_overrides([item for combo in combos for item in combo])
    explicit_log = _given(user, "log_path")
    if explicit_log and len(combos) > 1:
        raise LaunchError("log_path= cannot be combined with --sweep (each run needs its own folder)")
    runs: list[PlannedRun] = []
    taken: set[str] = set()
    base = _base_name(req, target)
    for combo in combos:
        name, log_path, run_id = _place(base, combo, explicit_log, req.cwd, taken, len(combos))
        try:
            runs.append(
                _plan_one(req, target, entry, [*user, *combo], combo, (name, log_path, run_id), notes)
            )
        except LaunchError:
            release(runs, run_id)
            raise
    _check_credentials(req, runs)
    if dry_run:
        release(runs)
    return runs


def _prepare(req: LaunchRequest) -> tuple[Target, Any, list[str], list[str]]:
    """The target, its chz entrypoint, and the user's overrides plus what --smoke/--local add."""
    from runner.control.validate import ConfigError, find_entrypoint

    try:
        target = resolve_target(req.recipe, req.cwd)
    except UnknownRecipe as exc:
        raise LaunchError(str(exc)) from exc
    problem = state_dir.name_problem(req.name, "--name") if req.name is not None else None
    if problem:
        raise LaunchError(problem)
    user = parse_overrides(list(req.overrides))
    if req.smoke and target.entry:
        user = [*target.entry.smoke, *user]
    notes: list[str] = []
    if req.local:
        user = _local_overrides(user, notes)
    try:
        entry = find_entrypoint(target)
    except ConfigError as exc:
        raise LaunchError(str(exc)) from exc
    return target, entry, user, notes


def _base_name(req: LaunchRequest, target: Target) -> str:
    if req.name:
        return req.name
    stem = target.entry.key if target.entry else _slug(Path(req.recipe).stem)
    return f"{stem}-" + datetime.now().strftime("%m%d-%H%M%S")


def _plan_one(req, target, entry, overrides, combo, placed, notes) -> PlannedRun:
    """Validate one run's full argv with chz (as the recipe will parse it) and resolve its config."""
    from runner.control.validate import ConfigError, resolve

    name, log_path, run_id = placed
    fields = entry.fields()
    logdir_arg = "behavior_if_log_dir_exists" in fields
    argv = _child_argv(target, req.python, overrides, log_path, fields)
    mode = ["behavior_if_log_dir_exists=delete"] if logdir_arg else []
    try:
        config = resolve(entry, argv[_argv_skip(target) :] + mode)
    except ConfigError as exc:
        raise LaunchError(str(exc)) from exc
    run_notes = notes + _model_notes(config, overrides)
    return PlannedRun(name, run_id, log_path, argv, overrides, config, run_notes, logdir_arg, combo)


def _place(base, combo, explicit_log, cwd, taken, n) -> tuple[str, str, str]:
    """Folder and record for one run: the explicit log_path, or a free name under results/logs."""
    logs_root = (Path(cwd) / paths.DEFAULT_LOGS).resolve()
    if explicit_log:
        folder = (Path(cwd) / explicit_log).resolve()
        problem = state_dir.name_problem(folder.name, "log_path folder")
        if problem:
            raise LaunchError(problem)
        if folder.exists():
            raise LaunchError(f"log_path {folder} already exists: resume it (tinkertop resume) or rm it")
        folder.parent.mkdir(parents=True, exist_ok=True)
        run_id = state_dir.run_id_for(folder)
        try:
            state_dir.record_dir(run_id).mkdir(parents=True)
        except FileExistsError as exc:
            raise LaunchError(f"a run record for {folder} already exists ({run_id})") from exc
        return folder.name, str(folder), run_id
    logs_root.mkdir(parents=True, exist_ok=True)
    name = f"{base}-{_sweep_suffix(combo)}" if n > 1 else base
    return allocate(name, logs_root, taken)


def release(runs: list[PlannedRun], *run_ids: str) -> None:
    """Give back the names ``plan`` reserved (the empty record dirs) for runs that will not be launched:
    a plan that failed, a dry run, planned runs abandoned because another plan failed."""
    for rid in [*run_ids, *(r.run_id for r in runs)]:
        try:
            state_dir.record_dir(rid).rmdir()
        except OSError:
            pass


def _argv_skip(target: Target) -> int:
    return 3 if target.module else 2


def _child_argv(
    target: Target, python: str, overrides: list[str], log_path: str, fields: set[str]
) -> list[str]:
    argv = target.argv(python)
    argv += [o for o in overrides if _key_of(o) not in ("log_path", "behavior_if_log_dir_exists")]
    if "log_path" in fields:
        argv.append(f"log_path={log_path}")
    return argv


def _check_credentials(req: LaunchRequest, runs: list[PlannedRun]) -> None:
    env = creds.job_environment(req.cwd)
    for run in runs:
        wandb = run.config.get("wandb_project")
        check = creds.check(env, local=req.local, wandb_project=wandb if isinstance(wandb, str) else None)
        if not check.ok:
            release(runs)
            raise LaunchError(check.message())


def launch(req: LaunchRequest, runs: list[PlannedRun]) -> list[str]:
    """Write records for planned runs and start them (or queue them); returns their run ids."""
    from runner.control import queue
    from runner.control.spawn import spawn_supervisor

    code = gitinfo.code_state(req.cwd)
    secrets = creds.secret_values(creds.job_environment(req.cwd))
    zygote = None if req.queue else _batch_zygote(req, runs)
    ids = []
    for run in runs:
        write_records(req, run, code, secrets)
        if req.queue:
            state_dir.update_state(run.run_id, status=Status.QUEUED, queued_ts=time.time())
        else:
            claim = {"claimed_ts": time.time(), "claimed_by": os.getpid(), "zygote": zygote}
            state_dir.update_state(run.run_id, status=Status.STARTING, **claim)
            try:
                spawn_supervisor(run.run_id, python=req.python)
            except (OSError, RuntimeError) as exc:
                state_dir.update_state(
                    run.run_id, status=Status.FAILED, error=str(exc), ended_at=state_dir.now_iso()
                )
        ids.append(run.run_id)
    queue.drain()  # every launch also moves the queue
    return ids


def _batch_zygote(req: LaunchRequest, runs: list[PlannedRun]) -> str | None:
    """The socket of a warm parent for a batch of runs started together (see runner.control.zygote)."""
    from runner.control import zygote_client

    target = resolve_target(req.recipe, req.cwd)
    models = [r.config.get("model_name") for r in runs]
    return zygote_client.for_batch(req.python, req.cwd, req.local, target.module, models)


def spec_for(req: LaunchRequest, run: PlannedRun, target: Target) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "name": run.name,
        "recipe": req.recipe,
        "target": target.module or target.script,
        "logdir_arg": run.logdir_arg,
        "argv": run.argv,
        "overrides": run.overrides,
        "user_overrides": list(req.overrides),
        "sweep": list(req.sweep),
        "combo": run.combo,
        "log_path": run.log_path,
        "cwd": str(req.cwd.resolve()),
        "python": req.python,
        "local": req.local,
        "smoke": req.smoke,
        "wandb_project": run.config.get("wandb_project"),
        "env_names": ["TINKER_API_KEY"] if not req.local else ["TINKER_BASE_URL", "TINKER_API_KEY"],
        "created_at": state_dir.now_iso(),
    }


def write_records(req: LaunchRequest, run: PlannedRun, code: gitinfo.CodeState, secrets: list[str]) -> None:
    target = resolve_target(req.recipe, req.cwd)
    spec = spec_for(req, run, target)
    exp = experiments.record_path(req.cwd, run.name)
    spec["experiment_record"] = str(exp)
    spec = creds.redact_obj(spec, secrets)
    config = creds.redact_obj(run.config, secrets)
    rdir = state_dir.record_dir(run.run_id)
    state_dir.write_json_atomic(rdir / "spec.json", spec)
    if code.diff:
        (rdir / "code.diff").write_text(creds.redact(code.diff, secrets))
    state = {
        "run_id": run.run_id,
        "name": run.name,
        "recipe": req.recipe,
        "log_path": run.log_path,
        "local": req.local,
        "status": Status.QUEUED,
        "mode": "delete",
        "attempt": 1,
        "created_at": spec["created_at"],
        "config": config,
        "code": code.summary(),
        "notes": run.notes,
    }
    state_dir.write_state(run.run_id, state)
    experiments.write_launch_record(exp, spec, config, code.summary())
