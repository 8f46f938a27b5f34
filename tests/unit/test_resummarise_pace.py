"""The app spaces its re-summarising ticks by ``Follower.summaries_cpu`` (``RESUMMARISE_COST_FACTOR`` in
``tui.app``): the CPU the summaries took, not the judging in the same tick (paced on its own, see
``JudgePacer``) nor the wall time other threads stretch. Real run folders, store and follower; seams, named
as such: the follower's and the pacer's CPU meters and the board's clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_judge_pacing import _Clock, _Cpu, _run
from tui.follow import JUDGE_EVERY_S, READ_FRESH_S, Follower, JudgePacer


@pytest.fixture(autouse=True)
def _homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINKERTOP_COLD_READER", "0")


def test_the_timers_pace_is_the_summaries_cpu_not_the_judging(tmp_path: Path) -> None:
    root = tmp_path / "ws" / "results" / "logs"
    for i in range(3):
        _run(root, f"run_{i}")
    f = Follower([root])
    f.full()
    clock = _Clock(1e6)
    assert f.board is not None
    f.board._clock = clock  # SEAM: the board's clock
    f.pacer = JudgePacer(0.01, clock=clock, cpu=_Cpu(0.1))  # SEAM: each judging pass costs 0.1 s CPU
    f.cpu = _Cpu(0.002)  # SEAM: this thread's CPU meter, 0.002 s a look
    clock.t += JUDGE_EVERY_S + 1
    assert len(f.resummarise()) == 3  # every run judged again in the same tick
    assert f.summaries_cpu == pytest.approx(0.002)


def test_the_timer_leaves_out_runs_a_refresh_just_summarised(tmp_path: Path) -> None:
    """With many runs appending, the follow worker summarises them as it reads them: the status timer leaves
    out those read less than READ_FRESH_S ago (unless asked for every run, after an action); the store still
    names every run (the pending-launch rows need them all)."""
    root = tmp_path / "ws" / "results" / "logs"
    runs = [_run(root, f"run_{i}") for i in range(3)]
    f = Follower([root])
    f.full()
    clock = _Clock(1e6)
    f.pacer = JudgePacer(0.01, clock=clock, cpu=_Cpu(0.001))  # SEAM: the pacer's clock and CPU meter
    with (runs[0] / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 99, "env/all/reward/total": 0.5}\n')
    assert [s.path for s in f.refresh({runs[0]})] == [str(runs[0])]
    clock.t += READ_FRESH_S / 2
    assert sorted(s.path for s in f.resummarise()) == [str(runs[1]), str(runs[2])]
    assert len(f.resummarise(every=True)) == 3
    assert f.known_paths() == {str(r) for r in runs}
    clock.t += READ_FRESH_S
    assert len(f.resummarise()) == 3  # no longer fresh
