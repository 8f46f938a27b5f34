"""Process facts from /proc: start times (so a reused pid is never taken for a live run), groups."""

from __future__ import annotations

import os
import signal
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int) -> list[bytes] | None:
    """Fields 3.. of /proc/<pid>/stat (state first), or None if the pid is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    return raw[raw.rindex(b")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot), or None if the pid is gone."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def is_zombie(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] == b"Z"


def alive(pid: int | None, started: int | None) -> bool:
    """True when ``pid`` exists, is not a zombie, and started at ``started`` (same process)."""
    if not pid or started is None:
        return False
    fields = _stat(pid)
    return fields is not None and int(fields[19]) == started and fields[0] != b"Z"


def group_members(pgid: int) -> list[int]:
    """Pids whose process group is ``pgid`` (zombies excluded)."""
    members = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_bytes()
        except OSError:
            continue
        fields = raw[raw.rindex(b")") + 2 :].split()
        if fields[0] != b"Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False if it is already gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def signal_pid(pid: int, started: int | None, sig: int = signal.SIGTERM) -> bool:
    """Signal ``pid`` only if it is still the same process (start time matches)."""
    if not alive(pid, started):
        return False
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def rss_kib(pid: int) -> int | None:
    """Resident set size in KiB from /proc/<pid>/status."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None
