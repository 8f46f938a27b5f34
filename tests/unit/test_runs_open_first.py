"""A run opened during the full read is read ahead of the others, and its snapshot comes at once.

Real run folders and the real follower and store. One seam, named as such: the store's per-run reader
(``runner.runs.store.refresh_isolated``) is wrapped so the full read stalls on every run but the opened
one until the test lets it go (standing in for a slow disk with hundreds of runs).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.runs import store as store_module
from runner.runs.folder import RunFolder
from runner.runs.store import RunStore
from tui.follow import Focus, Follower, default_chart_keys

WAIT = 30.0  # a failure guard only: every wait below ends as soon as its condition holds


def make_runs(root: Path, n: int = 6, steps: int = 50) -> list[Path]:
    paths = []
    for r in range(n):
        folder = root / f"run{r}"
        folder.mkdir(parents=True)
        rows = (json.dumps({"step": i, "loss": 1.0 / (i + 1) + r}) for i in range(steps))
        (folder / "metrics.jsonl").write_text("\n".join(rows) + "\n")
        paths.append(folder)
    return paths


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, list[str]]]:
    """SEAM: the full read waits at each run until ``release`` is set; ``order`` lists runs read."""
    release, order = threading.Event(), []
    real = store_module.refresh_isolated
    opened: set[str] = set()

    def gated(run: RunFolder) -> None:
        if threading.current_thread().name == "full-read" and run.name not in opened:
            release.wait(WAIT)
        else:
            opened.add(run.name)
        order.append(run.name)
        real(run)

    monkeypatch.setattr(store_module, "refresh_isolated", gated)
    yield release, order
    release.set()


def test_opened_run_is_read_first_while_the_full_read_waits(
    tmp_path: Path, gate: tuple[threading.Event, list[str]]
) -> None:
    release, order = gate
    paths = make_runs(tmp_path / "runs")
    follower = Follower([tmp_path / "runs"])
    full = threading.Thread(target=follower.full, name="full-read")
    full.start()
    try:
        snap = follower.snapshot(Focus(str(paths[4]), ("loss",)))
        assert snap is not None
        assert snap.series["loss"].steps == list(range(50))  # the whole run, not a tail
        assert order[0] == "run4"  # read before any other run
    finally:
        release.set()
        full.join(WAIT)
    assert not full.is_alive()
    assert sorted(set(order)) == [f"run{r}" for r in range(6)]


def test_opened_run_is_not_read_twice_by_the_full_read(tmp_path: Path) -> None:
    paths = make_runs(tmp_path / "runs")
    follower = Follower([tmp_path / "runs"])
    first = follower.snapshot(Focus(str(paths[2]), ("loss",)))
    follower.full()
    assert first is not None
    assert follower.snapshot(Focus(str(paths[2]), ("loss",))) is first  # nothing changed: reused


def test_first_snapshot_carries_the_chart_the_view_asks_for(tmp_path: Path) -> None:
    """A run opened with no keys yet gets its default chart's series at once (one round trip)."""
    paths = make_runs(tmp_path / "runs")
    follower = Follower([tmp_path / "runs"])
    snap = follower.snapshot(Focus(str(paths[1]), ()))
    assert snap is not None
    keys = default_chart_keys(snap.detail)
    assert keys == ("loss",)
    assert list(snap.series) == ["loss"] and len(snap.series["loss"].steps) == 50


def test_full_read_can_be_held_between_runs(tmp_path: Path) -> None:
    """The store asks before each run (the follower holds the read back while a run is opened)."""
    make_runs(tmp_path / "runs")
    asked: list[int] = []
    store = RunStore([tmp_path / "runs"])
    store.scan(pause=lambda: asked.append(len([r for r in store.runs() if r.table.n_lines])))
    assert asked == [0, 1, 2, 3, 4, 5]  # before each run is read
