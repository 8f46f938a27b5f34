"""An interrupted ``backend start`` never leaves a server no state file knows: the server records itself
as soon as it listens, ``status`` shows it, ``stop`` stops it, and the next ``start`` reuses it.
Real server processes in a private home; processes are counted by their command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.backend import lifecycle, state
from runner.control import procs
from runner.control.testing import wait_for
from tests.e2e.conftest import tiny_model_path
from tests.shared_data import REPO
from tests.unit.backend_servers import MARKER, recorded_pid, servers


def cli(home: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TINKERTOP_HOME=str(home), PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "runner.cli", "backend", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, **kw)  # type: ignore[call-overload]


def test_a_timed_out_start_leaves_a_recorded_server_that_start_reuses_and_stop_stops(home: Path) -> None:
    model = tiny_model_path()
    with pytest.raises(lifecycle.BackendError, match="did not become ready"):
        lifecycle.start(wait=True, model=model, timeout=0)
    pid = wait_for(lambda: recorded_pid(home), timeout=120, what="the server's own record")
    shown = cli(home, "status", "--json")
    assert f'"pid": {pid}' in shown.stdout and state.read_info().key not in shown.stdout  # type: ignore[union-attr]
    info = lifecycle.start(wait=True, model=model)
    assert info.pid == pid and servers(home) == [pid]
    assert lifecycle.ensure_running(model) == info and servers(home) == [pid]
    assert lifecycle.stop() is True
    wait_for(lambda: not servers(home), timeout=60, what="the server to exit")
    assert lifecycle.status() is None and state.read_info() is None


def test_a_killed_launcher_leaves_a_server_that_status_and_stop_find(home: Path) -> None:
    model = tiny_model_path()
    env = dict(os.environ, TINKERTOP_HOME=str(home), PYTHONPATH=str(REPO))
    launcher = subprocess.Popen(
        [sys.executable, "-m", "runner.cli", "backend", "start", "--model", str(model)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: servers(home), timeout=120, what="the server process")
    launcher.send_signal(signal.SIGKILL)
    launcher.wait(timeout=30)
    pid = wait_for(lambda: recorded_pid(home), timeout=120, what="the server's own record")
    again = cli(home, "start", "--json")  # reuses the one that is starting; makes no second one
    assert again.returncode == 0, again.stdout + again.stderr
    assert f'"pid": {pid}' in again.stdout and servers(home) == [pid]
    stopped = cli(home, "stop")
    assert stopped.returncode == 0 and "backend stopped" in stopped.stdout
    wait_for(lambda: not servers(home), timeout=60, what="the server to exit")
    assert cli(home, "status").returncode == 3


def test_a_second_server_process_refuses_to_run_beside_the_first(home: Path) -> None:
    model = tiny_model_path()
    first = lifecycle.start(wait=True, model=model)
    log = home / "second.log"
    second = subprocess.run(
        [sys.executable, "-m", MARKER, "--model", str(model), "--log-path", str(log)],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode != 0 and f"pid {first.pid}" in second.stderr
    assert servers(home) == [first.pid] and lifecycle.status() == first
    lifecycle.stop()


def test_a_server_left_a_zombie_by_its_parent_counts_as_stopped() -> None:
    """The demo app starts the backend as its child and does not reap it: after ``backend stop`` sent
    SIGTERM from another terminal, the server was a zombie, which ``kill(pid, 0)`` still finds, and ``stop``
    waited for it for ever. A zombie has exited."""
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, time; c = subprocess.Popen(['true']); print(c.pid, flush=True); "
         "time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        deadline = time.monotonic() + 30
        while not procs.is_zombie(child):  # the child has exited; its parent does not wait for it
            assert time.monotonic() < deadline, "the child never became a zombie"
            time.sleep(0.05)
        assert lifecycle._pid_alive(child) is False
    finally:
        parent.kill()
        parent.wait()
