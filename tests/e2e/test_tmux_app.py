"""The real ``tinkertop`` console script in a detached tmux session: list, open, switch tabs, quit."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import tmux
from tests.shared_data import SHARED, cli_exe

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
FORMATS = SHARED / "formats"
EXE = cli_exe()
# newest first under the default sort (updated): dpo_local, rl_arith, sl_conversations
RUNS = {"sl_conversations": 1_780_000_000, "rl_arith": 1_780_000_100, "dpo_local": 1_780_000_200}


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session).stdout


def wait_screen(session: str, *needles: str, timeout: float = 20.0) -> str:
    """Poll the pane until every needle is on screen; fail with the last screen."""
    end = time.monotonic() + timeout
    text = ""
    while time.monotonic() < end:
        text = screen(session)
        if all(n in text for n in needles):
            return text
        time.sleep(0.1)
    raise AssertionError(f"{needles} not on screen after {timeout}s:\n{text}")


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    if not FORMATS.is_dir():
        pytest.skip(f"{FORMATS} is absent")
    root = tmp_path / "logs"
    for name, mtime in RUNS.items():
        target = root / name
        shutil.copytree(FORMATS / name, target)
        for path in [target, *target.rglob("*")]:
            os.utime(path, (mtime, mtime))
    return root


@pytest.fixture
def session(tmux_session: str) -> str:
    return tmux_session


def test_list_open_tabs_quit(runs_dir: Path, session: str) -> None:
    tmux(
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "120",
        "-y",
        "40",
        f"exec env -u COLUMNS -u LINES {EXE} {runs_dir}",
    )
    tmux(
        "resize-window", "-t", session, "-x", "120", "-y", "40", check=False
    )  # a running server may ignore -x/-y
    text = wait_screen(session, "dpo_local", "rl_arith", "sl_conversations", "3 runs")
    lines = [line for line in text.splitlines() if "_" in line and "ago" in line]
    assert [line.split()[0] for line in lines] == ["dpo_local", "rl_arith", "sl_conversations"], text

    tmux("send-keys", "-t", session, "Down")
    tmux("send-keys", "-t", session, "Enter")
    text = wait_screen(session, "rl_arith · rl · finished · step 5", "env/all/reward/total 0.6062", "Charts")

    tmux("send-keys", "-t", session, "m")  # the Latest tab: every metric's last value
    text = wait_screen(session, "optim/entropy", "0.2781", "optim/kl_sample_train_v1")

    tmux("send-keys", "-t", session, "]")  # next tab: config.json
    text = wait_screen(session, '"learning_rate": 4e-05', '"recipe_name": "recipe_math_rl"')

    tmux("send-keys", "-t", session, "Escape")
    wait_screen(session, "3 runs", "sl_conversations", timeout=10)
    tmux("send-keys", "-t", session, "q")
    end = time.monotonic() + 10
    while tmux("has-session", "-t", session, check=False).returncode == 0 and time.monotonic() < end:
        time.sleep(0.1)
    assert tmux("has-session", "-t", session, check=False).returncode != 0, "q did not quit the app"
