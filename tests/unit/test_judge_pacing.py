"""Judging runs again costs only what changed (issue 12: the app's CPU with many runs appending).

- The engine: a run judged again with nothing changed (its table, its file-rule findings, the acks) gets
  the very same alerts list back, not rebuilt; a time rule (stalled) still fires on a later tick; a run
  that grew, or an alert acknowledged, gives a new list.
- The follower: runs off screen are judged again only while judging fits its share of one core
  (``JudgePacer``); the open run and a run never judged are judged at once all the same.
Real run folders and the real store, engine, board and follower. Seams, named as such: the board's and
the pacer's clocks and the pacer's CPU meter (time and CPU a test cannot hold still), and one run's
summary marked as running under a supervisor (the status the stalled rule asks for).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from runner.alerts.acks import AckStore
from runner.alerts.engine import AlertEngine
from runner.runs.folder import RunFolder
from runner.runs.series import MetricTable
from runner.status import Status
from tui.follow import JUDGE_EVERY_S, Focus, Follower, JudgePacer


@pytest.fixture(autouse=True)
def _homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINKERTOP_COLD_READER", "0")


def _row(step: int, loss: float = 1.0) -> str:
    reward = 0.3 + 0.04 * (step * 7 % 10)
    return json.dumps({"step": step, "loss": loss, "env/all/reward/total": reward, "time/total": 2.0}) + "\n"


def _run(root: Path, name: str, steps: int = 30) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text("".join(_row(i, 1.0 / (i + 1)) for i in range(steps)))
    return folder


def _append_nan(folder: Path, step: int) -> None:
    with (folder / "metrics.jsonl").open("a") as fh:
        fh.write(_row(step, math.nan))


def _rules(alerts: list) -> set[str]:
    return {a.rule for a in alerts}


# ---- the engine ---------------------------------------------------------------------------------------
def test_a_run_judged_again_unchanged_gets_the_same_alerts_back(tmp_path: Path) -> None:
    folder = _run(tmp_path, "r")
    _append_nan(folder, 30)
    run = RunFolder(folder)
    run.refresh()
    engine = AlertEngine(acks=AckStore(tmp_path / "ws"))
    first = engine.evaluate(run)
    assert "non_finite" in _rules(first)
    again = engine.evaluate(run)
    assert again is first  # not rebuilt (before: a new list, every alert marked and sorted again)
    assert engine.evaluate(run, summary=run.summary()) is first


def test_a_run_that_grew_or_an_ack_gives_new_alerts(tmp_path: Path) -> None:
    folder = _run(tmp_path, "r")
    run = RunFolder(folder)
    run.refresh()
    engine = AlertEngine(acks=AckStore(tmp_path / "ws"))
    before = engine.evaluate(run)
    assert "non_finite" not in _rules(before)
    _append_nan(folder, 30)
    run.refresh()
    grown = engine.evaluate(run)
    assert "non_finite" in _rules(grown) and grown is not before
    nan = next(a for a in grown if a.rule == "non_finite")
    assert not nan.acked
    engine.acknowledge(nan)
    acked = engine.evaluate(run)
    assert [a.acked for a in acked if a.rule == "non_finite"] == [True]


def test_a_time_rule_still_fires_on_a_later_tick(tmp_path: Path) -> None:
    folder = _run(tmp_path, "r")
    run = RunFolder(folder)
    run.refresh()
    engine = AlertEngine()
    summary = run.summary()
    summary.status, summary.status_source = Status.RUNNING, "supervisor"  # SEAM: a live supervised run
    mtime = os.stat(folder / "metrics.jsonl").st_mtime
    quiet = engine.evaluate(run, now=mtime + 60, summary=summary)
    assert "stalled" not in _rules(quiet)
    assert engine.evaluate(run, now=mtime + 60, summary=summary) is quiet
    later = engine.evaluate(run, now=mtime + 3 * 3600, summary=summary)
    stalled = [a for a in later if a.rule == "stalled"]
    assert stalled and stalled[0].value == pytest.approx(3 * 60, abs=1)
    even_later = engine.evaluate(run, now=mtime + 4 * 3600, summary=summary)  # the minutes move on
    assert [a.value for a in even_later if a.rule == "stalled"] == [pytest.approx(4 * 60, abs=1)]


def test_last_values_at_the_edges() -> None:
    table = MetricTable()
    table.ingest([{"step": s, "a": float(s)} for s in range(10)], 1.0)
    assert table.last_values("a", 0) == []
    assert table.last_values("a", 3) == [7.0, 8.0, 9.0]
    assert table.last_values("a", 50) == [float(s) for s in range(10)]
    table.ingest([{"step": 10, "b": 1.0}], 2.0)  # a row without "a": the last rows are not all there
    assert table.last_values("a", 2) == [8.0, 9.0]


# ---- the follower's pacing ----------------------------------------------------------------------------
class _Clock:
    """SEAM: a clock (monotonic time or CPU seconds) the test moves by hand."""

    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class _Cpu(_Clock):
    """SEAM: CPU seconds that move by ``per_pass`` on every look (a pass, looked at before and after, then
    costs that much)."""

    def __init__(self, per_pass: float) -> None:
        super().__init__(0.0)
        self.per_pass = per_pass

    def __call__(self) -> float:
        self.t += self.per_pass
        return self.t


def test_the_pacer_holds_runs_off_screen_back_by_the_cpu_spent() -> None:
    clock, cpu = _Clock(), _Cpu(0.05)
    pacer = JudgePacer(0.01, clock=clock, cpu=cpu)
    got: list[float] = []
    pacer.run(3.0, got.append)
    clock.t += 4.0  # a pass of 0.05 s CPU at 1% of a core: the next waits 5 s
    pacer.run(3.0, got.append)
    clock.t += 6.0
    pacer.run(3.0, got.append)
    assert got == [3.0, math.inf, 3.0]


Followed = tuple[Follower, list[Path], _Clock]


@pytest.fixture
def follower(tmp_path: Path) -> Followed:
    root = tmp_path / "ws" / "results" / "logs"  # its workspace (acks, settings) is the test's
    runs = [_run(root, f"run_{i}") for i in range(3)]
    f = Follower([root])
    f.full()
    clock = _Clock(1e6)
    assert f.board is not None
    f.board._clock = clock  # SEAM: the board's clock
    f.pacer = JudgePacer(0.01, clock=clock, cpu=_Cpu(0.1))  # SEAM: each pass costs 0.1 s CPU: 10 s held
    return f, runs, clock


def test_runs_off_screen_wait_while_judging_is_over_its_share(follower: Followed) -> None:
    f, runs, clock = follower
    a, b, shown = (str(p) for p in runs)
    f.focus = Focus(shown, ())
    clock.t += JUDGE_EVERY_S + 1
    _append_nan(runs[0], 30)
    f.refresh({runs[0]})  # not held back yet: judged (this pass holds the next ones 10 s)
    assert "non_finite" in _rules((f.alerts or {})[a])
    clock.t += JUDGE_EVERY_S + 1
    _append_nan(runs[1], 30)
    _append_nan(runs[2], 30)
    summaries = {s.path: s for s in f.refresh({runs[1], runs[2]})}
    assert "non_finite" not in _rules((f.alerts or {})[b])  # held back: its alerts wait
    assert "NaN" not in summaries[b].alert_flag
    assert "non_finite" in _rules((f.alerts or {})[shown])  # the open run: at once
    clock.t += 10.0
    f.resummarise()  # the held pass cost 0.1 s too: still held back
    assert "non_finite" not in _rules((f.alerts or {})[b])
    clock.t += 25.0
    summaries = {s.path: s for s in f.resummarise()}  # the timer's tick, once judging fits its share
    assert "non_finite" in _rules((f.alerts or {})[b])
    assert "NaN" in summaries[b].alert_flag


def test_a_run_never_judged_is_judged_at_once_while_held_back(follower: Followed) -> None:
    f, runs, clock = follower
    clock.t += JUDGE_EVERY_S + 1
    _append_nan(runs[0], 30)
    f.refresh({runs[0]})  # holds the next passes back 10 s
    new = _run(runs[0].parent, "run_new")
    _append_nan(new, 30)
    clock.t += 1.0
    f.refresh({new})
    assert "non_finite" in _rules((f.alerts or {})[str(new)])
