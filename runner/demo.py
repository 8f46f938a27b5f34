"""The demo: a small set of real cookbook runs against the embedded backend, headless.

``start_demo(workspace)`` starts the backend if needed, makes sure the tiny base model exists,
writes the SFT data, and launches three RL runs on the arithmetic env (a sane, a faster and an
unstable learning rate) and one chat SFT run, each as a detached process group whose console goes
to ``<run>/console.log``. ``stop_demo()`` stops the runs it recorded. No W&B, no downloads.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from runner import paths

DEFAULT_WORKSPACE = Path("results") / "demo" / "logs"
RL_MODULE = "tinker_cookbook.recipes.math_rl.train"
SFT_MODULE = "tinker_cookbook.recipes.chat_sl.train"
RL_LRS = (
    ("rl-lr2e-3", 2e-3, "RL, steady: reward rises"),
    ("rl-lr5e-3", 5e-3, "RL, faster: rises, then wobbles"),
    ("rl-lr1e-1", 1e-1, "RL, lr too high: entropy blows up, reward collapses"),
)


@dataclass(frozen=True)
class DemoRun:
    """One run of the demo: its folder name, recipe module, overrides and what it shows."""

    name: str
    module: str
    overrides: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class StartedRun:
    """A launched demo run (the record ``stop_demo`` reads back)."""

    name: str
    path: str
    pid: int
    start_ticks: int
    note: str = ""


def demo_specs(workspace: Path, model_path: str, renderer: str) -> list[DemoRun]:
    """The demo set, with folder names that do not collide with folders already in ``workspace``."""
    # The folder is always new (a free name) but already holds console.log, so "resume" (which
    # starts fresh when there is no checkpoint) rather than "delete" (which would remove the log).
    common = (f"model_name={model_path}", f"renderer_name={renderer}", "behavior_if_log_dir_exists=resume")
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
    candidate, n = name, 1
    while candidate in taken or (workspace / candidate).exists():
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


def launch(run: DemoRun, workspace: Path, env: dict[str, str]) -> StartedRun:
    """Start one run as a detached process group; console to ``<run>/console.log``.

    The one place that launches (the runner's supervisor can replace it)."""
    folder = workspace / run.name
    folder.mkdir(parents=True, exist_ok=True)
    argv = _argv(run)
    with open(folder / "console.log", "ab") as console:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            cwd=str(workspace.resolve().parent),
        )
    return StartedRun(run.name, str(folder.resolve()), proc.pid, _start_ticks(proc.pid), run.note)


def _argv(run: DemoRun) -> list[str]:
    return [sys.executable, "-m", run.module, *run.overrides]


def run_env(backend_env: dict[str, str]) -> dict[str, str]:
    """The environment of a demo run: the backend's URL and key, offline, no W&B, one thread."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(backend_env)
    env.update(
        HF_HUB_OFFLINE="1",
        WANDB_MODE="disabled",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def start_demo(workspace: Path | None = None) -> list[StartedRun]:
    """Backend up, base model ready, data written, every demo run launched; returns them."""
    from runner.backend import control, tinymodel

    workspace = workspace or DEFAULT_WORKSPACE
    workspace.mkdir(parents=True, exist_ok=True)
    model = tinymodel.ensure_base_model()
    info = control.ensure_running(model=model)
    write_sft_data(sft_data_path(workspace))
    env = run_env(control.env_for(info))
    specs = demo_specs(workspace, str(model), tinymodel.RENDERER_NAME)
    started = [launch(run, workspace, env) for run in specs]
    _record(started)
    return started


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
    return [StartedRun(**r) for r in rows if isinstance(r, dict)]


def _start_ticks(pid: int) -> int:
    """Process start time in clock ticks (from /proc), so a reused pid is never mistaken."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(stat.rsplit(")", 1)[1].split()[19])


def is_alive(run: StartedRun) -> bool:
    """True while the recorded process (same pid and start time) still runs."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(run.pid, os.WNOHANG)
    ticks = _start_ticks(run.pid)
    if ticks < 0 or ticks != run.start_ticks:
        return False
    state = Path(f"/proc/{run.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def stop_run(run: StartedRun, grace: float = 10.0) -> bool:
    """SIGTERM the run's process group, SIGKILL after ``grace``; True if it was running."""
    if not is_alive(run):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(run.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while is_alive(run) and time.monotonic() < deadline:
        time.sleep(0.1)
    if is_alive(run):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
        while is_alive(run):
            time.sleep(0.05)
    return True


def stop_demo(runs: list[StartedRun] | None = None) -> list[StartedRun]:
    """Stop the given (default: all recorded) demo runs; returns those that were running."""
    recorded = runs if runs is not None else read_record()
    stopped = [r for r in recorded if stop_run(r)]
    _rewrite([r for r in read_record() if r not in recorded])
    return stopped


def _rewrite(rows: list[StartedRun]) -> None:
    path = _record_path()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([asdict(s) for s in rows], indent=1))
    os.replace(tmp, path)
