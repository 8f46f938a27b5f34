"""Status of a run as its supervisor recorded it, with liveness checked against /proc.

``status_for(run_path)`` is what the run-folder reader calls for every run at each refresh: no file
system call for folders tinkertop did not launch (the records folder is listed when it changes), and
cached by state file otherwise (the /proc liveness check is redone for live runs, a couple of small
reads). A pass over every run looks at the records folder once: ``with status_for.one_pass(): ...``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runner.control import procs, state_dir
from runner.runs.console import read_console_tail
from runner.status import LIVE, Status

# a claimed run whose supervisor has not yet written its pid is "starting" for this long, then lost
START_TIMEOUT_S = 60.0
TAIL_LINES = 20

# a listing or a state file is cached only once its mtime is this old (see ``_settled``)
SETTLED_NS = 500_000_000


def supervisor_alive(state: dict[str, Any]) -> bool:
    return procs.alive(state.get("supervisor_pid"), state.get("supervisor_start"))


def job_alive(state: dict[str, Any]) -> bool:
    return procs.alive(state.get("pid"), state.get("pid_start"))


def effective_status(state: dict[str, Any]) -> Status:
    """The recorded status, except a live status whose supervisor is gone becomes ``lost`` (so does a
    record with no status; a word that is not a status is ``unknown``)."""
    status = Status.parse(state.get("status") or Status.LOST, Status.UNKNOWN)
    if status not in LIVE:
        return status
    if state.get("supervisor_pid"):
        return status if supervisor_alive(state) else Status.LOST
    claimed = float(state.get("claimed_ts") or 0)
    return status if time.time() - claimed < START_TIMEOUT_S else Status.LOST


def tail(path: Path, lines: int = TAIL_LINES, max_bytes: int = 64_000) -> list[str]:
    """The last non-blank lines of a console capture (at most ``max_bytes`` read from its end; each
    progress-bar update after a ``\\r`` is a line): :func:`runner.runs.console.read_console_tail`."""
    return read_console_tail(path, lines, max_bytes, skip_blank=True)


def summarize(state: dict[str, Any]) -> dict[str, Any]:
    """The fields the reader and the CLI show."""
    run_id = state.get("run_id", "")
    status = effective_status(state)
    out = {
        "run_id": run_id,
        "name": state.get("name"),
        "status": status,
        "recorded_status": state.get("status"),
        "exit_code": state.get("exit_code"),
        "pid": state.get("pid"),
        "supervisor_pid": state.get("supervisor_pid"),
        "started": state.get("started_at"),
        "ended": state.get("ended_at"),
        "created": state.get("created_at"),
        "log_path": state.get("log_path"),
        "recipe": state.get("recipe"),
        "local": state.get("local", False),
        "attempt": state.get("attempt", 1),
        "console_log": str(state_dir.console_path(run_id)),
        "error": state.get("error"),
        "stopping": bool(state.get("stop_requested")) and status in LIVE,
        "job_alive": job_alive(state) if status == Status.LOST else None,
    }
    if status in (Status.FAILED, Status.LOST):
        out["console_tail"] = tail(state_dir.console_path(run_id))
    return out


class RecordBook:
    """``status_for``: the supervisor's records, looked up without a file system call for the runs
    tinkertop did not launch. The records folder is listed again only when its mtime moved (one ``stat``;
    inside :meth:`one_pass`, once for the whole pass); a state file is read again only when its mtime,
    size or inode moved (an atomic write is a new inode), else its last record is reused (a live one
    has its /proc check redone)."""

    def __init__(self) -> None:
        self._roots: dict[tuple[str | None, str | None], str] = {}  # (TINKERTOP_HOME, HOME) -> root
        self._listing: tuple[str, int, frozenset[str]] | None = None  # (root, its mtime_ns, its entries)
        # state file -> ((mtime_ns, size, inode), state, summary), for settled files only
        self._cache: dict[str, tuple[tuple[int, int, int], dict[str, Any], dict[str, Any]]] = {}
        self._local = threading.local()  # the listing the pass under way on this thread took
        self.reads = 0  # test seam: state files read

    def __call__(self, run_path: str | Path) -> dict[str, Any] | None:
        """Supervisor status of the run in folder ``run_path``, or None if tinkertop did not launch it."""
        run_id = state_dir.run_id_for(run_path)
        root, names = self._names()
        if run_id not in names:
            return None
        path = os.path.join(root, run_id, "state.json")
        try:
            st = os.stat(path)
        except OSError:
            self._cache.pop(path, None)
            return None
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        hit = self._cache.get(path)
        if hit is not None and hit[0] == key:
            if hit[2]["status"] not in LIVE:
                return hit[2]
            state = hit[1]  # live: only the /proc check is redone
        else:
            self.reads += 1
            state = state_dir.read_json(Path(path)) or {}
            if not state:
                return None
        result = summarize(state)
        if _settled(st.st_mtime_ns):
            self._cache[path] = (key, state, result)
        return result

    @contextmanager
    def one_pass(self) -> Iterator[None]:
        """Within it (on this thread), the records folder is looked at once: for a pass over every run."""
        outer = getattr(self._local, "listing", None)
        self._local.listing = outer or self._list()
        try:
            yield
        finally:
            self._local.listing = outer

    def _names(self) -> tuple[str, frozenset[str]]:
        taken = getattr(self._local, "listing", None)
        return taken if taken is not None else self._list()

    def _list(self) -> tuple[str, frozenset[str]]:
        """The records root and the record folders in it, listed again only when its mtime moved."""
        root = self._root()
        try:
            mtime = os.stat(root).st_mtime_ns
        except OSError:
            return root, frozenset()
        last = self._listing
        if last is not None and last[:2] == (root, mtime):
            return root, last[2]
        try:
            names = frozenset(os.listdir(root))
        except OSError:
            return root, frozenset()
        if _settled(mtime):
            self._listing = (root, mtime, names)
        return root, names

    def _root(self) -> str:
        """``state_dir.runs_root()`` made (and its folders created) once per ``TINKERTOP_HOME`` / ``HOME``."""
        key = (os.environ.get("TINKERTOP_HOME"), os.environ.get("HOME"))
        root = self._roots.get(key)
        if root is None:
            root = self._roots[key] = str(state_dir.runs_root())
        return root


def _settled(mtime_ns: int) -> bool:
    """Whether a file last changed long enough ago that a change now would move its mtime (file systems
    stamp with a coarse clock: two changes within one of its ticks can leave the same mtime)."""
    return mtime_ns < time.time_ns() - SETTLED_NS


status_for = RecordBook()


def list_runs() -> list[dict[str, Any]]:
    return [summarize(s) for s in state_dir.iter_states()]
