"""A run judged in many small batches gets exactly the alerts of one big batch (real runs, real failures
injected), while each evaluation copies only the rows its batch added; and the app's board judges a run
off screen at most once per ``defer_s`` (all its new lines at once), the run on screen at once."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from runner.alerts import AlertEngine
from runner.alerts.board import AlertBoard
from runner.runs.folder import RunFolder
from runner.runs.series import MetricTable
from runner.runs.store import RunStore
from tests.shared_data import SHARED
from tests.unit.test_alerts_helpers import (
    ARITH,
    DISTILL_OFF,
    IFRL,
    JOAN,
    REALDATA,
    alerts_for,
    by_rule,
    copy_run,
    rows_of,
    write_rows,
)

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is absent")
RLVR = IFRL / "logs_v2p7"
KLREF = JOAN / "gptoss-20b-v2-metrics.jsonl"
HAIDER = REALDATA / "s-haider10_finetunned_coding_agent/results/2026_02_13-06_30_15"


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))


def _key(alerts: list[Any]) -> list[tuple]:
    def num(v: float | None) -> object:
        return repr(v) if isinstance(v, float) and math.isnan(v) else v

    return sorted(
        (a.rule, a.metric, a.first_step, a.last_step, a.severity, num(a.value), num(a.threshold), a.active,
         a.message)
        for a in alerts
    )  # fmt: skip


def _entropy_falls(rows: list[dict[str, Any]]) -> None:
    for i, r in enumerate(rows):
        if i >= 40 and "optim/entropy" in r:
            r["optim/entropy"] *= 0.05
        if i == 60:
            r["env/all/reward/total"] = math.nan


def _loss_spikes(rows: list[dict[str, Any]]) -> None:
    rows[400]["train_mean_nll"] *= 30
    for r in rows[500:]:
        r["time/total"] *= 5


def _kl_negative(rows: list[dict[str, Any]]) -> None:
    for r in rows[30:]:
        if "kl_policy_base" in r:
            r["kl_policy_base"] = -r["kl_policy_base"]


def _sampler_kl(rows: list[dict[str, Any]]) -> None:
    for r in rows[40:]:
        r["optim/kl_sample_train_v2"] = 0.03


CASES = [(RLVR, _entropy_falls), (DISTILL_OFF, _loss_spikes), (KLREF, _kl_negative), (ARITH, _sampler_kl),
         (HAIDER, None)]  # fmt: skip


@pytest.mark.parametrize(("src", "edit"), CASES, ids=lambda v: getattr(v, "name", getattr(v, "__name__", "")))
@pytest.mark.parametrize("batch", [1, 5, 64])
def test_small_batches_give_the_alerts_of_one_big_batch(
    tmp_path: Path, src: Path, edit: Any, batch: int
) -> None:
    full = alerts_for(copy_run(src, tmp_path / "full", edit))
    rows = rows_of(tmp_path / "full")
    if src is not HAIDER:
        assert [a for a in full if a.level >= 2], "the injected failure fires in one read"
    live = tmp_path / "live"
    copy_run(src, live)
    (live / "metrics.jsonl").write_text("")
    run, engine = RunFolder(live), AlertEngine()
    for i in range(0, len(rows), batch):
        write_rows(live / "metrics.jsonl", rows[i : i + batch], mode="a")
        run.refresh()
        alerts = engine.evaluate(run)
    assert _key(alerts) == _key(full)


def test_each_evaluation_copies_only_the_rows_its_batch_added(tmp_path: Path) -> None:
    rows = rows_of(ARITH)
    folder = copy_run(ARITH, tmp_path / "run", lambda rs: rs.__setitem__(slice(None), rs[:50]))
    run, engine = RunFolder(folder), AlertEngine()
    run.refresh()
    engine.evaluate(run)
    copies: list[tuple[list[str] | None, int, int]] = []
    real = MetricTable.columns_since

    def spy(self: MetricTable, keys: Any = None, start: int = 0) -> Any:  # a seam: which rows are copied
        cols = real(self, keys, start)
        copies.append((None if keys is None else list(keys), cols.start, len(cols.steps)))
        return cols

    MetricTable.columns_since = spy  # type: ignore[method-assign]
    try:
        write_rows(folder / "metrics.jsonl", rows[50:52], mode="a")
        run.refresh()
        engine.evaluate(run)
    finally:
        MetricTable.columns_since = real  # type: ignore[method-assign]
    every_key = [c for c in copies if c[0] is None]
    assert every_key == [(None, 50, 2)]  # all columns: the two new rows only
    n_keys = len(run.table.numeric_keys())
    keyed = [k for k, _, _ in copies if k is not None]
    read = [key for keys in keyed for key in keys]
    assert len(read) == len(set(read)) and len(read) < n_keys / 2  # the keys the rules read, once each
    assert len(keyed[0]) > 1 and all(len(k) == 1 for k in keyed[1:])  # in one copy (others on their own)


def test_out_of_step_order_rows_in_batches_give_the_alerts_of_one_batch(tmp_path: Path) -> None:
    rows = rows_of(RLVR)
    _entropy_falls(rows)
    rows[20], rows[21] = rows[21], rows[20]  # a late line: the table leaves step order
    full = alerts_for(copy_run(RLVR, tmp_path / "full", lambda rs: rs.__setitem__(slice(None), rows)))
    (tmp_path / "live").mkdir()
    run, engine = RunFolder(tmp_path / "live"), AlertEngine()
    for i in range(0, len(rows), 3):
        write_rows(tmp_path / "live" / "metrics.jsonl", rows[i : i + 3], mode="a")
        run.refresh()
        alerts = engine.evaluate(run)
    assert by_rule(alerts, "entropy_collapse") and _key(alerts) == _key(full)


class _Clock:
    """A fake monotonic clock (a seam: the board's ``defer_s`` is about time)."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_board_judges_a_run_off_screen_at_most_once_per_defer_s(tmp_path: Path) -> None:
    rows = rows_of(ARITH)
    for r in rows[40:]:
        r["optim/entropy"] = math.nan
    runs = [copy_run(ARITH, tmp_path / "logs" / name, lambda rs: rs.__setitem__(slice(None), rows[:40]))
            for name in ("off", "on")]  # fmt: skip
    store, clock = RunStore([tmp_path / "logs"]), _Clock()
    board = AlertBoard(tmp_path, clock=clock)
    first = store.scan()
    board.judge(store, first, defer_s=3.0)
    before = {Path(s.path).name: s.alert_flag for s in first}
    assert "NaN" not in before["off"] and not [
        a for found in board.alerts.values() for a in by_rule(found, "non_finite")
    ]
    for run in runs:
        write_rows(run / "metrics.jsonl", rows[40:41], mode="a")
    clock.t += 1.0
    summaries = store.refresh({r for r in runs})
    board.judge(store, summaries, defer_s=3.0, urgent=(str(runs[1]),))
    flags = {Path(s.path).name: s.alert_flag for s in summaries}
    assert flags == {"off": before["off"], "on": "NaN entropy"}  # on screen: at once; off: judged 1 s ago
    clock.t += 2.0
    summaries = store.summaries()
    board.judge(store, summaries, defer_s=3.0)
    assert {Path(s.path).name: s.alert_flag for s in summaries} == {"off": "NaN entropy", "on": "NaN entropy"}
    assert [a.first_step for a in by_rule(board.alerts[str(runs[0])], "non_finite")] == [40]


def test_last_values_and_numbers_match_the_column(tmp_path: Path) -> None:
    table = MetricTable()
    recs = [{"step": s, "a": float(s), **({"b": s * 2.0} if s % 3 == 0 else {})} for s in range(100)]
    table.ingest(recs, 1.0)
    for key in ("a", "b", "missing"):
        col = table.column(key)[1]
        assert table.last_values(key, 64) == col[-64:] and sorted(table.numbers(key)) == sorted(col)
    table.ingest([{"step": 50, "a": -1.0}, {"step": 3, "c": 1.0}, {"step": 200, "c": 2.0}], 2.0)
    table.ingest([{"step": 1, "z": 0.0}, {"step": 150, "z": 1.0}, {"step": 120, "z": 2.0}], 3.0)
    for key in ("a", "c", "z"):
        col = table.column(key)[1]
        assert table.last_values(key, 2) == col[-2:] and sorted(table.numbers(key)) == sorted(col)
