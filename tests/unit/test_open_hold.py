"""The full read holds from the moment a run is opened (the key), not only from its snapshot's start.

Real run folders and the real follower. Seams, named as such where used: ``tui.follow``'s ``time.sleep``
recorded instead of slept (the hold is a sleep between two runs of the full read); the store's discovery
stalled.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from runner.runs import store as store_module
from tui import follow as follow_module
from tui.follow import HOLD_STEP_S, OPEN_HOLD_S, Focus, Follower

WAIT = 30.0  # a failure guard only: every wait ends as soon as its condition holds


def _runs(root: Path, n: int = 3) -> None:
    for r in range(n):
        folder = root / f"run{r}"
        folder.mkdir(parents=True)
        (folder / "metrics.jsonl").write_text(
            "".join(json.dumps({"step": i, "loss": 1.0}) + "\n" for i in range(5))
        )


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """SEAM: the follower's sleeps, recorded (not slept)."""
    waits: list[float] = []
    monkeypatch.setattr(follow_module.time, "sleep", waits.append)
    return waits


def test_opening_holds_the_full_read_before_its_next_run(tmp_path: Path, slept: list[float]) -> None:
    _runs(tmp_path / "runs")
    follower = Follower([tmp_path / "runs"])
    follower.opening()  # Enter on a row while the full read is under way
    follower.full()
    assert slept and 0 < slept[0] <= OPEN_HOLD_S  # before its first run: the opened one goes first


def test_the_hold_ends_once_the_opened_run_shows_its_chart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chart is out (``shown``) during the hold: the full read goes on at its next look, not after the
    rest of OPEN_HOLD_S (SEAM: the sleeps recorded; the first one is where the UI draws the chart)."""
    _runs(tmp_path / "runs")
    follower = Follower([tmp_path / "runs"])
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        follower.shown()

    monkeypatch.setattr(follow_module.time, "sleep", sleep)
    follower.opening()
    follower.full()
    assert waits == [HOLD_STEP_S]  # one short look, then on (the whole hold is OPEN_HOLD_S)


def test_opening_after_the_full_read_holds_nothing(tmp_path: Path, slept: list[float]) -> None:
    _runs(tmp_path / "runs")
    follower = Follower([tmp_path / "runs"])
    follower.full()
    follower.opening()
    follower.full()  # a later scan is never held by a run opened after the full read
    assert slept == []


def test_a_run_opened_while_the_full_read_discovers_runs_is_read_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan holds the store while it discovers the runs (~0.1 s per 1,000): the opened run is read on
    its own meanwhile, whole, and the full read still reads every run.

    SEAM: the store's ``discover`` stalls in the full read until the test lets it go (a slow disk with
    many runs)."""
    _runs(tmp_path / "runs")
    discovering, release, discovered = threading.Event(), threading.Event(), threading.Event()
    real = store_module.discover

    def stalled(roots):  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "full-read":
            discovering.set()
            release.wait(WAIT)
            discovered.set()
        return real(roots)

    monkeypatch.setattr(store_module, "discover", stalled)
    follower = Follower([tmp_path / "runs"])
    full = threading.Thread(target=follower.full, name="full-read")
    full.start()
    try:
        assert discovering.wait(WAIT)
        snap = follower.snapshot(Focus(str(tmp_path / "runs" / "run1"), ("loss",)))
        assert snap is not None and snap.series["loss"].steps == list(range(5))
        assert not discovered.is_set()  # read while the scan was still discovering
    finally:
        release.set()
        full.join(WAIT)
    assert not full.is_alive()
    assert follower.store is not None and len(follower.store.runs()) == 3
    assert all(run.table.n_lines == 5 for run in follower.store.runs())
