"""Incremental judging (the app's and ``tinkertop watch``'s) finds what one full read finds: lines merged into
rows judged before (an eval line logged on a train step, a resume that logs steps again) and files
rewritten or replaced in place, longer than before. And the reward rules follow the reader's reward key."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest

from runner.alerts import AlertEngine
from runner.runs.folder import RunFolder
from tests.shared_data import SHARED
from tests.unit.test_alerts_helpers import ARITH, REALDATA, alerts_for, by_rule, copy_run, rows_of, write_rows

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is absent")
HAIDER = REALDATA / "s-haider10_finetunned_coding_agent/results/2026_02_13-06_30_15"  # evals on train steps


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))


def _summary(alerts):
    return sorted(
        (a.rule, a.metric, a.first_step, a.last_step, a.severity, a.active, a.message) for a in alerts
    )


def _live(rows: list[dict[str, Any]], folder: Path, batch: int = 1) -> tuple[RunFolder, AlertEngine, list]:
    """Append ``rows`` ``batch`` lines at a time, judging after each append (as the app and watch do)."""
    folder.mkdir()
    run, engine, alerts = RunFolder(folder), AlertEngine(), []
    for i in range(0, len(rows), batch):
        write_rows(folder / "metrics.jsonl", rows[i : i + batch], mode="a")
        run.refresh()
        alerts = engine.evaluate(run)
    return run, engine, alerts


def _full(rows: list[dict[str, Any]], folder: Path) -> list:
    return alerts_for(copy_run(ARITH, folder, lambda rs: rs.__setitem__(slice(None), rows)))


def test_a_nan_merged_into_an_earlier_row_fires(tmp_path):
    """The review's case: ``{"step":1,"test/score":NaN}`` after ``{"step":1,"loss":..}``, read apart."""
    rows = [{"step": 0, "loss": 1.0}, {"step": 1, "loss": 0.9}, {"step": 1, "test/score": math.nan}]
    _, _, alerts = _live(rows, tmp_path / "live")
    (alert,) = by_rule(alerts, "non_finite")
    assert (alert.metric, alert.first_step, alert.severity) == ("test/score", 1, "critical")


def test_real_eval_lines_on_train_steps_read_line_by_line_equal_one_full_read(tmp_path):
    rows = rows_of(HAIDER)  # 10 eval lines share their step with the train line before them
    (at,) = [i for i, r in enumerate(rows) if r["step"] == 30 and "eval/pass_at_1" in r]
    rows[at]["eval/pass_at_1"] = math.nan
    _, _, live = _live(rows, tmp_path / "live")
    assert [(a.metric, a.first_step) for a in by_rule(live, "non_finite")] == [("eval/pass_at_1", 30)]
    assert _summary(live) == _summary(_full(rows, tmp_path / "full"))


def test_a_resume_that_logs_steps_again_is_judged_on_the_new_values(tmp_path):
    rows = rows_of(ARITH)[:60]
    again = [dict(r) for r in rows[40:60]]  # resumed from the step-40 checkpoint: steps 40..59 logged again
    again[5]["optim/entropy"] = math.nan
    for r in again:
        r["env/all/reward/total"] = -0.1  # and the reward at the floor: later lines win
    run, _, live = _live(rows + again, tmp_path / "live", batch=7)
    assert [(a.metric, a.first_step) for a in by_rule(live, "non_finite")] == [("optim/entropy", 45)]
    assert by_rule(live, "reward_pinned")
    assert _summary(live) == _summary(_full(rows + again, tmp_path / "full"))


@pytest.mark.parametrize("how", ["rewritten", "replaced"])
def test_a_file_rewritten_longer_starts_over(tmp_path, how):
    rows = rows_of(ARITH)
    run, engine, first = _live(rows[:30], tmp_path / "live", batch=30)
    assert by_rule(first, "non_finite") == []
    edited = [dict(r) for r in rows[:40]]
    edited[3]["optim/entropy"] = math.nan
    metrics = run.path / "metrics.jsonl"
    if how == "rewritten":
        write_rows(metrics, edited)  # in place: same file, its bytes before the old end changed
    else:
        write_rows(metrics.with_suffix(".tmp"), edited)
        os.replace(metrics.with_suffix(".tmp"), metrics)
    run.refresh()
    assert any(how in note for note in run.resets)
    live = engine.evaluate(run)
    assert [(a.metric, a.first_step) for a in by_rule(live, "non_finite")] == [("optim/entropy", 3)]
    assert _summary(live) == _summary(_full(edited, tmp_path / "full"))


# ---- the reward key: the reader's choice when none of the fixed names is logged ------------------------


def _renamed(key: str, reward: Any, edit: Any = None) -> Any:
    """A copy of the real custom-loop run with its ``mean_reward`` logged as ``key``, valued ``reward(step)``."""

    def apply(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            if "mean_reward" in r:
                del r["mean_reward"]
                r[key] = reward(r["step"])
        if edit:
            edit(rows)

    return apply


@pytest.mark.parametrize("key", ["mean_reward", "reward/mean", "train/reward"])
def test_reward_pinned_on_the_readers_reward_key(tmp_path, key):
    edit = _renamed(key, lambda step: 0.0 if step >= 20 else 0.4 + 0.01 * step)
    (alert,) = by_rule(alerts_for(copy_run(HAIDER, tmp_path / "run", edit)), "reward_pinned")
    assert (alert.metric, alert.first_step, alert.active) == (key, 20, True)
    assert "floor" in alert.message


@pytest.mark.parametrize("key", ["mean_reward", "reward/mean", "train/reward"])
def test_length_shift_and_train_eval_on_the_readers_reward_key(tmp_path, key):
    def lengths_and_evals(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            if "eval/pass_at_1" in r:
                r["eval/pass_at_1"] = {80: 0.5, 90: 0.4, 100: 0.3}.get(r["step"], 0.5)
            else:
                r["ac_tokens_per_turn"] = 100.0 if r["step"] < 50 else 300.0

    edit = _renamed(key, lambda step: 0.2 + 0.006 * step, lengths_and_evals)
    alerts = alerts_for(copy_run(HAIDER, tmp_path / "run", edit))
    assert [(a.metric, a.first_step) for a in by_rule(alerts, "length_shift")] == [("ac_tokens_per_turn", 52)]
    assert [a.metric for a in by_rule(alerts, "train_eval")] == ["eval/pass_at_1"]


def test_no_reward_key_from_a_loss_or_a_held_out_score(tmp_path):
    rows = [{"step": s, "loss": 1.0, "test/reward": 0.0, "ac_tokens_per_turn": 100.0} for s in range(40)]
    _, _, alerts = _live(rows, tmp_path / "run", batch=40)
    assert {a.rule for a in alerts if a.level >= 2} == set()
