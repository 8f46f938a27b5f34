"""Start detached processes: a run's supervisor (``python -m runner.control.supervisor --detach
<run_id>``), and, through :func:`start_detached`, every job, zygote and experiment the runner starts.

The supervisor gets its own session (``start_new_session``), stdin closed, and forks once more so it is
re-parented to init: the launcher (the CLI or the app) reaps the short-lived parent at once and never
holds a zombie, and the run outlives the launcher, SSH hang-ups and Ctrl-C.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from runner.control import state_dir


def spawn_supervisor(run_id: str, python: str | None = None, env: Mapping[str, str] | None = None) -> int:
    """Start the supervisor of ``run_id``; returns its pid."""
    rdir = state_dir.record_dir(run_id)
    rdir.mkdir(parents=True, exist_ok=True)
    with open(rdir / "supervisor.log", "ab") as log:
        proc = subprocess.Popen(
            [python or sys.executable, "-m", "runner.control.supervisor", "--detach", run_id],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            env=dict(os.environ if env is None else env),
        )
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        proc.stdout.close()
        proc.wait()
    if not line.isdigit():
        raise RuntimeError(f"supervisor of {run_id} did not start (see {rdir / 'supervisor.log'})")
    return int(line)


def start_detached(
    argv: Sequence[str],
    log: BinaryIO,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a session and process group of its own (a stop signals the whole group; the
    caller's Ctrl-C and hang-up never reach it), stdin closed, stdout and stderr into ``log`` (an open
    binary file the caller may close at once); ``env`` None: this process's environment."""
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=True,
    )
