"""Enter right after the first paint (issue 12): start-up work that is not the opened run's waits while it
opens. The full read holds before it discovers the runs (~0.1 s of the interpreter per 1,000 runs), and the
quick-scan child's other runs are unpickled only once the caller lets them (``pause``)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tui.follow import Follower
from tui.prefetch import QuickScanChild


def make_runs(root: Path, n: int) -> None:
    for i in range(n):
        run = root / f"run_{i:02d}"
        run.mkdir(parents=True)
        (run / "metrics.jsonl").write_text(
            "".join(json.dumps({"step": s, "loss": s + i}) + "\n" for s in range(5))
        )


def test_a_run_opened_before_the_full_read_keeps_it_from_discovering_until_its_chart_is_out(
    tmp_path: Path,
) -> None:
    make_runs(tmp_path, 3)
    follower = Follower([tmp_path])
    holding = threading.Event()
    hold = follower._yield_to_open

    def recording_hold() -> None:  # seam: a recording wrapper around the real hold
        holding.set()
        hold()

    follower._yield_to_open = recording_hold  # type: ignore[method-assign]
    follower.opening()  # Enter, before the full read started
    out: list[int] = []
    reader = threading.Thread(target=lambda: out.append(len(follower.full())))
    reader.start()
    assert holding.wait(10)
    assert follower.store is None  # nothing discovered or read while the run opens
    follower.shown()  # its chart is out
    reader.join(30)
    assert out == [3] and follower.store is not None


def test_the_childs_other_runs_are_loaded_once_pause_returns(tmp_path: Path) -> None:
    make_runs(tmp_path, 5)
    child = QuickScanChild([tmp_path], first=2)
    if child.pid < 0:
        pytest.skip("one core or no fork: no child")
    head = child.first()
    assert head is not None and child.found == 5
    paused: list[int] = []
    tail = child.rest(pause=lambda: paused.append(child.pid))
    assert paused and paused[0] > 0  # asked while the child's frame was in, before it was reaped
    assert tail is not None and {s.path for s in head + tail} == {str(p) for p in tmp_path.iterdir()}
