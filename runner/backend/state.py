"""The backend's state file: where a running server listens, its key and pid (mode 0600)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from runner import paths

STATE_NAME = "server.json"


@dataclass(frozen=True)
class BackendInfo:
    """A running (or recorded) backend server. ``key`` is secret: never print or log it."""

    url: str
    port: int
    pid: int
    key: str
    model_path: str
    started_at: float
    log_path: str

    def public(self) -> dict[str, object]:
        """Everything but the key, for display."""
        data = asdict(self)
        data.pop("key")
        return data


def backend_dir() -> Path:
    """``<state_dir>/backend``, created 0700."""
    path = paths.state_dir() / "backend"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def state_path() -> Path:
    return backend_dir() / STATE_NAME


def write_info(info: BackendInfo, path: Path | None = None) -> Path:
    """Write the state file atomically, readable by the user only."""
    target = path or state_path()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".server-", suffix=".json")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(info), fh)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_info(path: Path | None = None) -> BackendInfo | None:
    """The recorded server, or None when there is no (valid) state file."""
    target = path or state_path()
    try:
        data = json.loads(target.read_text())
        return BackendInfo(**data)
    except (OSError, ValueError, TypeError):
        return None


def clear_info(pid: int | None = None, path: Path | None = None) -> None:
    """Remove the state file (only if it still names ``pid``, when given)."""
    target = path or state_path()
    if pid is not None:
        current = read_info(target)
        if current is None or current.pid != pid:
            return
    target.unlink(missing_ok=True)
