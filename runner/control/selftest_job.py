"""A dependency-free chz job shaped like a cookbook recipe, for testing the runner with real processes.

``python runner/control/selftest_job.py log_path=/x steps=5 behavior_if_log_dir_exists=delete``
writes ``metrics.jsonl`` (one line per step, flushed), ``checkpoints.jsonl`` (``final`` at the end),
honours delete/resume like ``cli_utils.check_log_dir``, and can ignore SIGTERM or exit non-zero.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import chz


@chz.chz
class Config:
    log_path: str = "/tmp/tinkertop-selftest"
    behavior_if_log_dir_exists: str = "ask"
    steps: int = 5
    step_seconds: float = 0.05
    ignore_term: bool = False
    exit_code: int = 0
    fail_at: int = -1
    marker: str | None = None
    wandb_project: str | None = None
    spawn_grandchild: bool = False
    require_env: str = ""  # comma-separated names the job must find in its environment
    print_env: str = ""  # comma-separated names whose values the job prints, as a careless script would
    learning_rate: float = 1e-4  # recorded in config.json like a recipe's (nothing trains)


def prepare(cfg: Config) -> int:
    """Like check_log_dir: returns the step to start from."""
    path = Path(cfg.log_path)
    if path.exists():
        if cfg.behavior_if_log_dir_exists == "delete":
            shutil.rmtree(path)
        elif cfg.behavior_if_log_dir_exists == "resume":
            steps = [json.loads(x)["step"] for x in (path / "metrics.jsonl").read_text().splitlines() if x]
            return max(steps) + 1 if steps else 0
        elif cfg.behavior_if_log_dir_exists == "ask":
            input(f"Log directory {path} already exists. What do you want to do? [delete, resume, exit]: ")
        else:
            raise SystemExit(f"Log directory {path} already exists. Will not delete it.")
    path.mkdir(parents=True, exist_ok=True)
    return 0


def main(cfg: Config) -> int:
    missing = [n for n in cfg.require_env.split(",") if n and not os.environ.get(n)]
    if missing:
        print(f"missing environment: {missing}", file=sys.stderr)
        return 3
    if cfg.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if cfg.marker:
        with open(cfg.marker, "a") as fh:
            fh.write(f"{os.getpid()} {cfg.log_path}\n")
    if cfg.spawn_grandchild:
        import subprocess

        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    for name in (n for n in cfg.print_env.split(",") if n):
        print(f"debug: {name} is {os.environ.get(name)} (unquoted: {os.environ.get(name)}!)", flush=True)
    start = prepare(cfg)
    path = Path(cfg.log_path)
    (path / "config.json").write_text(json.dumps(chz.asdict(cfg)))
    print(f"selftest job pid {os.getpid()} from step {start}", file=sys.stderr, flush=True)
    for step in range(start, cfg.steps):
        if step == cfg.fail_at:
            raise RuntimeError(f"selftest failure at step {step}")
        row = {"step": step, "env/all/reward/total": 1 - math.exp(-step / 3), "progress/batch": step}
        with open(path / "metrics.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(f"step {step}", flush=True)
        time.sleep(cfg.step_seconds)
    with open(path / "checkpoints.jsonl", "a") as fh:
        fh.write(json.dumps({"name": "final", "batch": cfg.steps}) + "\n")
    return cfg.exit_code


if __name__ == "__main__":
    sys.exit(main(chz.entrypoint(Config)))
