"""Git commit and dirty diff of the user's code (the launch working directory), if it is a repo."""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MAX_DIFF_BYTES = 2_000_000


@dataclass
class CodeState:
    repo: str | None = None
    commit: str | None = None
    branch: str | None = None
    dirty: bool = False
    diff: str = ""

    def summary(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("diff")
        return out


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(cwd), *args],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def code_state(cwd: str | Path) -> CodeState:
    """Commit, branch and ``git diff HEAD`` (plus untracked file names) of ``cwd``'s repo."""
    cwd = Path(cwd)
    top = _git(cwd, "rev-parse", "--show-toplevel")
    if top is None:
        return CodeState()
    state = CodeState(repo=top.strip())
    state.commit = (_git(cwd, "rev-parse", "HEAD") or "").strip() or None
    state.branch = (_git(cwd, "rev-parse", "--abbrev-ref", "HEAD") or "").strip() or None
    status = _git(cwd, "status", "--porcelain", "--untracked-files=normal") or ""
    state.dirty = bool(status.strip())
    if state.dirty:
        diff = _git(cwd, "diff", "HEAD") or ""
        untracked = [ln[3:] for ln in status.splitlines() if ln.startswith("??")]
        if untracked:
            diff += "\n# untracked files:\n" + "\n".join(f"#   {name}" for name in untracked) + "\n"
        state.diff = diff[:MAX_DIFF_BYTES]
    return state
