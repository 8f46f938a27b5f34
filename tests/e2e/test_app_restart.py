"""Runs outlive the app: SIGKILL the real ``tinkertop`` in tmux while 3 supervised runs are live,
start it again, and it shows all 3 still ``running`` with their steps advancing; afterwards every
run's metrics.jsonl has each step once, in order.

The runs are the runner's self-test job (a real chz script writing a metrics line per step, run by
the real supervisor), which keeps the test fast on a shared 2-core machine.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

from runner.control import actions, procs, state_dir
from runner.control.launch import LaunchRequest, launch, plan
from runner.control.testing import launch_job, steps, wait_for, wait_status
from tests.e2e.conftest import Backend, tmux
from tests.shared_data import cli_exe

pytestmark = pytest.mark.e2e

EXE = cli_exe()
NAMES = ("alpha", "bravo", "charlie")


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session, check=False).stdout


def row_steps(text: str, names: tuple[str, ...] = NAMES) -> dict[str, tuple[str, int]]:
    """name -> (status, step) from the runs list on screen."""
    out = {}
    for name in names:
        match = re.search(rf"^\s*{name}\s+\S+\s+(\w+)\s+(\d+)\s", text, re.M)
        if match:
            out[name] = (match.group(1), int(match.group(2)))
    return out


def wait_rows(session: str, cond, timeout: float = 40.0, what: str = "", names: tuple[str, ...] = NAMES):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    text = ""
    while time.monotonic() < end:
        text = screen(session)
        rows = row_steps(text, names)
        if cond(rows):
            return rows
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}:\n{text}")


def start_app(session: str, work: Path, home: Path) -> int:
    """The real console script in a detached tmux session; returns the app's pid."""
    cmd = f"exec env -u COLUMNS -u LINES TINKERTOP_HOME={home} {EXE} {work / 'results' / 'logs'}"
    tmux("new-session", "-d", "-s", session, "-x", "140", "-y", "30", "-c", str(work), cmd)
    tmux("resize-window", "-t", session, "-x", "140", "-y", "30", check=False)
    return int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").stdout.strip())


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    if not EXE.exists():
        pytest.skip(f"{EXE} is missing (make setup)")
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINKER_API_KEY", "tml-" + "r" * 40)
    work = tmp_path / "work"
    (work / "results" / "logs").mkdir(parents=True)
    return work


def test_runs_survive_a_sigkilled_app_and_show_after_restart(work: Path, tmp_path: Path) -> None:
    ids = [launch_job(work, "steps=100000", "step_seconds=0.25", name=n) for n in NAMES]
    kill_and_restart_app(work, tmp_path / "home", ids, NAMES)


def test_local_math_rl_runs_survive_a_sigkilled_app(
    backend: Backend, work: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same with 3 real cookbook math_rl runs on the embedded backend (tiny sizes)."""
    monkeypatch.setenv("TINKERTOP_HOME", str(backend.home))
    req = LaunchRequest(
        "math_rl", ["max_steps=400"], name="arith", local=True, smoke=True, sweep=["seed=0,1,2"], cwd=work
    )
    ids = launch(req, plan(req))
    names = tuple(str((state_dir.read_state(r) or {})["name"]) for r in ids)
    kill_and_restart_app(work, backend.home, ids, names, timeout=400)


def kill_and_restart_app(
    work: Path, home: Path, ids: list[str], names: tuple[str, ...], timeout: float = 60
) -> None:
    """App up with the runs live; SIGKILL it; runs go on; restart; all running, steps advancing.

    Every wait is on a condition (what the screen or the files show), never on a count of steps that
    depends on how fast the machine is: the final check compares the files with what the app showed."""
    session = f"tt-restart-{os.getpid()}-{time.monotonic_ns()}"
    groups: list[int | None] = []
    shown: dict[str, tuple[str, int]] = {}
    try:
        for run_id in ids:
            wait_for(lambda r=run_id: len(steps(r)) >= 2, timeout, what=f"{run_id} first steps")
        pid = start_app(session, work, home)
        wait_rows(
            session,
            lambda rows: len(rows) == 3 and all(s == "running" for s, _ in rows.values()),
            timeout,
            what="3 running runs",
            names=names,
        )
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: tmux("has-session", "-t", session, check=False).returncode != 0, 10, what="app gone")
        for run_id in ids:  # the runs did not notice
            assert wait_status(run_id, "running", timeout=1) == "running"
        before = {run_id: len(steps(run_id)) for run_id in ids}
        wait_for(lambda: all(len(steps(r)) > before[r] for r in ids), timeout, what="steps while no app")

        start_app(session, work, home)
        first = wait_rows(
            session,
            lambda rows: len(rows) == 3 and all(s == "running" for s, _ in rows.values()),
            timeout,
            what="3 running runs after the restart",
            names=names,
        )
        shown = wait_rows(
            session,
            lambda rows: len(rows) == 3 and all(rows[n][1] > first[n][1] for n in names),
            timeout,
            what="every run's step advancing on screen",
            names=names,
        )
        tmux("send-keys", "-t", session, "q")  # q quits the app; the runs go on
        wait_for(lambda: tmux("has-session", "-t", session, check=False).returncode != 0, 10, what="q quit")
        assert all(wait_status(r, "running", timeout=1) == "running" for r in ids)
    finally:
        tmux("kill-session", "-t", session, check=False)
        groups = [(state_dir.read_state(r) or {}).get("pgid") for r in ids]
        for run_id in ids:
            actions.stop(run_id, grace=3)
    for run_id, name, pgid in zip(ids, names, groups, strict=True):
        assert wait_status(run_id, "stopped", "failed", "finished") == "stopped"
        assert pgid and not procs.group_members(pgid)
        seen = steps(run_id)
        assert seen == list(range(len(seen))), seen  # each step once, in order
        assert seen[-1] >= shown[name][1], (seen, shown)  # the file holds every step the app showed
