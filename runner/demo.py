"""The demo: a small set of real cookbook runs against the embedded backend, headless.

``start_demo(workspace)`` starts the backend if needed, makes sure the tiny base model exists,
writes the SFT data, and launches three RL runs on the arithmetic env (a sane, a faster and an
unstable learning rate) and one chat SFT run through the runner (``tinkertop launch --local``), so
each is a supervised run like any other: status, stop (K), resume (R) and clone (e) work on it, its
console log lives in its runner record. ``stop_demo()`` stops the runs it recorded. No W&B, no
downloads.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from runner import paths
from runner.status import LIVE_OR_QUEUED, TERMINAL, Status

DEFAULT_WORKSPACE = Path("results") / "demo" / "logs"
RL_MODULE = "tinker_cookbook.recipes.math_rl.train"
SFT_MODULE = "tinker_cookbook.recipes.chat_sl.train"
RL_LRS = (
    ("rl-lr2e-3", 2e-3, "RL, steady: reward rises"),
    ("rl-lr5e-3", 5e-3, "RL, faster: rises, then wobbles"),
    ("rl-lr1e-1", 1e-1, "RL, lr too high: entropy jumps then collapses, reward falls to the floor"),
)


@dataclass(frozen=True)
class DemoRun:
    """One run of the demo: its folder name, recipe module, overrides and what it shows."""

    name: str
    module: str  # a recipe module, a catalogue key or a chz script: whatever ``tinkertop launch`` takes
    overrides: tuple[str, ...]
    note: str
    local: bool = True  # on the embedded backend (``--local``)


@dataclass(frozen=True)
class StartedRun:
    """A launched demo run (the record ``stop_demo`` reads back)."""

    name: str
    path: str
    run_id: str
    note: str = ""


def demo_specs(workspace: Path, model_path: str, renderer: str) -> list[DemoRun]:
    """The demo set, with folder names that do not collide with folders already in ``workspace``."""
    # the folder is always new (a free name); the supervisor passes behavior_if_log_dir_exists
    common = (f"model_name={model_path}", f"renderer_name={renderer}")
    rl = (
        "env=arithmetic",
        "group_size=8",
        "groups_per_batch=8",
        "max_tokens=8",
        "lora_rank=8",
        "max_steps=100",
        "eval_every=0",
        "save_every=20",
    )
    runs = [
        DemoRun(name, RL_MODULE, (*common, *rl, f"learning_rate={lr}"), note) for name, lr, note in RL_LRS
    ]
    data = sft_data_path(workspace)
    sft = (
        f"dataset={data}",
        "batch_size=16",
        "max_length=128",
        "num_epochs=10",
        "lora_rank=8",
        "learning_rate=1e-3",
        "eval_every=0",
        "save_every=20",
    )
    runs.append(
        DemoRun("sft-arith-chat", SFT_MODULE, (*common, *sft), "SFT on a generated JSONL: loss falls")
    )
    taken: set[str] = set()
    out = []
    for run in runs:
        name = _free_name(workspace, run.name, taken)
        taken.add(name)
        log = f"log_path={workspace.resolve() / name}"
        out.append(DemoRun(name, run.module, (*run.overrides, log), run.note))
    return out


def _free_name(workspace: Path, name: str, taken: set[str]) -> str:
    """``name``, else ``name-2``, ``name-3``, ...: the first with no folder in ``workspace`` and no run
    record (a demo folder deleted by hand keeps its record, and a launch there is refused)."""
    from runner.control import state_dir

    def used(candidate: str) -> bool:
        folder = workspace.resolve() / candidate
        return folder.exists() or state_dir.record_dir(state_dir.run_id_for(folder)).exists()

    candidate, n = name, 1
    while candidate in taken or used(candidate):
        n += 1
        candidate = f"{name}-{n}"
    return candidate


def sft_data_path(workspace: Path) -> Path:
    """The generated SFT conversations live beside the run folders, not among them."""
    return workspace.resolve().parent / "data" / "demo_sft.jsonl"


def write_sft_data(path: Path, n: int = 480, seed: int = 7) -> Path:
    """Arithmetic chat conversations (the shape the cookbook's arithmetic env uses) as JSONL."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for _ in range(n):
        x, y = rng.randint(0, 100), rng.randint(0, 100)
        messages = [
            {"role": "user", "content": f"What is {x} + {y}?"},
            {"role": "assistant", "content": f"{x} + {y} = {x + y}. The answer is {x + y}."},
        ]
        lines.append(json.dumps({"messages": messages}))
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return path


class DemoError(RuntimeError):
    """A demo run could not be launched (the runner's message says why)."""


def launch_all(runs: list[DemoRun], workspace: Path, env: dict[str, str]) -> list[StartedRun]:
    """Validate every run, then launch them all through the runner (supervised, detached).

    One launcher subprocess (``python -m runner.demo launch``) does it, so each recipe module is
    imported once and none of it enters this process, which goes on to run the app. ``env`` is what
    the launcher, the supervisors and the jobs inherit. Nothing starts if any run fails validation."""
    workspace.mkdir(parents=True, exist_ok=True)
    cwd = workspace.resolve().parent
    done = subprocess.run(
        [sys.executable, "-m", "runner.demo", "launch"],
        input=json.dumps([asdict(r) for r in runs]),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        said = done.stderr.strip().removeprefix("tinkertop demo: ")
        raise DemoError(said or f"the demo launcher exited with code {done.returncode}")
    started = [StartedRun(**row) for row in json.loads(done.stdout)]
    _record(started)
    return started


def launch_here(runs: list[DemoRun], cwd: Path) -> list[StartedRun]:
    """In the launcher process: plan (validate with chz, allocate) every run, then start them all."""
    from runner.control.launch import LaunchError, LaunchRequest, PlannedRun, launch, plan, release

    planned: list[tuple[DemoRun, LaunchRequest, list[PlannedRun]]] = []
    for run in runs:
        req = LaunchRequest(recipe=run.module, overrides=list(run.overrides), local=run.local, cwd=cwd)
        try:
            planned.append((run, req, plan(req)))
        except LaunchError as exc:
            for _, _, done in planned:
                release(done)
            raise DemoError(f"{run.name}: {exc}") from exc
    started = []
    for run, req, plan_ in planned:
        ids = launch(req, plan_)
        started.append(StartedRun(run.name, plan_[0].log_path, ids[0], run.note))
    return started


def _launcher_main(argv: list[str]) -> int:
    """``python -m runner.demo launch``: DemoRun rows (JSON) on stdin, StartedRun rows on stdout."""
    if argv != ["launch"]:
        print("usage: python -m runner.demo launch  (JSON list of demo runs on stdin)", file=sys.stderr)
        return 2
    runs = [DemoRun(**{**row, "overrides": tuple(row["overrides"])}) for row in json.loads(sys.stdin.read())]
    try:
        started = launch_here(runs, Path.cwd())
    except DemoError as exc:
        print(f"tinkertop demo: {exc}", file=sys.stderr)
        return 2
    print(json.dumps([asdict(r) for r in started]))
    return 0


def run_env() -> dict[str, str]:
    """The environment of a demo run: offline, no W&B, one thread (the supervisor adds the backend's
    URL and key for a ``--local`` run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(
        HF_HUB_OFFLINE="1",
        WANDB_MODE="disabled",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def start_demo(workspace: Path | None = None, say: Callable[[str], None] | None = None) -> list[StartedRun]:
    """Backend up, base model ready, data written, every demo run launched; returns them.

    ``say`` gets a line at each stage (the terminal shows progress while the app is not open yet)."""
    from runner.backend import lifecycle, tinymodel

    say = say or (lambda _line: None)
    workspace = workspace or DEFAULT_WORKSPACE
    workspace.mkdir(parents=True, exist_ok=True)
    model = tinymodel.ensure_base_model()
    info = lifecycle.ensure_running(model=model)
    say(f"backend up at {info.url}, serving {model.name}")
    write_sft_data(sft_data_path(workspace))
    specs = demo_specs(workspace, str(model), tinymodel.RENDERER_NAME)
    say(f"validating and launching {len(specs)} runs through the runner (tinkertop launch --local) ...")
    return launch_all(specs, workspace, run_env())


def _record_path() -> Path:
    return paths.state_dir() / "demo_runs.json"


def _record(started: list[StartedRun]) -> None:
    _rewrite([*read_record(), *started])


def read_record() -> list[StartedRun]:
    """Demo runs launched and not yet stopped (stale entries are harmless)."""
    try:
        rows = json.loads(_record_path().read_text())
    except (OSError, ValueError):
        return []
    out = []
    for row in rows if isinstance(rows, list) else []:
        try:
            out.append(StartedRun(**row))
        except TypeError:  # a record of an older demo (plain processes): nothing to stop through it
            continue
    return out


def status(run: StartedRun) -> Status:
    """The run's status from its supervisor's record (queued, starting, running, ..., lost)."""
    from runner.control import records, state_dir

    return records.effective_status(state_dir.read_state(run.run_id) or {})


def is_alive(run: StartedRun) -> bool:
    """True while the run is queued, starting or running (its job or supervisor still there)."""
    return status(run) in LIVE_OR_QUEUED


def stop_demo(runs: list[StartedRun] | None = None, grace: float = 10.0) -> list[StartedRun]:
    """Stop the given (default: all recorded) demo runs; returns those that were live."""
    from runner.control import actions

    recorded = runs if runs is not None else read_record()
    live = [r for r in recorded if is_alive(r)]
    for run in live:  # ask every supervisor first, then wait for each
        try:
            actions.stop(run.run_id, grace=grace, wait=False)
        except actions.ActionError:
            pass
    for run in live:
        actions.wait_status(run.run_id, TERMINAL | {Status.LOST}, grace + 30)
    _rewrite([r for r in read_record() if r not in recorded])
    return live


def _rewrite(rows: list[StartedRun]) -> None:
    path = _record_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([asdict(s) for s in rows], indent=1))
    os.replace(tmp, path)


def run_rows(runs: list[StartedRun]) -> list[dict[str, str]]:
    """One row per run for ``demo --json``: name, folder, run id, supervisor status, what it shows."""
    return [
        {"name": r.name, "path": r.path, "run_id": r.run_id, "status": status(r), "note": r.note}
        for r in runs
    ]


def backend_url() -> str | None:
    """The URL of the backend the demo runs on (its key stays in the private state file)."""
    from runner.backend import lifecycle

    info = lifecycle.recorded()
    return info.url if info is not None else None


def json_main(stop: bool, workspace: Path | None = None) -> int:
    """``tinkertop demo --json``: start the demo headless (``stop``: stop its runs); one JSON line per
    run, each started one with the backend's URL, never its key. Progress goes to stderr. Exit 0; 1
    when the demo cannot start (``tinkertop: demo failed: ...`` on stderr)."""
    from runner.runs.cli import dump_json

    if stop:
        rows = run_rows(stop_demo())
    else:
        try:
            started = start_demo(
                workspace, say=lambda line: print(f"tinkertop demo: {line}", file=sys.stderr)
            )
        except Exception as exc:  # the backend, the model, a launch: one line, as the app's demo says it
            print(f"tinkertop: demo failed: {exc}", file=sys.stderr)
            return 1
        url = backend_url()
        rows = [{**row, "backend_url": url or ""} for row in run_rows(started)]
    for row in rows:
        print(dump_json(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_launcher_main(sys.argv[1:]))
