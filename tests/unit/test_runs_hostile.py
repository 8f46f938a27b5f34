"""Hostile run files: each is reported on its own run's row (file and reason) and never crashes,
hangs or hides the other runs (issue 8).

Cases that hung before (FIFOs) run in a daemon thread joined with a timeout, so a regression fails
the test instead of hanging the session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from runner import cli
from runner.runs.folder import CONSOLE_MAX_BYTES, RunFolder, read_console_tail
from runner.runs.jsonl import CONFIG_MAX_BYTES, MAX_DEPTH, JsonlTail
from runner.runs.quick import quick_scan
from runner.runs.store import RunStore

HANG_S = 60  # generous: only a hang (a blocking open of a FIFO) ever gets near it
DEEP = 10_000


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))


def within(fn, timeout: float = HANG_S) -> Any:
    """``fn()`` in a daemon thread; fail (not hang) when it does not return within ``timeout``."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the test thread below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{fn} still running after {timeout} s: it hangs"
    if "error" in box:
        raise box["error"]
    return box["value"]


def metric_line(step: int, **extra: Any) -> str:
    return json.dumps({"step": step, "env/all/reward/total": step / 10, "optim/lr": 1e-4, **extra})


def good_run(folder: Path, steps: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.jsonl").write_text("".join(metric_line(s) + "\n" for s in range(steps)))
    (folder / "config.json").write_text(json.dumps({"log_path": str(folder), "learning_rate": 1e-4}))
    return folder


def read_all(path: Path) -> RunFolder:
    run = RunFolder(path)
    within(run.refresh)
    within(run.summary)
    within(run.detail)
    return run


def deep_json(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


# ---- 1. deep nesting --------------------------------------------------------------------------
def test_metrics_line_nested_10000_deep_is_a_bad_line(tmp_path):
    run_dir = good_run(tmp_path / "r")
    with (run_dir / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 3, "x": ' + deep_json() + "}\n")
        fh.write(deep_json() + "\n")
        fh.write(metric_line(4) + "\n")
    run = read_all(run_dir)
    detail = run.detail()
    assert detail.summary.step == 4 and detail.summary.bad_lines == 2
    assert [(b.file, b.line) for b in detail.bad] == [("metrics.jsonl", 4), ("metrics.jsonl", 5)]
    assert all("nested" in b.message for b in detail.bad)


def test_value_nested_deeper_than_the_limit_but_within_orjson_is_a_bad_line(tmp_path):
    """orjson accepts 1,000 levels; such a value then broke ``repr`` and the JSON output."""
    run_dir = good_run(tmp_path / "r")
    with (run_dir / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 3, "x": ' + deep_json(1000) + "}\n")
    run = read_all(run_dir)
    assert run.summary().bad_lines == 1 and run.summary().step == 2
    assert f"deeper than {MAX_DEPTH}" in run.detail().bad[0].message


def test_config_and_checkpoints_nested_10000_deep(tmp_path, capsys):
    run_dir = good_run(tmp_path / "r")
    (run_dir / "config.json").write_text('{"log_path": "x", "a": ' + deep_json() + "}")
    (run_dir / "checkpoints.jsonl").write_text('{"name": "000001", "x": ' + deep_json() + "}\n")
    run = read_all(run_dir)
    summary = run.summary()
    assert run.config is None and "config.json" in summary.note and "nested" in summary.note
    assert run.checkpoint_bad[0].file == "checkpoints.jsonl" and summary.bad_lines == 1
    only_config = tmp_path / "only_config"  # discovery itself parses such a config.json
    only_config.mkdir()
    (only_config / "config.json").write_text(deep_json())
    assert cli.main(["ls", str(tmp_path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["name"] for r in rows} == {"r", "only_config"}
    assert cli.main(["show", str(run_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config_error"].startswith("config.json")


# ---- 2. huge numbers --------------------------------------------------------------------------
def test_huge_steps_are_bad_lines_and_huge_values_are_dropped_with_a_reason(tmp_path):
    run_dir = good_run(tmp_path / "r")
    big = "9" * 400
    with (run_dir / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 18446744073709551616, "a": 1}\n')  # 2**64 (orjson: a float)
        fh.write('{"step": 18446744073709551615, "a": 1}\n')  # 2**64-1 (orjson: an int)
        fh.write('{"step": 1e300, "a": 1}\n')
        fh.write('{"step": ' + big + ', "a": 1}\n')
        fh.write('{"step": 3, "env/all/reward/total": ' + big + ', "a": NaN}\n')
        fh.write('{"a": 2}\n')  # no step: the next free one
    run = read_all(run_dir)
    summary = run.summary()
    assert summary.step == 4 and summary.bad_lines == 5
    messages = [b.message for b in run.detail().bad]
    assert all("step" in m and "range" in m for m in messages[:4])
    assert "env/all/reward/total" in messages[4] and "dropped" in messages[4]
    steps, values = run.table.column("env/all/reward/total")
    assert steps == [0, 1, 2] and values == [0.0, 0.1, 0.2]
    assert summary.latest["a"] == 2
    (quick,) = quick_scan([run_dir])
    assert quick.step == 4 and quick.bad_lines == 5


def test_verl_log_with_huge_numbers(tmp_path):
    log = tmp_path / "verl_demo.log"
    log.write_text(
        "verl trainer\n"
        f"step:{'9' * 30} - actor/pg_loss:0.5\n"  # no step line: too long a number
        f"step:1 - actor/pg_loss:{'9' * 400} - critic/score/mean:0.25\n"
        "step:2 - actor/pg_loss:0.5\n"
    )
    run = RunFolder(log, foreign="verl")
    within(run.refresh)
    summary = run.summary()
    assert summary.step == 2 and summary.bad_lines == 1
    assert "actor/pg_loss" in run.detail().bad[0].message
    assert run.table.column("critic/score/mean") == ([1], [0.25])


def test_wandb_link_scan_skips_a_fifo(tmp_path):
    from runner.runs.links import last_url

    os.mkfifo(tmp_path / "logs.log")
    assert within(lambda: last_url(tmp_path / "logs.log")) is None


# ---- 3. not a file ----------------------------------------------------------------------------
@pytest.mark.parametrize("make", ["directory", "self_symlink"])
def test_metrics_jsonl_that_is_not_a_file(tmp_path, make):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "logs.log").write_text("starting\n")
    metrics = run_dir / "metrics.jsonl"
    if make == "directory":
        metrics.mkdir()
    else:
        metrics.symlink_to(metrics)
    good_run(tmp_path / "good")
    summaries = {s.name: s for s in within(RunStore([tmp_path]).scan)}
    assert summaries["good"].step == 2 and summaries["good"].note == ""
    note = summaries["r"].note
    assert "metrics.jsonl" in note and ("directory" in note or "symbolic links" in note), note
    quick = {s.name: s for s in within(lambda: quick_scan([tmp_path]))}
    assert quick["good"].step == 2 and "metrics.jsonl" in quick["r"].note


# ---- 4. FIFOs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["metrics.jsonl", "config.json", "checkpoints.jsonl", "logs.log"])
def test_fifo_is_skipped_and_said_never_waited_on(tmp_path, name):
    run_dir = good_run(tmp_path / "r")
    (run_dir / "logs.log").write_text("starting\n")
    (run_dir / name).unlink(missing_ok=True)
    os.mkfifo(run_dir / name)
    good_run(tmp_path / "good")
    run = read_all(run_dir)
    assert f"{name}: not a regular file (FIFO)" in run.summary().note
    summaries = {s.name: s for s in within(RunStore([tmp_path]).scan)}
    assert summaries["good"].step == 2 and name in summaries["r"].note
    quick = {s.name: s for s in within(lambda: quick_scan([tmp_path]))}
    assert quick["good"].step == 2 and f"{name}: not a regular file" in quick["r"].note


# ---- 5. unbounded files -----------------------------------------------------------------------
def test_config_symlink_to_dev_zero_is_not_read(tmp_path):
    run_dir = good_run(tmp_path / "r")
    (run_dir / "config.json").unlink()
    (run_dir / "config.json").symlink_to("/dev/zero")
    run = read_all(run_dir)
    assert run.config is None and "config.json: not a regular file" in run.summary().note
    assert "config.json" in within(lambda: quick_scan([run_dir]))[0].note


def test_config_over_the_cap_is_reported_not_read(tmp_path):
    run_dir = good_run(tmp_path / "r")
    with (run_dir / "config.json").open("r+b") as fh:
        fh.truncate(CONFIG_MAX_BYTES + 1)  # sparse: costs no disk
    run = read_all(run_dir)
    assert run.config is None
    assert "config.json: larger than" in run.summary().note


def test_overlong_line_is_one_bad_line_and_reading_goes_on(tmp_path):
    path = tmp_path / "checkpoints.jsonl"
    path.write_bytes(b'{"name": "' + b"x" * 5000 + b'"}\n{"name": "final"}\n')
    tail = JsonlTail(path, max_read=1024, max_line=2048)
    records, bad = [], []
    while True:
        batch = tail.read_new()
        records += batch.records
        bad += batch.bad
        if not batch.more:
            break
    assert [r["name"] for _, r in records] == ["final"] and records[0][0] == 2
    assert [(b.line, "longer than" in b.message) for b in bad] == [(1, True)]


# ---- 6. a 20 MB log with no newline -----------------------------------------------------------
def test_console_tail_of_a_log_without_newlines_is_bounded(tmp_path):
    path = tmp_path / "logs.log"
    path.write_bytes(b"x" * (20 * 1024 * 1024))
    tail = read_console_tail(path)
    assert tail and sum(len(line) for line in tail) <= CONSOLE_MAX_BYTES


# ---- 7. JSON output and line separators -------------------------------------------------------
def test_json_output_escapes_unicode_line_separators(tmp_path, capsys):
    run_dir = good_run(tmp_path / "run\u2028name")
    with (run_dir / "metrics.jsonl").open("a") as fh:
        fh.write(json.dumps({"step": 3, "note": "a\u2029b\u2028c"}, ensure_ascii=False) + "\n")
    assert cli.main(["ls", str(tmp_path), "--json"]) == 0
    out = capsys.readouterr().out
    assert "\u2028" not in out and "\u2029" not in out and "\\u2028" in out
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row["name"] == "run\u2028name" and row["latest"]["note"] == "a\u2029b\u2028c"
    assert cli.main(["show", str(run_dir), "--json"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1 and "\u2029" not in out
    assert json.loads(out)["non_numeric"]["note"]["last"] == "a\u2029b\u2028c"


# ---- 8. rewritten in place --------------------------------------------------------------------
@pytest.mark.parametrize("longer", [False, True])
def test_rewrite_in_place_with_lines_as_long_is_detected(tmp_path, longer):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "loss": 0.5}) + "\n" for s in range(4)))
    tail = JsonlTail(path)
    assert len(tail.read_new().records) == 4
    pad = "  " if longer else ""
    with path.open("r+") as fh:  # same inode, same or larger size, newline where it was
        fh.truncate(0)
        fh.write("".join(json.dumps({"step": s, "loss": 0.7}) + pad + "\n" for s in range(4)))
    batch = tail.read_new()
    assert batch.reset is not None
    assert [r["loss"] for _, r in batch.records] == [0.7] * 4
    assert tail.read_new().reset is None  # and it settles


def test_folder_reports_a_rewrite_in_place(tmp_path):
    run_dir = good_run(tmp_path / "r")
    run = RunFolder(run_dir)
    run.refresh()
    text = (run_dir / "metrics.jsonl").read_text().replace('"optim/lr": 0.0001', '"optim/lr": 0.0002')
    with (run_dir / "metrics.jsonl").open("r+") as fh:
        fh.write(text)
    assert run.refresh() is True
    assert run.summary().latest["optim/lr"] == 0.0002 and run.table.n_lines == 3
    assert "read again from the start" in run.summary().note


# ---- isolation --------------------------------------------------------------------------------
def test_an_unexpected_error_in_one_run_is_a_flagged_row(tmp_path, monkeypatch):
    """Seam (a mock, named as such): no real file reaches an unforeseen bug, so one is injected."""
    good_run(tmp_path / "good")
    good_run(tmp_path / "broken")
    real = RunFolder._read_metrics

    def fail_for_broken(self: RunFolder) -> bool:
        if self.name == "broken":
            raise RuntimeError("injected")
        return real(self)

    monkeypatch.setattr(RunFolder, "_read_metrics", fail_for_broken)
    store = RunStore([tmp_path])
    rows = {s.name: s for s in store.scan()}
    assert rows["good"].step == 2
    assert "metrics.jsonl" in rows["broken"].note and "RuntimeError: injected" in rows["broken"].note
    rows = {s.name: s for s in store.refresh({tmp_path / "broken", tmp_path / "good"})}
    assert rows["good"].step == 2 and "injected" in rows["broken"].note


def hostile_tree(root: Path) -> list[str]:
    """Every case above in one tree, plus good runs; returns the good runs' names."""
    good = [good_run(root / f"good{i}").name for i in range(3)]
    for name in ("metrics.jsonl", "config.json", "checkpoints.jsonl", "logs.log"):
        run_dir = good_run(root / f"fifo_{name}")
        (run_dir / name).unlink(missing_ok=True)
        os.mkfifo(run_dir / name)
    deep = good_run(root / "deep")
    (deep / "config.json").write_text(deep_json())
    (deep / "checkpoints.jsonl").write_text(deep_json() + "\n")
    with (deep / "metrics.jsonl").open("a") as fh:
        fh.write(deep_json() + "\n" + '{"step": 18446744073709551616}\n{"step": 9, "x": ' + "9" * 400 + "}\n")
    (root / "dir_metrics" / "metrics.jsonl").mkdir(parents=True)
    loop = root / "loop" / "metrics.jsonl"
    loop.parent.mkdir()
    loop.symlink_to(loop)
    zero = good_run(root / "zero")
    (zero / "config.json").unlink()
    (zero / "config.json").symlink_to("/dev/zero")
    long_log = good_run(root / "long_log")
    (long_log / "logs.log").write_bytes(b"y" * (20 * 1024 * 1024))
    return good


def test_tinkertop_ls_on_a_hostile_tree_exits_0_with_every_run(tmp_path):
    exe = Path(sys.executable).parent / "tinkertop"
    if not exe.exists():
        pytest.skip("console script not installed beside this interpreter")
    good = hostile_tree(tmp_path / "runs")
    env = dict(os.environ, TINKERTOP_HOME=str(tmp_path / "home"))
    for extra in ([], ["--json"]):
        proc = subprocess.run(
            [str(exe), "ls", str(tmp_path / "runs"), *extra],
            capture_output=True, text=True, timeout=HANG_S, check=False, env=env,
        )  # fmt: skip
        assert proc.returncode == 0 and not proc.stderr, proc.stderr
    rows = {r["name"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(rows) == set(good) | {
        "fifo_metrics.jsonl", "fifo_config.json", "fifo_checkpoints.jsonl", "fifo_logs.log",
        "deep", "dir_metrics", "loop", "zero", "long_log",
    }  # fmt: skip
    assert all(rows[name]["step"] == 2 and rows[name]["note"] == "" for name in good)
    assert rows["deep"]["step"] == 9 and rows["deep"]["bad_lines"] == 4
    for name in ("fifo_metrics.jsonl", "fifo_config.json", "fifo_checkpoints.jsonl", "fifo_logs.log"):
        assert "not a regular file (FIFO)" in rows[name]["note"], rows[name]
    assert "config.json" in rows["zero"]["note"] and "metrics.jsonl" in rows["loop"]["note"]
    assert "metrics.jsonl" in rows["dir_metrics"]["note"]
    proc = subprocess.run(
        [str(exe), "show", str(tmp_path / "runs" / "deep")],
        capture_output=True, text=True, timeout=HANG_S, check=False, env=env,
    )  # fmt: skip
    assert proc.returncode == 0 and "nested" in proc.stdout, proc.stderr


def test_the_list_row_names_the_file_that_could_not_be_read(tmp_path: Path) -> None:
    """A run flagged only in its note says which file, for the list's Flags column."""
    from runner.runs.folder import RunFolder

    run = tmp_path / "dir-metrics"
    (run / "metrics.jsonl").mkdir(parents=True)
    (run / "config.json").write_text('{"learning_rate": 1e-4}')
    folder = RunFolder(run)
    folder.refresh()
    summary = folder.summary()
    assert summary.unreadable == "metrics.jsonl", summary
    good = tmp_path / "good"
    good.mkdir()
    (good / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n')
    ok = RunFolder(good)
    ok.refresh()
    assert ok.summary().unreadable == ""
