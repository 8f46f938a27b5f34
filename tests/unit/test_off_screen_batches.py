"""Runs off screen are read in gathered batches, the open run at once (issue 12: the app's CPU with many
runs appending). The real follower on a real watcher and real files; the batcher's own rules on a
stepped clock (a seam: the clock a test cannot otherwise hold still)."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui import follow as follow_module
from tui.follow import ChangeBatcher, Focus, Follower

WAIT = 30.0  # a failure guard only: every wait ends as soon as its condition holds


def _run(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text(json.dumps({"step": 0, "loss": 1.0}) + "\n")
    return folder


def _append(folder: Path, step: int) -> None:
    with (folder / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": step, "loss": 0.5}) + "\n")


class Batches:
    """``Follower.watch`` in a thread; its batches land in a queue."""

    def __init__(self, follower: Follower) -> None:
        self.stop = threading.Event()
        self.got: queue.Queue[set[Path]] = queue.Queue()
        self.thread = threading.Thread(target=self._run, args=(follower,), daemon=True)
        self.thread.start()

    def _run(self, follower: Follower) -> None:
        for batch in follower.watch(self.stop):
            self.got.put(batch)

    def until(self, wanted: Path) -> list[set[Path]]:
        """The batches up to the first naming ``wanted``."""
        seen = []
        while True:
            batch = self.got.get(timeout=WAIT)
            seen.append(batch)
            if wanted in batch:
                return seen

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=WAIT)


@pytest.fixture
def two_runs(tmp_path: Path) -> Iterator[tuple[Follower, Path, Path, Batches]]:
    root = tmp_path / "runs"
    shown, other = _run(root, "shown"), _run(root, "other")
    follower = Follower([root])
    follower.focus = Focus(str(shown), ())
    batches = Batches(follower)
    try:
        batches.until(root)  # the watcher's first batch names the root: it is set up
        yield follower, shown, other, batches
    finally:
        batches.close()


def test_the_open_runs_change_comes_at_once_the_others_wait(two_runs, monkeypatch) -> None:
    follower, shown, other, batches = two_runs
    monkeypatch.setattr(follow_module, "OFF_SCREEN_EVERY_S", 3600.0)  # only for batchers made after
    monkeypatch.setattr(follow_module, "OFF_SCREEN_PER_RUN_S", 3600.0)
    batches.close()
    batches = Batches(follower)  # a new watch: its first batch (the root) starts the hour
    try:
        batches.until(shown.parent)
        _append(other, 1)
        _append(shown, 1)
        got = batches.until(shown)
        assert all(other not in batch for batch in got)  # held back: off screen
        assert got[-1] == {shown}
    finally:
        batches.close()


def test_an_off_screen_change_comes_within_the_window(two_runs, monkeypatch) -> None:
    follower, shown, other, batches = two_runs
    _append(other, 1)
    got = batches.until(other)  # also when nothing else changes afterwards (the watcher's idle turns)
    assert other in got[-1]
    follower.focus = Focus(str(other), ())  # opened: from now on its changes come at once
    _append(other, 2)
    assert batches.until(other)[-1] == {other}


class Clock:
    """SEAM: a clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_batcher_hands_on_what_it_held_at_most_every_window() -> None:
    clock = Clock()
    batcher = ChangeBatcher(2.0, 10.0, clock)  # ten seconds per run handed on: the cap, 2 s, holds
    a, b, shown = Path("/r/a"), Path("/r/b"), Path("/r/shown")
    assert batcher.take({a}, None) == {a}  # the first change after a quiet spell: at once
    clock.now += 0.5
    assert batcher.take({b, shown}, str(shown)) == {shown}  # the open run at once, the other held
    clock.now += 0.5
    assert batcher.take(set(), str(shown)) == set()  # an idle turn inside the window
    assert batcher.waiting == {b}
    clock.now += 1.0
    assert batcher.take(set(), str(shown)) == {b}  # the window is over: everything held
    assert batcher.take({a}, None) == set()
    clock.now += 2.0
    assert batcher.take(set(), None) == {a}


def test_batcher_waits_in_proportion_to_the_runs_it_handed_on() -> None:
    clock = Clock()
    batcher = ChangeBatcher(2.0, 0.02, clock)
    one = {Path("/r/one")}
    many = {Path(f"/r/{i}") for i in range(100)}
    assert batcher.take(one, None) == one
    clock.now += 0.05  # one run (a live run off screen, say): its next change comes at once
    assert batcher.take(one, None) == one
    clock.now += 0.05
    assert batcher.take(many, None) == many  # the wait after this is 100 runs' worth (capped at 2 s)
    clock.now += 1.0
    assert batcher.take(one, None) == set()
    clock.now += 1.0
    assert batcher.take(set(), None) == one
