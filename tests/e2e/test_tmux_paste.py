"""The real ``tinkertop`` in tmux: words pasted into the metric search while the run's metrics.jsonl
grows must not kill the app (it once died with ``NoMatches ... SelectionList on MetricPicker``).

``send-keys -l`` writes the words to the terminal in one go, as a paste or a fast typist does; every
wait polls the pane for a condition.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import tmux
from tests.shared_data import SHARED

pytestmark = pytest.mark.e2e

EXE = Path(sys.executable).parent / "tinkertop"
SOURCE = SHARED / "formats" / "rl_arith"
WORDS = "optim entropy kl sample"
ROUNDS = 8
FAILURES = ("Traceback", "NoMatches", "OptionDoesNotExist")
PICKER = 40  # columns of the metric list, left of the chart


def alive(session: str) -> bool:
    """The app still runs (the pane stays after it exits, to show why: ``remain-on-exit``)."""
    dead = tmux("display-message", "-p", "-t", session, "#{pane_dead}", check=False)
    return dead.returncode == 0 and dead.stdout.strip() == "0"


def wait_screen(session: str, cond, what: str, timeout: float = 20.0) -> str:  # type: ignore[no-untyped-def]
    """Poll the pane until ``cond(text)``; fail at once if the app died, else after ``timeout``."""
    end = time.monotonic() + timeout
    text = ""
    while time.monotonic() < end:
        text = tmux("capture-pane", "-p", "-t", session, check=False).stdout
        if not alive(session):
            raise AssertionError(f"the app exited while waiting for {what}; last screen:\n{text}")
        bad = [f for f in FAILURES if f in text]
        assert not bad, f"{bad} on screen while waiting for {what}:\n{text}"
        if cond(text):
            return text
        time.sleep(0.05)
    raise AssertionError(f"{what}: not on screen after {timeout}s:\n{text}")


def picker(text: str) -> list[str]:
    """The metric keys listed on the left of the run view."""
    lines = [line[:PICKER] for line in text.splitlines()]
    return [w for line in lines for w in line.split() if "/" in w and not w.startswith("/")]


@pytest.fixture
def session(tmux_session: str) -> str:
    if not SOURCE.is_dir():
        pytest.skip(f"{SOURCE} is absent")
    return tmux_session


def test_paste_into_metric_search_while_the_run_grows(tmp_path: Path, session: str) -> None:
    root = tmp_path / "logs"
    shutil.copytree(SOURCE, root / "rl_arith")
    metrics = root / "rl_arith" / "metrics.jsonl"
    last = json.loads(metrics.read_text().splitlines()[-1])
    command = f"exec env -u COLUMNS -u LINES {EXE} {root}"
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", command)
    tmux("set-option", "-t", session, "remain-on-exit", "on")
    tmux("resize-window", "-t", session, "-x", "120", "-y", "40", check=False)
    wait_screen(session, lambda t: "rl_arith" in t and "1 runs" in t, "the runs list")
    tmux("send-keys", "-t", session, "Enter")
    wait_screen(session, lambda t: "rl_arith · rl" in t and "Charts" in t, "the run view")
    for i in range(ROUNDS):
        step = 6 + i
        with metrics.open("a", encoding="utf-8") as fh:  # the live refresh races the paste below
            fh.write(json.dumps(dict(last, step=step)) + "\n")
        tmux("send-keys", "-t", session, "/")
        tmux("send-keys", "-t", session, "-l", WORDS)
        wait_screen(session, lambda t: WORDS in t, f"the pasted words (round {i})")
        tmux("send-keys", "-t", session, "C-u")  # clear the search box: the full list again
        wait_screen(
            session, lambda t, s=step: WORDS not in t and f"step {s} " in t, f"step {step}, box cleared"
        )
    tmux("send-keys", "-t", session, "-l", "entropy")
    wait_screen(session, lambda t: picker(t) == ["optim/entropy"], "one key left in the list")
    tmux("send-keys", "-t", session, "Escape")  # the search box lets go of the keys
    tmux("send-keys", "-t", session, "Escape")  # back to the list
    wait_screen(session, lambda t: "1 runs" in t, "the runs list again")
    tmux("send-keys", "-t", session, "q")
    end = time.monotonic() + 10
    while alive(session) and time.monotonic() < end:
        time.sleep(0.1)
    assert not alive(session), "q did not quit the app"
