"""The compare table (``runner.compare.compare_table``) and grouping on real runs: last/min/max/best step
and smoothed-last checked against values the test computes from the files themselves; CSV and
records; headline metrics per kind; alerts counted from the alert engine; groups by a config key
with the mean and min-max band aligned on the union of steps."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runner.compare import (
    DEFAULT_EMA,
    compare_table,
    direction,
    group_key_values,
    group_series,
    group_summary,
    headline_metrics,
    table_to_csv,
    table_to_records,
)
from tests.shared_data import IF_RLVR, SHARED

pytestmark = pytest.mark.usefixtures("private_cwd")

FORMATS = SHARED / "formats"
needs_data = pytest.mark.skipif(not (IF_RLVR.is_dir() and FORMATS.is_dir()), reason="../shared absent")
REWARD, KL, ENTROPY = "env/all/reward/total", "optim/kl_sample_train_v1", "optim/entropy"


def file_series(metrics: Path, key: str) -> tuple[list[int], list[float]]:
    """The test's own read: lines merged by step (later wins), numbers only, by step."""
    rows: dict[int, dict[str, Any]] = {}
    for line in metrics.read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            rows.setdefault(rec["step"], {}).update(rec)
    steps = sorted(s for s, r in rows.items() if isinstance(r.get(key), int | float))
    return steps, [float(rows[s][key]) for s in steps]


def own_ema(values: list[float], beta: float) -> float:
    acc, t, out = 0.0, 0, math.nan
    for x in values:
        if math.isfinite(x):
            t += 1
            acc = beta * acc + (1 - beta) * x
            out = acc / (1 - beta**t)
    return out


def if_rlvr_runs() -> list[Path]:
    return sorted(p for p in IF_RLVR.iterdir() if p.is_dir())


@needs_data
def test_table_on_real_runs_matches_the_files() -> None:
    runs = if_rlvr_runs()
    table = compare_table(runs)
    assert table.metrics == (REWARD, KL, ENTROPY, "env/all/ac_tokens_per_turn")
    assert [r.name for r in table.rows] == [p.name for p in runs]
    for run, row in zip(runs, table.rows, strict=True):
        assert row.kind == "rl" and row.path == str(run)
        if not (run / "metrics.jsonl").exists():
            assert row.step is None and row.metrics[REWARD].last is None and "no metrics.jsonl" in row.note
            continue
        for key, best in ((REWARD, max), (KL, min)):
            steps, values = file_series(run / "metrics.jsonl", key)
            st = row.metrics[key]
            assert st.last == values[-1] and st.min == min(values) and st.max == max(values)
            assert st.best_step == steps[values.index(best(values))]
            assert st.smoothed_last == pytest.approx(own_ema(values, DEFAULT_EMA), rel=1e-12)
        assert row.metrics[ENTROPY].best_step is None  # entropy has no better direction
        steps, _ = file_series(run / "metrics.jsonl", REWARD)
        assert row.step == steps[-1]
        _, totals = file_series(run / "metrics.jsonl", "time/total")
        assert row.duration_s == pytest.approx(sum(totals))
    finished = {r.name: r.status for r in table.rows}
    assert finished["logs_v2p7"] == "finished"  # a final checkpoint


@needs_data
def test_csv_and_records_carry_the_table() -> None:
    table = compare_table(if_rlvr_runs()[1:3], metrics=[REWARD, "no/such/key"])
    records = table_to_records(table)
    rows = list(csv.DictReader(io.StringIO(table_to_csv(table))))
    assert len(rows) == len(records) == 2
    for rec, row, trow in zip(records, rows, table.rows, strict=True):
        assert rec["name"] == row["name"] == trow.name
        assert float(row[f"{REWARD}:last"]) == rec[f"{REWARD}:last"] == trow.metrics[REWARD].last
        assert int(row[f"{REWARD}:best_step"]) == trow.metrics[REWARD].best_step
        assert row["no/such/key:last"] == "" and rec["no/such/key:last"] is None
    assert list(rows[0])[:7] == ["name", "path", "kind", "status", "step", "duration_s", "alerts"]


