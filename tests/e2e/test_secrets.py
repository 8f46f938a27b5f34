"""Secrets stay out of everything: launch from the app's form (real ``tinkertop`` in tmux) with a
random ``TINKER_API_KEY`` and ``WANDB_API_KEY`` in its environment, let the run write output, capture
the screen on the form, the list, the run view, its console and config tabs; then search every file
under the workspace (results, notes), the state dir and the captured screens: zero hits.

The job is the runner's self-test job with ``require_env`` naming both keys, so it fails unless the
secrets really reached it (the test cannot pass by never passing them on).
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

import pytest

from runner.control import actions, state_dir
from runner.control.testing import SELFTEST_JOB, wait_status
from tests.e2e.conftest import tmux
from tests.shared_data import cli_exe

pytestmark = pytest.mark.e2e

EXE = cli_exe()
ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


class Pane:
    def __init__(self, session: str) -> None:
        self.session = session
        self.captures: list[str] = []

    def keys(self, *keys: str, literal: bool = False) -> None:
        for key in keys:
            tmux("send-keys", "-t", self.session, *(["-l"] if literal else []), key)
            time.sleep(0.3)

    def wait(self, *needles: str, timeout: float = 60.0) -> str:
        end = time.monotonic() + timeout
        text = ""
        while time.monotonic() < end:
            text = tmux("capture-pane", "-p", "-t", self.session, check=False).stdout
            if all(n in text for n in needles):
                self.captures.append(text)
                return text
            time.sleep(0.2)
        raise AssertionError(f"{needles} not on screen after {timeout}s:\n{text}")


@pytest.fixture
def keys() -> tuple[str, str]:
    tinker = "tml-" + "".join(secrets.choice(ALNUM) for _ in range(40))
    return tinker, secrets.token_hex(20)


def test_secrets_never_reach_files_or_screen(tmp_path: Path, keys: tuple[str, str]) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    if not EXE.exists():
        pytest.skip(f"{EXE} is missing (make setup)")
    tinker_key, wandb_key = keys
    home, work = tmp_path / "home", tmp_path / "work"
    (work / "results" / "logs").mkdir(parents=True)
    session = f"tt-secrets-{os.getpid()}-{time.monotonic_ns()}"
    env = [f"TINKER_API_KEY={tinker_key}", f"WANDB_API_KEY={wandb_key}", f"TINKERTOP_HOME={home}"]
    env_args = [arg for item in env for arg in ("-e", item)]
    cmd = f"exec env -u COLUMNS -u LINES {EXE} {work / 'results' / 'logs'}"
    tmux("new-session", "-d", "-s", session, "-x", "150", "-y", "45", "-c", str(work), *env_args, cmd)
    tmux("resize-window", "-t", session, "-x", "150", "-y", "45", check=False)
    pane = Pane(session)
    old_home = os.environ.get("TINKERTOP_HOME")
    os.environ["TINKERTOP_HOME"] = str(home)
    try:
        pane.wait("No runs yet", timeout=20)
        pane.keys("n")
        pane.wait("New run", "Validate")
        time.sleep(1.0)  # let the form settle its focus before typing (not an assertion)
        pane.keys("Tab")
        pane.keys(SELFTEST_JOB, literal=True)
        pane.wait(SELFTEST_JOB, "a module (pkg.mod) or a script path", timeout=10)
        pane.keys(*["Tab"] * 8)  # model, renderer, learning rate, Local, Smoke, Queue, Experiment, name
        pane.keys("secrun", literal=True)
        pane.keys("Tab")
        overrides = (
            "steps=40 step_seconds=0.1 require_env=TINKER_API_KEY,WANDB_API_KEY wandb_project=sec-proj"
        )
        pane.keys(overrides, literal=True)
        pane.keys("C-r")
        pane.wait("would start secrun", "valid: 1 run")
        pane.keys("C-l")
        pane.wait("secrun", "running", "Headline", timeout=60)
        run_id = state_dir.run_id_for(work / "results" / "logs" / "secrun")
        assert wait_status(run_id, "finished", "failed", timeout=60) == "finished"  # the keys reached the job
        pane.wait("secrun", "finished")
        pane.keys("Enter")
        pane.wait("secrun · ", "supervisor: finished")
        pane.keys("l")  # console tab
        pane.wait("step 39")
        pane.keys("o")  # config tab
        pane.wait("require_env")
        pane.keys("Escape", "q")
    finally:
        tmux("kill-session", "-t", session, check=False)
        if state_dir.state_path(state_dir.run_id_for(work / "results" / "logs" / "secrun")).exists():
            actions.stop(state_dir.run_id_for(work / "results" / "logs" / "secrun"), grace=2)
        if old_home is None:
            os.environ.pop("TINKERTOP_HOME", None)
        else:
            os.environ["TINKERTOP_HOME"] = old_home

    assert len(pane.captures) >= 7
    files = [p for root in (work, home) for p in root.rglob("*") if p.is_file()]
    assert any(p.parent.name == "experiments" for p in files)  # the notes record was written and searched
    assert any(p.name == "console.log" for p in files) and any(p.name == "metrics.jsonl" for p in files)
    needles = (tinker_key.encode(), wandb_key.encode())
    planted = tmp_path / "planted.txt"  # the search itself finds a key where there is one
    planted.write_text(f"x{wandb_key}x")
    assert [p for p in [*files, planted] if any(n in p.read_bytes() for n in needles)] == [planted]
    hits = [str(p) for p in files if any(n in p.read_bytes() for n in needles)]
    hits += [f"screen {i}" for i, text in enumerate(pane.captures) if tinker_key in text or wandb_key in text]
    assert hits == []
