"""Following real files: appends, half-written lines, truncation, replacement, corrupt lines,
new runs appearing, and the series/smoothing/status helpers the follower feeds."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pytest

from runner.runs import status
from runner.runs.folder import RunFolder, read_console_tail
from runner.runs.jsonl import JsonlTail
from runner.runs.series import MetricTable
from runner.runs.smoothing import ema, rolling_mean
from runner.runs.store import RunStore
from tests.shared_data import SHARED

RL_ARITH = SHARED / "formats" / "rl_arith" / "metrics.jsonl"


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))


def real_lines() -> list[str]:
    if not RL_ARITH.exists():
        pytest.skip("../shared/formats absent")
    return RL_ARITH.read_text().splitlines()


def append(path: Path, text: str) -> None:
    with path.open("a") as fh:
        fh.write(text)


def test_append_reads_only_new_lines(tmp_path):
    lines = real_lines()
    path = tmp_path / "metrics.jsonl"
    path.write_text(lines[0] + "\n" + lines[1] + "\n")
    tail = JsonlTail(path)
    first = tail.read_new()
    assert [n for n, _ in first.records] == [1, 2]
    assert tail.read_new().records == []
    append(path, lines[2] + "\n")
    again = tail.read_new()
    assert [(n, r["step"]) for n, r in again.records] == [(3, 2)]
    assert tail.offset == path.stat().st_size


def test_half_written_line_waits_for_completion(tmp_path):
    lines = real_lines()
    path = tmp_path / "metrics.jsonl"
    path.write_text(lines[0] + "\n")
    tail = JsonlTail(path)
    assert len(tail.read_new().records) == 1
    cut = len(lines[1]) // 2
    append(path, lines[1][:cut])
    held = tail.read_new()
    assert held.records == [] and held.bad == []
    append(path, lines[1][cut:] + "\n")
    done = tail.read_new()
    assert [(n, r["step"]) for n, r in done.records] == [(2, 1)]
    assert tail.n_bad == 0


def test_whole_last_object_without_newline_is_read_once(tmp_path):
    lines = real_lines()
    path = tmp_path / "metrics.jsonl"
    path.write_text(lines[0] + "\n" + lines[1])  # writer never added the final newline
    tail = JsonlTail(path)
    assert [n for n, _ in tail.read_new().records] == [1, 2]
    append(path, "\n" + lines[2] + "\n")
    assert [(n, r["step"]) for n, r in tail.read_new().records] == [(3, 2)]


def test_truncation_starts_over_and_says_so(tmp_path):
    lines = real_lines()
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(lines[:4]) + "\n")
    tail = JsonlTail(path)
    assert len(tail.read_new().records) == 4
    with path.open("r+") as fh:
        fh.truncate(0)
    fh_text = lines[0] + "\n"
    path.write_text(fh_text)
    batch = tail.read_new()
    assert batch.reset == "truncated"
    assert [(n, r["step"]) for n, r in batch.records] == [(1, 0)]


def test_replacement_by_a_new_file_starts_over(tmp_path):
    lines = real_lines()
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(lines[:2]) + "\n")
    tail = JsonlTail(path)
    assert len(tail.read_new().records) == 2
    new = tmp_path / "metrics.jsonl.tmp"
    new.write_text("\n".join(lines[:5]) + "\n")  # larger than before: size alone cannot tell
    os.replace(new, path)
    batch = tail.read_new()
    assert batch.reset == "replaced"
    assert [r["step"] for _, r in batch.records] == [0, 1, 2, 3, 4]


def test_folder_resets_its_table_on_replacement(tmp_path):
    lines = real_lines()
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(lines[:4]) + "\n")
    run = RunFolder(tmp_path)
    run.refresh()
    assert len(run.table) == 4
    new = tmp_path / "new.tmp"
    new.write_text(lines[0] + "\n")
    os.replace(new, path)
    assert run.refresh() is True
    assert list(run.table.steps) == [0] and run.table.n_lines == 1
    assert "replaced" in run.summary().note


def test_corrupt_line_in_the_middle_is_counted_and_reading_goes_on(tmp_path):
    lines = real_lines()
    path = tmp_path / "metrics.jsonl"
    path.write_text(lines[0] + "\n" + '{"step": 1, "loss": 0.5,, oops\n' + "[1, 2]\n" + lines[1] + "\n")
    run = RunFolder(tmp_path)
    run.refresh()
    assert run.table.n_lines == 2 and run.table.bad_lines == 2
    assert [(b.file, b.line) for b in run.table.bad] == [("metrics.jsonl", 2), ("metrics.jsonl", 3)]
    assert "not a JSON object" in run.table.bad[1].message
    assert list(run.table.steps) == [0, 1]
    assert "2 bad lines" in run.summary().note
    append(path, lines[2] + "\n")
    run.refresh()
    assert list(run.table.steps) == [0, 1, 2] and run.table.bad_lines == 2


def test_bare_nan_lines_take_the_fallback_and_stay_nan(tmp_path):
    path = tmp_path / "metrics.jsonl"
    rows = [{"step": 0, "loss": float("nan"), "kl": float("inf")}, {"step": 1, "loss": 1.5, "kl": -math.inf}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert "NaN" in path.read_text()
    run = RunFolder(tmp_path)
    run.refresh()
    steps, vals = run.table.column("loss")
    assert steps == [0, 1] and math.isnan(vals[0]) and vals[1] == 1.5
    assert run.table.column("kl")[1] == [math.inf, -math.inf]


def test_bad_config_is_reported_with_its_name(tmp_path):
    (tmp_path / "config.json").write_text('{"learning_rate": 1e-4,')
    (tmp_path / "metrics.jsonl").write_text('{"step": 0, "train_mean_nll": 2.0}\n')
    run = RunFolder(tmp_path)
    run.refresh()
    detail = run.detail()
    assert detail.config is None and detail.config_error.startswith("config.json: not valid JSON")
    assert detail.summary.kind == "sl" and "config.json" in detail.summary.note


def test_store_picks_up_a_root_that_appears_later_and_new_runs(tmp_path):
    root = tmp_path / "later" / "logs"
    store = RunStore([root])
    assert store.scan() == []
    run_dir = root / "run_a"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text(real_lines()[0] + "\n")
    touched = store.refresh({run_dir})
    assert [s.name for s in touched] == ["run_a"] and touched[0].step == 0
    append(run_dir / "metrics.jsonl", real_lines()[1] + "\n")
    assert store.refresh({run_dir})[0].step == 1
    other = root / "run_b"
    other.mkdir()
    (other / "logs.log").write_text("root:687 [INFO] Command line invocation: x\n")
    names = sorted(s.name for s in store.scan())
    assert names == ["run_a", "run_b"]


def test_store_reports_a_deleted_run_once(tmp_path):
    run_dir = tmp_path / "gone"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text(real_lines()[0] + "\n")
    store = RunStore([tmp_path])
    assert len(store.scan()) == 1
    for p in run_dir.iterdir():
        p.unlink()
    run_dir.rmdir()
    out = store.refresh({run_dir})
    assert [(s.removed, s.status) for s in out] == [(True, "unknown")]  # its last status, marked gone
    assert store.get(run_dir) is None and store.scan() == []


def test_series_merge_nulls_strings_and_out_of_order_steps():
    t = MetricTable()
    t.ingest([{"step": 5, "a": 1.0}, {"step": 3, "a": 2.0, "s": "x"}, {"step": 5, "a": None}], 10.0)
    assert t.column("a") == ([3], [2.0])  # step 5's later null wins over its number
    assert t.latest()["a"] is None and t.latest()["s"] == "x"
    t.ingest([{"step": 4, "a": 7}], 20.0)
    assert t.column("a") == ([3, 4], [2.0, 7.0])
    assert t.column_times("a") == ([10.0, 20.0], [2.0, 7.0])
    assert t.n_lines == 4 and len(t) == 3


@pytest.mark.parametrize("seed", range(40))
def test_step_merging_matches_a_plain_model_under_any_batching(seed):
    """Random step sequences (runs of consecutive steps, repeats, gaps, going back, lines without a
    step) cut into random batches: the table equals a dict merged line by line, later lines winning."""
    import random

    rng = random.Random(seed)
    recs, step = [], rng.choice([0, 0, 1, 7])
    for i in range(rng.randint(1, 120)):
        roll = rng.random()
        if roll < 0.6:
            step += 1
        elif roll < 0.7:
            step += rng.randint(2, 5)  # a gap
        elif roll < 0.8:
            step -= rng.randint(0, 4)  # logged again (eval row, resume)
        rec = {"a": float(i), rng.choice(["b", "c"]): i}
        if rng.random() < 0.05:
            recs.append(rec)  # no step: takes the next free one
            continue
        recs.append({"step": step, **rec})
    table = MetricTable()
    i = 0
    while i < len(recs):
        n = rng.randint(1, 30)
        table.ingest(recs[i : i + n], 1.0)
        i += n
    model: dict[int, dict] = {}
    top = -1
    for rec in recs:
        s = rec.get("step", top + 1)
        model.setdefault(s, {}).update({k: v for k, v in rec.items() if k != "step"})
        top = max(top, s)
    for key in ("a", "b", "c"):
        want = sorted((s, float(v[key])) for s, v in model.items() if key in v)
        got = table.column(key)
        assert list(zip(*got, strict=True)) == want, (seed, key)
    assert sorted(table.steps) == sorted(model) and table.n_lines == len(recs)


def test_smoothing_debiased_and_nan_tolerant():
    assert ema([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])  # debiased: no pull to 0
    out = ema([1.0, float("nan"), 3.0], 0.5)
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == pytest.approx((0.25 + 1.5) / 0.75)
    assert rolling_mean([1.0, 3.0, float("nan"), 5.0], 2)[:2] == [1.0, 2.0]
    r = rolling_mean([1.0, 3.0, float("nan"), 5.0], 2)
    assert math.isnan(r[2]) and r[3] == 5.0
    with pytest.raises(ValueError):
        ema([1.0], 1.0)


def test_status_rules():
    now = time.time()
    assert status.infer_status([{"name": "final"}], [], now - 10_000, now=now) == "finished"
    tail = ["root:687 [INFO] Command line invocation: a", "x:1 [INFO] Training completed successfully"]
    assert status.infer_status([], tail, now, now=now) == "finished"
    resumed = tail + ["root:687 [INFO] Command line invocation: b", "step 4"]
    assert status.infer_status([], resumed, now - 1, now=now) == "running"
    crashed = ["Traceback (most recent call last):", '  File "x.py"', "ValueError: boom"]
    assert status.infer_status([], crashed, now, now=now) == "failed"
    assert status.infer_status([], [], now - 301, now=now) == "stale"
    assert status.infer_status([], [], now - 301, step_seconds=100, now=now) == "running"
    assert status.infer_status([], [], None, now=now) == "unknown"


def test_console_tail_reads_from_the_end_without_ansi(tmp_path):
    path = tmp_path / "logs.log"
    path.write_text("".join(f"\x1b[92mINFO\x1b[0m line {i}\n" for i in range(50_000)))
    tail = read_console_tail(path, 3)
    assert tail == ["INFO line 49997", "INFO line 49998", "INFO line 49999"]


@pytest.mark.parametrize(
    "rel",
    [
        "realdata/joanvelja_tinker-cookbook/reports/data/gptoss-20b-v3b-metrics.jsonl",
        "realdata/bzz_tinker-cookbook_context_distillation/data/context_distillation/logs/exp4_reward_only/metrics.jsonl",
        "formats/ml_log_direct/metrics.jsonl",
        "formats/dpo_local/metrics.jsonl",
        "formats/rl_arith_async/metrics.jsonl",
    ],
)
def test_bulk_ingest_equals_line_by_line(rel):
    """The columnar bulk path and the per-line merge path must build the same table."""
    path = SHARED / rel
    if not path.exists():
        pytest.skip(f"{path} absent")
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    bulk, single = MetricTable(), MetricTable()
    bulk.ingest(recs, 1.0)
    for rec in recs:
        single.ingest([rec], 1.0)
    assert bulk.keys() == single.keys() and list(bulk.steps) == list(single.steps)
    for key in bulk.keys():
        b_steps, b_vals = bulk.column(key)
        s_steps, s_vals = single.column(key)
        assert b_steps == s_steps
        assert [repr(v) for v in b_vals] == [repr(v) for v in s_vals]  # repr: NaN == NaN
        assert bulk.non_numeric(key) == single.non_numeric(key)
    assert repr(bulk.latest()) == repr(single.latest())
    # and the plain reading of the file agrees on the last value of every key
    last: dict = {}
    for rec in sorted(recs, key=lambda r: r.get("step", 10**9)):
        last.update({k: v for k, v in rec.items() if k != "step"})
    assert repr(bulk.latest()) == repr({k: last[k] for k in bulk.latest()})


def test_supervisor_record_wins_over_the_files(tmp_path):
    """A real state file written by runner.control.state_dir (the supervisor's record) decides status, when
    the caller passes the reader that status source."""
    from runner.api import status_source
    from runner.control import state_dir as control_store

    lines = real_lines()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text(lines[0] + "\n")
    run_id = control_store.run_id_for(run_dir)
    control_store.write_state(
        run_id,
        {"run_id": run_id, "status": "failed", "exit_code": 3, "error": "boom", "log_path": str(run_dir)},
    )
    control_store.console_path(run_id).write_text("Traceback (most recent call last):\nValueError: boom\n")
    run = RunFolder(run_dir, status_source=status_source())
    run.refresh()
    s = run.summary()
    assert (s.status, s.status_source) == ("failed", "supervisor")
    assert "exit 3" in s.note and "boom" in s.note
    assert run.detail().console_tail[-1] == "ValueError: boom"  # no logs.log: the supervisor's capture
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "metrics.jsonl").write_text(lines[0] + "\n")
    alone = RunFolder(lone, status_source=status_source())
    alone.refresh()
    assert alone.summary().status_source == "files"
    unasked = RunFolder(run_dir)  # no status source given: the files alone decide
    unasked.refresh()
    assert unasked.summary().status_source == "files"
