"""Shared fixtures for end-to-end tests against a real embedded backend (a real server process).

``backend`` (session-scoped) starts one server on the tiny local model in a private
``TINKERTOP_HOME`` and stops it at the end; other e2e tests can reuse it. ``run_cookbook`` runs a
``python -m ...`` (or script) subprocess with the backend's environment, stdin closed.
Set ``TINKERTOP_BACKEND_MODEL=<dir>`` to serve another local model directory.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Backend:
    """A running backend for tests: where it is, its key and the model it serves."""

    url: str
    key: str
    model_path: Path
    home: Path
    pid: int

    def restart(self) -> None:
        """Stop the server and start a new one (new port, new key) on the same state folder."""
        from runner.backend import lifecycle

        lifecycle.stop()
        info = lifecycle.start(wait=True, model=self.model_path)
        self.url, self.key, self.pid = info.url, info.key, info.pid

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """A child environment pointing the tinker SDK here (offline, no W&B)."""
        env = dict(os.environ)
        env.update(TINKER_BASE_URL=self.url, TINKER_API_KEY=self.key, TINKERTOP_HOME=str(self.home))
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", WANDB_MODE="disabled")
        env.update(TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(REPO))
        env.update(extra or {})
        return env


def tiny_model_path() -> Path:
    override = os.environ.get("TINKERTOP_BACKEND_MODEL")
    if override:
        return Path(override).resolve()
    try:
        from runner.backend.tinymodel import ensure_base_model
    except ImportError as exc:  # the tiny model module is not in this checkout yet
        pytest.skip(f"no tiny model available: {exc}")
    return ensure_base_model().resolve()


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    return tiny_model_path()


@pytest.fixture(scope="session")
def backend(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    from runner.backend import lifecycle

    home = tmp_path_factory.mktemp("tinkertop_home")
    old = os.environ.get("TINKERTOP_HOME")
    os.environ["TINKERTOP_HOME"] = str(home)
    try:
        info = lifecycle.start(wait=True, model=tiny_model)
        yield Backend(info.url, info.key, Path(info.model_path), home, info.pid)
    finally:
        lifecycle.stop()
        if old is None:
            os.environ.pop("TINKERTOP_HOME", None)
        else:
            os.environ["TINKERTOP_HOME"] = old


RunCookbook = Callable[..., subprocess.CompletedProcess[str]]


def _argv(target: str, args: tuple[str, ...]) -> list[str]:
    return [sys.executable, *([target] if target.endswith(".py") else ["-m", target]), *args]


def run_python(
    backend: Backend, target: str, *args: str, cwd: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """``python -m <target> args...`` (or ``python <script>``) against the backend, stdin closed, output
    captured; the caller checks the exit code."""
    return subprocess.run(
        _argv(target, args),
        cwd=cwd,
        env=backend.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_python(
    backend: Backend, target: str, *args: str, cwd: Path, stderr: int = subprocess.DEVNULL
) -> subprocess.Popen[str]:
    """The same started, not waited for: in a session of its own (a test may kill its group), stdin
    closed, stdout discarded, stderr to ``stderr`` (``subprocess.PIPE`` to read it)."""
    return subprocess.Popen(
        _argv(target, args),
        cwd=cwd,
        env=backend.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        start_new_session=True,
    )


def run_launch(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``tinkertop launch ARGS --json`` in ``env`` (default: this process's environment, the backend's
    home), stdin closed; it must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "runner.cli", "launch", *args, "--json"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def launch_json(cwd: Path, *args: str) -> dict[str, Any]:
    """The answer of ``tinkertop launch ARGS --json`` (see :func:`run_launch`)."""
    answer: dict[str, Any] = json.loads(run_launch(cwd, *args).stdout)
    return answer


@pytest.fixture(scope="session")
def run_cookbook(backend: Backend) -> RunCookbook:
    """Run ``python -m <module> args...`` (or ``python <script>``) against the backend."""

    def run(
        target: str, *args: str, cwd: Path, timeout: float = 240, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = run_python(backend, target, *args, cwd=cwd, timeout=timeout)
        if check and proc.returncode != 0:
            tail = (proc.stdout[-3000:] + "\n---\n" + proc.stderr[-6000:]).strip()
            raise AssertionError(f"{target} exited {proc.returncode}:\n{tail}")
        return proc

    return run


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows of a cookbook JSONL file (bare NaN/Infinity allowed)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def assert_finite(rows: list[dict[str, Any]], key: str) -> list[float]:
    values = [row[key] for row in rows if key in row]
    assert values, f"no {key!r} in metrics"
    assert all(isinstance(v, int | float) and math.isfinite(v) for v in values), f"{key}: {values}"
    return [float(v) for v in values]


def tmux(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a tmux command (the end-to-end tests drive the real app in a real terminal through it)."""
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=check)


@pytest.fixture
def tmux_session() -> Iterator[str]:
    """A fresh tmux session name (skips without tmux or the installed entry point); killed at the end."""
    from tests.shared_data import cli_exe

    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install -y tmux)")
    if not cli_exe().exists():
        pytest.skip(f"{cli_exe()} is missing (make setup)")
    name = f"tt-e2e-{os.getpid()}-{time.monotonic_ns()}"
    yield name
    tmux("kill-session", "-t", name, check=False)
