"""``runner.control.spawn.start_detached``: the one way the runner starts a job, zygote or experiment:
a session of its own, stdin closed, stdout and stderr appended to the log, the given cwd and env."""

from __future__ import annotations

import sys
from pathlib import Path

from runner.control.spawn import start_detached

CHILD = """
import os, sys
print("own session", os.getsid(0) == os.getpid(), "stdin", repr(sys.stdin.read()), "cwd", os.getcwd())
print("env", os.environ.get("TT_SPAWN_PROBE"), file=sys.stderr)
"""


def test_own_session_stdin_closed_output_appended_to_the_log(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_bytes(b"earlier\n")
    with open(log, "ab") as out:
        proc = start_detached([sys.executable, "-c", CHILD], out, cwd=tmp_path, env={"TT_SPAWN_PROBE": "x"})
    assert proc.wait(timeout=60) == 0
    lines = log.read_text().splitlines()
    assert lines[0] == "earlier"
    assert f"own session True stdin '' cwd {tmp_path}" in lines
    assert "env x" in lines
