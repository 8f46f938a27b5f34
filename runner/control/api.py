"""Calls for the app: run ``tinkertop launch ... --json`` in a subprocess, so the recipe import (torch,
transformers) never enters the app's process. Call from a thread worker; it blocks for seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class LaunchResult:
    ok: bool
    exit_code: int
    error: str = ""  # what the launcher said on stderr (names the bad key or missing credential)
    runs: list[dict[str, Any]] = field(default_factory=list)  # name, run_id, log_path, config, notes
    ids: list[str] = field(default_factory=list)


def launch_cli(args: list[str], cwd: str | Path = ".", timeout: float = 600) -> LaunchResult:
    """``tinkertop launch <args> --json`` (add ``--dry-run`` to only validate and resolve)."""
    done = subprocess.run(
        [sys.executable, "-m", "runner.cli", "launch", *args, "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )
    if done.returncode != 0:
        return LaunchResult(False, done.returncode, done.stderr.strip().removeprefix("tinkertop: "))
    data = json.loads(done.stdout)
    return LaunchResult(True, 0, "", data.get("runs", []), data.get("ids", []))
