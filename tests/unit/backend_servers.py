"""Backend server processes of a test's private ``TINKERTOP_HOME``, found by their command line."""

from __future__ import annotations

from pathlib import Path

from runner.backend import state

MARKER = "runner.backend.server"


def servers(home: Path) -> list[int]:
    """Pids of backend server processes whose log goes into ``home`` (ours, not another test's)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if entry.name.isdigit() and MARKER.encode() in argv and str(home).encode() in b" ".join(argv):
            stat = (entry / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(entry.name))
    return found


def recorded_pid(home: Path) -> int | None:
    info = state.read_info()
    return info.pid if info and info.port and info.pid in servers(home) else None
