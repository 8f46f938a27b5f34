"""Supervisor records on disk: ``<state dir>/runs/<run_id>/{spec.json,state.json,console.log}``.

The records live outside any cookbook ``log_path`` so the cookbook's ``delete`` can never remove them.
A run's id is derived from its folder (``<name>-<hash of the real path>``), so the record of a run
folder is found with one ``stat``. All writes are atomic (temp file + ``os.replace``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner import paths
from runner.status import TERMINAL, Status

# the state machine: recorded status -> statuses it may move to (resume restarts an ended run)
ALLOWED: dict[Status | None, tuple[Status, ...]] = {
    None: (Status.QUEUED, Status.STARTING),
    Status.QUEUED: (Status.STARTING, Status.STOPPED, Status.FAILED),
    Status.STARTING: (Status.STARTING, Status.RUNNING, *TERMINAL, Status.LOST),
    Status.RUNNING: (*TERMINAL, Status.LOST),
    Status.LOST: (Status.STOPPED, Status.STARTING),
    **{t: (Status.STARTING,) for t in TERMINAL},
}


MAX_NAME = 128  # a run name; its record dir adds "-<8 hex>", far below the usual 255-byte limit


class IllegalTransition(RuntimeError):
    pass


def name_problem(name: str, what: str = "run name") -> str | None:
    """Why ``name`` cannot be a run name (one folder name, at most MAX_NAME characters), or None."""
    shown = name if len(name) <= 40 else f"{name[:37]}..."
    if len(name) > MAX_NAME:
        return f"{what} {shown!r} is too long ({len(name)} characters; at most {MAX_NAME})"
    if not name.strip() or name != name.strip():
        return f"{what} {shown!r}: empty, or with spaces at either end"
    if "/" in name or "\\" in name or any(not ch.isprintable() for ch in name):
        return f"{what} {shown!r}: one folder name, no '/', '\\' or control characters"
    if name[0] in ".-":
        return f"{what} {shown!r}: may not start with '.' or '-'"
    return None


def ref_problem(ref: str) -> str | None:
    """Why ``ref`` (a run name, id, or folder path) cannot name a run, or None."""
    if "\0" in ref:
        return f"run {ref!r}: contains a NUL byte"
    longest = max((len(part) for part in ref.split(os.sep)), default=0)
    if longest > MAX_NAME + 9:  # a run id is the name plus "-<8 hex>"
        shown = f"{ref[:37]}..." if len(ref) > 40 else ref
        return f"run {shown!r}: name too long ({longest} characters; at most {MAX_NAME})"
    return None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def runs_root() -> Path:
    root = paths.state_dir() / "runs"
    root.mkdir(parents=True, exist_ok=True)
    return root


def real_folder(run_path: str | Path) -> str:
    return os.path.realpath(os.path.expanduser(str(run_path)))


_ids: dict[str, str] = {}


def run_id_for(run_path: str | Path) -> str:
    """Stable id of the run whose cookbook folder is ``run_path`` (memoized per path string)."""
    key = str(run_path)
    if not os.path.isabs(key):
        key = os.path.join(os.getcwd(), key)
    if key not in _ids:
        _ids[key] = _run_id(key)
    return _ids[key]


def _run_id(run_path: str) -> str:
    real = real_folder(run_path)
    digest = hashlib.sha1(real.encode()).hexdigest()[:8]
    return f"{os.path.basename(real)}-{digest}"


def record_dir(run_id: str) -> Path:
    return runs_root() / run_id


def state_path(run_id: str) -> Path:
    return record_dir(run_id) / "state.json"


def console_path(run_id: str) -> Path:
    return record_dir(run_id) / "console.log"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temp file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True, default=str)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_state(run_id: str) -> dict[str, Any] | None:
    return read_json(state_path(run_id))


def read_spec(run_id: str) -> dict[str, Any] | None:
    return read_json(record_dir(run_id) / "spec.json")


def write_state(run_id: str, state: dict[str, Any]) -> None:
    write_json_atomic(state_path(run_id), state)


def update_state(run_id: str, **changes: Any) -> dict[str, Any]:
    """Read, change and atomically rewrite a state file (single writer: the run's owner)."""
    state = read_state(run_id) or {"run_id": run_id}
    new = changes.get("status")
    if new is not None and new != state.get("status"):
        allowed = ALLOWED.get(state.get("status"), ())  # a plain string from disk finds its member
        if new not in allowed:
            raise IllegalTransition(f"{run_id}: {state.get('status')} -> {new} is not allowed")
    state.update(changes)
    write_state(run_id, state)
    return state


def iter_states() -> Iterator[dict[str, Any]]:
    """Every record's state (unreadable ones skipped), oldest first."""
    states = []
    for entry in runs_root().iterdir():
        state = read_json(entry / "state.json")
        if state is not None:
            states.append(state)
    states.sort(key=lambda s: (s.get("created_at") or "", s.get("run_id") or ""))
    yield from states


def resolve(ref: str) -> str | None:
    """Run id for a run name, id, or folder path (None if unknown or not a possible name)."""
    if ref_problem(ref):
        return None
    try:
        if os.sep not in ref and (record_dir(ref) / "state.json").exists():
            return ref
        if os.sep in ref or os.path.isdir(ref):
            run_id = run_id_for(ref)
            if state_path(run_id).exists():
                return run_id
    except (OSError, ValueError):
        return None
    matches = [s["run_id"] for s in iter_states() if s.get("name") == ref]
    return matches[-1] if matches else None
