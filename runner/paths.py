"""The one place that resolves tinkertop's paths.

Workspace: where run folders live (default ``./results/logs``). State dir: tinkertop's own files
(supervisor records, queue, backend state), kept outside any cookbook ``log_path`` so that the
cookbook's log-dir handling can never delete them.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_LOGS = Path("results") / "logs"


def default_roots() -> list[Path]:
    """Folders the app watches when none are given."""
    return [DEFAULT_LOGS]


def workspace_for(roots: list[Path]) -> Path:
    """The workspace of the folders watched: the parent of ``results/logs`` when one of them is one
    (launches run there; ``tinkertop.toml`` and the alert acks live there), else the current folder."""
    for root in roots:
        root = Path(root).resolve()
        if root.parts[-2:] == ("results", "logs"):
            return root.parents[1]
    return Path.cwd()


def state_dir() -> Path:
    """tinkertop's per-user state: ``$TINKERTOP_HOME`` or ``~/.tinkertop``. Created 0700."""
    env = os.environ.get("TINKERTOP_HOME")
    base = Path(env) if env else Path.home() / ".tinkertop"
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    return base


def cache_dir() -> Path:
    """Large reusable artefacts (the embedded backend's tiny model): ``$TINKERTOP_CACHE`` or
    ``~/.cache/tinkertop``."""
    env = os.environ.get("TINKERTOP_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "tinkertop"
    base.mkdir(parents=True, exist_ok=True)
    return base
