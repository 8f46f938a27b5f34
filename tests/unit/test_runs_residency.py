"""Metric tables past the memory budget leave for the metrics cache and come back unchanged.

Each test reads the same runs twice: with no budget (nothing ever evicted) and with a budget of one byte
(every table but the one in use is evicted), and compares what a reader sees: summaries, tables, alerts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runner.alerts.engine import AlertEngine
from runner.runs import cache, residency
from runner.runs.folder import RunFolder
from runner.runs.residency import Residency
from runner.runs.store import RunStore
from tests.unit.table_state import state


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TINKERTOP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TINKERTOP_METRICS_CACHE", raising=False)
    monkeypatch.setattr(residency, "MIN_EVICT_BYTES", 0)  # the small test tables are evicted too
    return tmp_path / "cache"


def rows(start: int, stop: int, shift: float = 0.0) -> str:
    """RL-like rows: a reward, an entropy that collapses, a NaN loss at step 7, strings, a bad line."""
    out = []
    for i in range(start, stop):
        row = {"step": i, "env/all/reward/total": 0.5 + shift, "optim/entropy": max(0.0, 1.0 - i / 20),
               "loss": float("nan") if i == 7 else 1.0 / (i + 1), "time/total": 2.0, "tag": f"t{i}"}  # fmt: skip
        out.append(json.dumps(row))
        if i == 5:
            out.append("{not json")
    return "\n".join(out) + "\n"


def make_runs(root: Path, n: int = 4, steps: int = 40) -> list[Path]:
    paths = []
    for r in range(n):
        folder = root / f"run_{r}"
        folder.mkdir(parents=True)
        (folder / "metrics.jsonl").write_text(rows(0, steps, shift=r / 10))
        paths.append(folder)
    return paths


def row_of(summary: object) -> dict[str, object]:
    return {k: repr(v) for k, v in vars(summary).items() if k != "last_change"}


def stores(root: Path) -> tuple[RunStore, RunStore, Residency]:
    """The same runs read twice: never evicted, and evicted past a budget of one byte."""
    tight = Residency(budget=1)
    return RunStore([root], tables=Residency(budget=0)), RunStore([root], tables=tight), tight


def test_evicted_runs_give_the_same_summaries_and_alerts(tmp_path: Path) -> None:
    make_runs(tmp_path / "runs")
    hot, cold, tight = stores(tmp_path / "runs")
    expected = [row_of(s) for s in hot.scan()]
    assert [row_of(s) for s in cold.scan()] == expected
    assert tight.evictions >= 3 and sum(r._table is None for r in cold.runs()) == 3
    engines = AlertEngine(), AlertEngine()
    want = [repr(engines[0].evaluate(r, now=0.0)) for r in hot.runs()]  # repr: NaN values compare
    assert "non_finite" in want[0] and "entropy_collapse" in want[0]
    assert [repr(engines[1].evaluate(r, now=0.0)) for r in cold.runs()] == want
    assert tight.reloads >= 3  # judging a run that changed reads its table back
    for r_hot, r_cold in zip(hot.runs(), cold.runs(), strict=True):
        assert state(r_cold.table) == state(r_hot.table)


def test_a_cold_run_is_summarised_and_judged_without_reading_its_table_back(tmp_path: Path) -> None:
    """Running runs (their step time feeds the stalled rule), judged again by the app's timer: the step
    time is kept per version, the tables stay out."""
    make_runs(tmp_path / "runs")
    tight = Residency(budget=1)
    cold = RunStore([tmp_path / "runs"], lambda path: {"status": "running"}, tables=tight)
    cold.scan()
    engine = AlertEngine()
    first = [repr(engine.evaluate(r, now=0.0)) for r in cold.runs()]
    reloads = tight.reloads
    assert [repr(engine.evaluate(r, now=0.0, summary=r.summary())) for r in cold.runs()] == first
    assert [r.versions()[0] for r in cold.runs()] and tight.reloads == reloads
    assert sum(r._table is None for r in cold.runs()) == 3


def test_lines_appended_while_evicted_are_read_after_the_table_comes_back(tmp_path: Path) -> None:
    folder = make_runs(tmp_path / "runs", n=1)[0]
    tight = Residency(budget=1)
    run = RunFolder(folder, tables=tight)
    run.refresh()
    version = run.metrics_version
    assert run.evict() and run._table is None
    with (folder / "metrics.jsonl").open("a") as f:
        f.write(rows(40, 50))
    assert run.refresh()
    assert run.metrics_version > version and tight.reloads == 1
    fresh = RunFolder(folder, tables=Residency(budget=0))
    fresh.refresh()
    assert state(run.table) == state(fresh.table) and len(run.table) == 50


def test_truncation_while_evicted_reads_the_file_again(tmp_path: Path) -> None:
    folder = make_runs(tmp_path / "runs", n=1)[0]
    tight = Residency(budget=1)
    run = RunFolder(folder, tables=tight)
    run.refresh()
    version, resets = run.metrics_version, run.table.resets
    assert run.evict()
    (folder / "metrics.jsonl").write_text(rows(0, 3))
    assert run.refresh()
    assert tight.reloads == 0  # an emptied table is not read back first
    assert run.metrics_version > version and run.table.resets == resets + 1
    assert len(run.table) == 3 and "truncated" in run.summary().note


@pytest.mark.parametrize("damage", ["vanished", "corrupt", "another position"])
def test_an_entry_lost_while_evicted_means_a_read_from_byte_0(tmp_path: Path, damage: str) -> None:
    folder = make_runs(tmp_path / "runs", n=1)[0]
    run = RunFolder(folder, tables=Residency(budget=1))
    run.refresh()
    expected, version = state(run.table), run.metrics_version
    assert run.evict()
    entry = cache.entry_path(folder / "metrics.jsonl")
    if damage == "vanished":
        entry.unlink()
    elif damage == "corrupt":
        data = bytearray(entry.read_bytes())
        data[-10:] = b"\xff" * 10
        entry.write_bytes(bytes(data))
    else:  # another reader of the file saved it further on
        with (folder / "metrics.jsonl").open("a") as f:
            f.write(rows(40, 45))
        other = RunFolder(folder, tables=Residency(budget=0))
        other.refresh()
        assert other._cache is not None and other._cache.evict_save(other.table)
        expected = state(other.table)
    assert state(run.table) == expected
    assert run.metrics_version > version


def test_version_and_resets_keep_rising_across_evictions(tmp_path: Path) -> None:
    folder = make_runs(tmp_path / "runs", n=1)[0]
    run = RunFolder(folder, tables=Residency(budget=1))
    run.refresh()
    seen = [run.metrics_version]
    for start in (40, 45, 50):
        assert run.evict()
        with (folder / "metrics.jsonl").open("a") as f:
            f.write(rows(start, start + 5))
        run.refresh()
        seen.append(run.metrics_version)
    assert seen == sorted(set(seen)) and run.table.resets == 0


def test_merges_seen_by_the_engine_across_an_eviction(tmp_path: Path) -> None:
    """A line merged into a judged row, then the table evicted before the engine looks: the engine still
    learns of the merge (a NaN loss logged late at step 2), as if it had never been evicted."""
    make_runs(tmp_path / "runs", n=2)
    hot, cold, _ = stores(tmp_path / "runs")
    hot.scan(), cold.scan()
    engines = AlertEngine(), AlertEngine()
    for engine, store in zip(engines, (hot, cold), strict=True):
        [engine.evaluate(r, now=0.0) for r in store.runs()]
    with (tmp_path / "runs" / "run_0" / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"step": 2, "loss": float("nan")}) + "\n")
    hot.refresh({tmp_path / "runs" / "run_0"}), cold.refresh({tmp_path / "runs" / "run_0"})
    cold_run = cold.runs()[0]
    assert cold_run.evict()
    got = engines[1].evaluate(cold_run, now=0.0)
    assert repr(got) == repr(engines[0].evaluate(hot.runs()[0], now=0.0))
    assert any(a.rule == "non_finite" and a.first_step == 2 for a in got)


def test_a_reader_holding_the_old_table_sees_it_unchanged(tmp_path: Path) -> None:
    folder = make_runs(tmp_path / "runs", n=1)[0]
    run = RunFolder(folder, tables=Residency(budget=1))
    run.refresh()
    held = run.table
    before = state(held)
    assert run.evict()
    with (folder / "metrics.jsonl").open("a") as f:
        f.write(rows(40, 50))
    run.refresh()
    assert state(held) == before and len(run.table) == 50 and run.table is not held


def test_the_pinned_run_and_the_run_in_use_stay_resident(tmp_path: Path) -> None:
    make_runs(tmp_path / "runs", n=3)
    tight = Residency(budget=1)
    store = RunStore([tmp_path / "runs"], tables=tight)
    store.scan()
    first, *_, last = store.runs()
    first.detail()  # the run view pins the run it shows
    for run in store.runs():
        with (run.path / "metrics.jsonl").open("a") as f:
            f.write(rows(40, 41))
    store.refresh({r.path for r in store.runs()})
    assert first._table is not None  # pinned
    assert sum(r._table is not None for r in store.runs()) == 2  # the pinned one and the last read


@pytest.mark.parametrize("setting", ["off", "unwritable"])
def test_no_cache_means_no_eviction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    folder = make_runs(tmp_path / "runs", n=1)[0]
    if setting == "off":
        monkeypatch.setenv("TINKERTOP_METRICS_CACHE", "0")
    else:
        (tmp_path / "not-a-folder").write_text("")
        monkeypatch.setenv("TINKERTOP_METRICS_CACHE", str(tmp_path / "not-a-folder" / "metrics"))
    run = RunFolder(folder, tables=Residency(budget=1))
    run.refresh()
    assert not run.evict() and run._table is not None and len(run.table) == 40


def test_the_budget_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_TABLE_BUDGET_MB", "12")
    assert Residency().budget == 12 * 2**20
    monkeypatch.setenv("TINKERTOP_TABLE_BUDGET_MB", "0")
    assert Residency().budget == 0
    monkeypatch.delenv("TINKERTOP_TABLE_BUDGET_MB")
    assert Residency().budget == residency.DEFAULT_BUDGET_MB * 2**20
    for nonsense in ("inf", "nan", "1e400", "-inf", "lots"):  # never a crash of every run's read
        monkeypatch.setenv("TINKERTOP_TABLE_BUDGET_MB", nonsense)
        assert Residency().budget == residency.DEFAULT_BUDGET_MB * 2**20
    monkeypatch.delenv("TINKERTOP_TABLE_BUDGET_MB")
    assert os.environ.get("TINKERTOP_TABLE_BUDGET_MB") is None


def test_a_run_dropped_without_being_forgotten_leaves_the_budget(tmp_path: Path) -> None:
    folders = make_runs(tmp_path / "runs", n=2)
    tables = Residency(budget=0)
    kept, dropped = RunFolder(folders[0], tables=tables), RunFolder(folders[1], tables=tables)
    kept.refresh(), dropped.refresh()
    one = residency.table_bytes(kept.table)
    assert tables.total == 2 * one
    del dropped
    kept.refresh()  # nothing new
    with (folders[0] / "metrics.jsonl").open("a") as f:
        f.write(rows(40, 41))
    kept.refresh()
    assert tables.total == residency.table_bytes(kept.table)


def test_a_flagged_row_counts_lines_of_an_evicted_run_and_of_bad_lines_only(tmp_path: Path) -> None:
    """The row shown when a summary cannot be built keeps the run's line counts: an evicted run's are not
    read back (nor lost), and a table of bad lines only (no rows) still counts them."""
    make_runs(tmp_path / "runs", n=2)
    bad_only = tmp_path / "runs" / "run_bad"
    bad_only.mkdir()
    (bad_only / "metrics.jsonl").write_text("{not json\n[1, 2\n")
    tight = Residency(budget=1)
    store = RunStore([tmp_path / "runs"], tables=tight)
    store.scan()
    evicted = next(r for r in store.runs() if r._table is None)
    reloads = tight.reloads
    row = evicted.failed_summary(RuntimeError("boom"))
    assert (row.n_lines, row.bad_lines) == (40, 1) and tight.reloads == reloads
    flagged = store.get(bad_only)
    assert flagged is not None
    assert len(flagged.table) == 0  # resident now (the one in use), with no rows
    assert flagged.failed_summary(RuntimeError("boom")).bad_lines == 2