@needs_data
def test_headline_metrics_per_kind_on_formats() -> None:
    from runner.runs.store import RunStore

    store = RunStore([FORMATS])
    expect = {
        "rl_arith_kl": ["env/all/reward/total", "optim/kl_sample_train_v1", "optim/entropy",
                        "env/all/ac_tokens_per_turn"],
        "sl_conversations": ["train_mean_nll", "test/nll"],
        "dpo_local": ["dpo_loss", "test/nll"],
        "distill_onpolicy": ["teacher_kl", "optim/kl_sample_train_v1", "optim/entropy",
                             "env/all/ac_tokens_per_turn"],
    }  # fmt: skip
    for name, metrics in expect.items():
        run = store.get(FORMATS / name)
        assert run is not None
        assert headline_metrics(run.summary().kind, run.table.numeric_keys()) == metrics, name
    assert direction("env/all/reward/total") == 1 and direction("test/env/all/pass_rate") == 1
    assert direction("train_mean_nll") == -1 and direction("loss:sum") == -1 and direction(KL) == -1
    assert direction("optim/entropy") == 0 and direction("time/total") == 0


def test_alerts_are_counted_from_the_alert_engine(tmp_path: Path) -> None:
    run = tmp_path / "nan_run"
    run.mkdir()
    lines = [{"step": i, "train_mean_nll": 2.0 - 0.01 * i} for i in range(30)]
    lines[-1]["train_mean_nll"] = float("nan")
    (run / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    calm = tmp_path / "calm"
    calm.mkdir()
    (calm / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": i, "train_mean_nll": 1.0}) + "\n" for i in range(30))
    )

    table = compare_table([run, calm])

    bad, ok = table.rows
    assert bad.alerts >= 1 and "NaN" in bad.alert_flag
    nll = bad.metrics["train_mean_nll"]
    assert nll.last is not None and math.isnan(nll.last)  # the last value as logged
    assert nll.min == pytest.approx(1.72) and nll.best_step == 28 and nll.max == 2.0  # over finite values
    assert nll.smoothed_last == pytest.approx(own_ema([x["train_mean_nll"] for x in lines[:-1]], DEFAULT_EMA))
    assert ok.alerts == 0 and ok.alert_flag == ""


def test_a_missing_path_is_a_flagged_row_not_an_exception(tmp_path: Path) -> None:
    table = compare_table([tmp_path / "gone"])
    assert table.rows[0].status == "unknown" and "no such file or folder" in table.rows[0].note


@needs_data
def test_group_by_a_config_key_on_real_runs() -> None:
    runs = if_rlvr_runs()
    groups = group_key_values(runs, "group_size")  # the last part of dataset_builder.group_size
    configs = {p: json.loads((p / "config.json").read_text())["dataset_builder"]["group_size"] for p in runs}
    assert list(groups) == ["group_size=16", "group_size=32"]
    assert groups["group_size=16"] == [p for p in runs if configs[p] == 16]
    assert groups["group_size=32"] == [p for p in runs if configs[p] == 32]
    assert list(group_key_values(runs, "dataset_builder.group_size")) == [
        "dataset_builder.group_size=16",
        "dataset_builder.group_size=32",
    ]
    assert list(group_key_values(runs, "no_such_key")) == ["no_such_key=—"]

    series = {
        str(p): file_series(p / "metrics.jsonl", REWARD) for p in runs if (p / "metrics.jsonl").exists()
    }
    lines = group_series(series, groups)
    assert [line.label for line in lines] == list(groups)
    for line, members in zip(lines, groups.values(), strict=True):
        member_series = [series[str(p)] for p in members if str(p) in series]
        all_steps = sorted({s for steps, _ in member_series for s in steps})
        assert line.steps.tolist() == all_steps
        for i, step in enumerate(all_steps):
            at = [vals[steps.index(step)] for steps, vals in member_series if step in steps]
            assert line.mean[i] == pytest.approx(sum(at) / len(at))
            assert line.lo[i] == min(at) and line.hi[i] == max(at)
        summary = group_summary(line, series)
        lasts = [vals[-1] for _, vals in member_series]
        assert summary["last_mean"] == pytest.approx(sum(lasts) / len(lasts))
        assert (summary["last_min"], summary["last_max"]) == (min(lasts), max(lasts))


def test_group_series_aligns_on_the_union_of_steps_and_skips_missing_points() -> None:
    series = {
        "a": ([0, 1, 2], [1.0, 2.0, float("nan")]),
        "b": ([1, 2, 3], [4.0, 6.0, 8.0]),
        "c": ([5], [float("inf")]),
    }
    (line,) = group_series(series, {"g": ["a", "b", "c", "not-a-run"]})
    assert line.runs == ("a", "b", "c")
    assert line.steps.tolist() == [0, 1, 2, 3]  # step 5 holds no finite value
    assert line.mean.tolist() == [1.0, 3.0, 6.0, 8.0]
    assert line.lo.tolist() == [1.0, 2.0, 6.0, 8.0] and line.hi.tolist() == [1.0, 4.0, 6.0, 8.0]
    assert line.count is not None and line.count.tolist() == [1, 2, 1, 1]
    (empty,) = group_series(series, {"none": ["zzz"]})
    assert empty.steps.size == 0 and empty.mean.dtype == np.float64


def test_group_values_sort_numerically_and_equal_numbers_group_together(tmp_path: Path) -> None:
    paths = []
    for name, lr in (("a", 1e-3), ("b", 1e-4), ("c", 0.001), ("d", None)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "metrics.jsonl").write_text('{"step": 0, "loss": 1}\n')
        (folder / "config.json").write_text(json.dumps({"learning_rate": lr} if lr else {"model_name": "m"}))
        paths.append(folder)
    groups = group_key_values(paths, "learning_rate")
    assert groups == {"learning_rate=0.0001": [paths[1]], "learning_rate=0.001": [paths[0], paths[2]],
                      "learning_rate=—": [paths[3]]}  # fmt: skip


@needs_data
def test_compare_table_reuses_a_live_store(tmp_path: Path) -> None:
    from runner.runs.store import RunStore

    run = tmp_path / "live"
    shutil.copytree(IF_RLVR / "logs_v2", run, ignore=shutil.ignore_patterns("*.html", "wandb"))
    store = RunStore([run])
    store.scan()
    first = compare_table([run], [REWARD], store=store).rows[0].metrics[REWARD]
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": 29, REWARD: 0.99}) + "\n")
    assert compare_table([run], [REWARD], store=store).rows[0].metrics[REWARD] == first  # not refreshed here
    store.refresh()
    after = compare_table([run], [REWARD], store=store).rows[0].metrics[REWARD]
    assert after.last == 0.99 and after.max == 0.99 and after.best_step == 29


def test_out_of_order_and_resumed_steps_are_taken_by_step(tmp_path: Path) -> None:
    run = tmp_path / "resumed"
    run.mkdir()
    lines = [(0, 1.0), (1, 3.0), (2, 2.0), (5, 0.5), (3, 4.0), (4, 9.0), (4, 2.5)]  # step 4 logged again
    (run / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "reward": v}) + "\n" for s, v in lines))
    st = compare_table([run], ["reward"]).rows[0].metrics["reward"]
    by_step = [1.0, 3.0, 2.0, 4.0, 2.5, 0.5]  # steps 0..5, the later line of step 4 winning
    assert st.last == 0.5 and st.max == 4.0 and st.best_step == 3 and st.min == 0.5
    assert st.smoothed_last == pytest.approx(own_ema(by_step, DEFAULT_EMA), rel=1e-12)


def test_best_kl_is_the_one_nearest_zero_and_loss_the_lowest() -> None:
    from runner.compare import metric_stats

    kl = metric_stats([0, 1, 2, 3], [0.004, -0.003, 0.0005, 0.002], "optim/kl_sample_train_v1")
    assert kl.best_step == 2 and kl.min == -0.003
    loss = metric_stats([0, 1, 2], [2.0, 1.0, 1.0], "train_mean_nll")
    assert loss.best_step == 1  # the first step holding the lowest
    assert metric_stats([], [], "loss").last is None
    nan_only = metric_stats([0], [float("nan")], "loss")
    assert nan_only.min is None and nan_only.best_step is None and nan_only.last != nan_only.last
