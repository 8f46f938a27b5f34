"""The full read judges each run right after reading it, while its table is still in memory.

Real run folders, the real follower and store. Past the table budget (one byte: every other table is
evicted as the next run is read) judging after the whole scan read every table back; judging inside the
scan reads none back (one run at a time there; a few at a time when the budget holds many), and the
alerts and summaries are those of a read that never evicts.
Seam, named as such: the process's table residency (``residency._default``) swapped for the test's own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.runs import residency
from runner.runs.residency import Residency
from tui.follow import Follower


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TINKERTOP_METRICS_CACHE", raising=False)
    monkeypatch.setenv("TINKERTOP_COLD_READER", "0")
    monkeypatch.setattr(residency, "MIN_EVICT_BYTES", 0)  # the small test tables are evicted too


def _runs(root: Path, n: int = 18, steps: int = 40) -> None:
    """RL-like runs: an entropy that collapses, a NaN loss at step 7 (alerts on every run)."""
    for r in range(n):
        folder = root / f"run_{r}"
        folder.mkdir(parents=True)
        lines = []
        for i in range(steps):
            row = {"step": i, "env/all/reward/total": 0.5 + r / 10, "optim/entropy": max(0.0, 1.0 - i / 20),
                   "loss": float("nan") if i == 7 else 1.0 / (i + 1), "time/total": 2.0}  # fmt: skip
            lines.append(json.dumps(row) + "\n")
        (folder / "metrics.jsonl").write_text("".join(lines))


def _full(root: Path, tables: Residency, monkeypatch: pytest.MonkeyPatch) -> tuple[list, dict]:
    monkeypatch.setattr(residency, "_default", tables)  # SEAM: the process's residency
    follower = Follower([root])
    summaries = follower.full()
    rows = [{k: repr(v) for k, v in vars(s).items() if k not in ("last_change", "age_s")} for s in summaries]
    return rows, {p: repr(found) for p, found in (follower.alerts or {}).items()}


def test_the_full_read_past_the_budget_reads_no_table_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _runs(tmp_path / "runs")
    want_rows, want_alerts = _full(tmp_path / "runs", Residency(budget=0), monkeypatch)  # judged 16, then 2
    assert len(want_alerts) == 18 and all("non_finite" in a for a in want_alerts.values())
    tight = Residency(budget=1)
    rows, alerts = _full(tmp_path / "runs", tight, monkeypatch)
    assert tight.evictions >= 17  # the budget did bite: the tables left as the next runs were read
    assert tight.reloads == 0
    assert alerts == want_alerts
    assert rows == want_rows
