"""Runs the runs list shows from the supervisor's record alone: queued, starting, or failed before the
job made its folder. ``PendingRuns(roots).update(known)`` is called on the app's timer (in a worker)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from runner.control import records, state_dir
from runner.runs.summary import RunSummary
from runner.status import Status


class PendingRuns:
    """Runs whose supervisor record exists but whose folder does not (yet) below ``roots``."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = [os.path.abspath(r) for r in roots]
        self._shown: set[str] = set()
        self._ids: dict[str, str] = {}  # folder -> run id
        self._states: dict[str, tuple[float, dict[str, Any]]] = {}  # run id -> (state mtime, state)

    def _under_roots(self, path: str) -> bool:
        return any(path == r or path.startswith(r + os.sep) for r in self.roots)

    def _state(self, run_dir: Path) -> dict[str, Any] | None:
        """A record's state, re-read only when its file changed."""
        try:
            mtime = (run_dir / "state.json").stat().st_mtime
        except OSError:
            return None
        hit = self._states.get(run_dir.name)
        if hit is None or hit[0] != mtime:
            state = state_dir.read_json(run_dir / "state.json")
            if state is None:
                return None
            hit = self._states[run_dir.name] = (mtime, state)
        return hit[1]

    def update(self, known: set[str]) -> list[RunSummary]:
        """Summaries of pending runs, plus ``removed`` ones for pending runs that went away (their
        folder appeared, or their record was deleted). Records of runs the list already shows (``known``
        folders) are not read."""
        for path in known - self._ids.keys():
            self._ids[path] = state_dir.run_id_for(path)
        known_ids = {self._ids[p] for p in known}
        out = []
        for run_dir in state_dir.runs_root().iterdir():
            if run_dir.name in known_ids:
                continue
            state = self._state(run_dir)
            path = os.path.abspath(str((state or {}).get("log_path") or ""))
            if state is None or path in known or not self._under_roots(path) or os.path.exists(path):
                continue
            out.append(pending_summary(path, records.summarize(state)))
        now = {s.path for s in out}
        gone = self._shown - now - known
        self._shown = now
        for path in sorted(gone):
            summary = pending_summary(path, {"status": Status.UNKNOWN})
            out.append(replace(summary, note="no longer pending", removed=True))
        return out


def pending_summary(path: str, record: dict[str, Any]) -> RunSummary:
    """A runs-list row from a supervisor record (``records.summarize``) alone."""
    code, error = record.get("exit_code"), record.get("error")
    note = "; ".join(x for x in ("no folder yet", None if code is None else f"exit {code}", error) if x)
    return RunSummary(
        path=path,
        name=str(record.get("name") or Path(path).name),
        kind="unknown",
        status=Status.parse(record.get("status"), Status.UNKNOWN),
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
