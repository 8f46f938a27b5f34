"""The step time that sets the stale window is the pace of the recent steps, not of the whole run."""

from __future__ import annotations

from runner.runs.status import RECENT_STEPS, median_step_seconds, stale_after


def test_step_time_is_the_median_of_the_recent_steps() -> None:
    # 900 slow steps, then the run speeds up: the recent pace decides
    totals = [60.0] * 900 + [2.0] * RECENT_STEPS
    assert median_step_seconds(totals, []) == 2.0
    assert stale_after(median_step_seconds(totals, [])) == 300.0


def test_seen_times_use_the_recent_gaps_too() -> None:
    seen = [float(60 * i) for i in range(500)]
    seen += [seen[-1] + 10.0 * (i + 1) for i in range(RECENT_STEPS)]
    assert median_step_seconds([], seen) == 10.0
    assert median_step_seconds([float("nan"), 0.0], [0.0, 5.0, 5.0, 12.0]) == 6.0
    assert median_step_seconds([], [1.0]) is None
