"""Metric semantics and status from files (issue 8).

- headline: reward keys without the cookbook's ``env/all/`` prefix (other trainers' spellings);
- fallback step counters (``global_step``, ``progress/batch``, ...) in files without ``step``, and
  their restarts shown as restarts, never merged into the first segment;
- status from files: ``running`` only while the files grow under our eyes or a local process holds
  them open for writing (or names the run in its command line); otherwise what is known.

Processes are real subprocesses; files are real files in a temporary folder.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.runs import kinds, status
from runner.runs.folder import RunFolder
from runner.runs.series import MetricTable
from tests.shared_data import SHARED

REALDATA = SHARED / "realdata"


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    """Keep the supervisor-record lookup away from the real ~/.tinkertop."""
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))


def write_run(folder: Path, rows: list[dict], files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    return folder


def append(path: Path, rows: list[dict]) -> None:
    with path.open("a") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in rows))


def wait_for(cond: Callable[[], object], timeout: float = 20.0, what: str = "") -> object:
    """Poll ``cond`` until truthy; fail after ``timeout`` seconds (a bound, not a measurement)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def summary_of(folder: Path):
    run = RunFolder(folder)
    run.refresh()
    return run, run.summary()


# ---- 1. headline for reward keys without env/all/ -------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "want"),
    [
        (["reward/mean", "reward/std", "reward/max"], "reward/mean"),
        (["reward/pass@1"], "reward/pass@1"),
        (["reward/pass@1", "reward/mean", "loss"], "reward/mean"),
        (["loss", "rewards/format_reward/mean", "reward", "reward_std"], "reward"),  # TRL GRPO
        (["eval/reward", "train/reward", "train/loss"], "train/reward"),
        (["time/reward", "reward_mean"], "reward_mean"),
        (["critic/score/max", "critic/score/mean", "actor/entropy"], "critic/score/mean"),  # verl
        (["eval/format_rate", "eval/pass_at_1"], "eval/pass_at_1"),
        (["chosen_reward", "rejected_reward", "loss"], "loss"),
    ],
)
def test_headline_without_env_prefix(keys: list[str], want: str):
    kind = kinds.infer_kind(keys).kind
    assert kinds.headline_key(kind, keys) == want


def test_headline_prefers_loss_for_sl_even_with_an_accuracy():
    assert kinds.headline_key("sl", ["accuracy", "train/loss"]) == "train/loss"


@pytest.mark.parametrize("key", ["reward/mean", "reward/pass@1", "train/reward"])
def test_run_with_bare_reward_key_gets_headline_value_and_trend(tmp_path: Path, key: str):
    rows = [{"step": i, key: 0.1 * i, "loss": 1.0 / (i + 1)} for i in range(5)]
    _, s = summary_of(write_run(tmp_path / "run", rows))
    assert s.kind == "rl"
    assert s.headline_key == key
    assert s.headline_value == pytest.approx(0.4)
    assert s.spark == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is absent")
def test_real_custom_loop_keeps_its_mean_reward_headline():
    run, s = summary_of(REALDATA / "s-haider10_finetunned_coding_agent/results/2026_02_13-06_30_15")
    assert s.headline_key == "mean_reward" and s.spark


# ---- 2. fallback step counters and their restarts -------------------------------------------------


def rows_of(counter: str, values: list[int]) -> list[dict]:
    return [{counter: v, "loss": float(i)} for i, v in enumerate(values)]


@pytest.mark.parametrize("counter", ["global_step", "progress/batch", "train/global_step", "_step"])
def test_fallback_counter_is_the_step(counter: str):
    table = MetricTable()
    table.ingest(rows_of(counter, [10, 20, 30]), 1.0)
    assert list(table.steps) == [10, 20, 30] and table.notes == []
    assert table.column("loss") == ([10, 20, 30], [0.0, 1.0, 2.0])


@pytest.mark.parametrize("start", [0, 1, 7])
def test_fallback_counter_restart_opens_a_new_segment(start: int):
    values = list(range(start, start + 5)) + list(range(start, start + 3))
    table = MetricTable()
    table.ingest(rows_of("global_step", values), 1.0)
    steps, losses = table.column("loss")
    assert losses == [float(i) for i in range(8)]  # nothing merged, nothing lost
    assert steps == sorted(steps) and len(set(steps)) == 8  # x keeps increasing
    assert steps[:5] == values[:5]
    assert table.notes == ["global_step counter restarted at line 6"]
    assert table.latest()["global_step"] == start + 2  # the trainer's own counter is kept as is


def test_a_huge_counter_is_not_a_step():
    table = MetricTable()
    table.ingest([{"global_step": 2**64, "loss": 1.0}, {"global_step": -(2**60), "loss": 2.0}], 1.0)
    table.ingest([{"global_step": 5, "loss": 3.0}], 1.0)
    assert table.column("loss") == ([0, 1, 5], [1.0, 2.0, 3.0])


def test_fallback_counter_going_back_a_little_is_a_resume_and_merges():
    table = MetricTable()
    table.ingest(rows_of("global_step", [0, 1, 2, 3, 4, 5, 3, 4, 5, 6]), 1.0)
    assert list(table.column("loss")[0]) == [0, 1, 2, 3, 4, 5, 6]
    assert table.column("loss")[1][3:] == [6.0, 7.0, 8.0, 9.0]  # later lines win
    assert table.notes == []


def test_step_going_back_to_zero_still_merges():
    """``step`` keeps its meaning: a resume re-logs steps, later lines win (no restart note)."""
    table = MetricTable()
    table.ingest([{"step": s, "loss": float(i)} for i, s in enumerate([0, 1, 2, 0, 1])], 1.0)
    assert table.column("loss") == ([0, 1, 2], [3.0, 4.0, 2.0]) and table.notes == []


def test_restart_detection_does_not_depend_on_batching():
    values = list(range(1, 40)) + list(range(1, 25)) + list(range(20, 30)) + list(range(1, 10))
    recs = rows_of("global_step", values)
    whole = MetricTable()
    whole.ingest(recs, 1.0)
    rng = random.Random(8)
    for _ in range(5):
        parts, i = MetricTable(), 0
        while i < len(recs):
            n = rng.randint(1, 9)
            parts.ingest(recs[i : i + n], 1.0)
            i += n
        assert parts.column("loss") == whole.column("loss") and parts.notes == whole.notes
    assert len(whole.notes) == 2


def test_restart_note_names_the_file_line(tmp_path: Path):
    folder = tmp_path / "run"
    folder.mkdir()
    lines = [json.dumps(r) for r in rows_of("global_step", [0, 1, 2])]
    lines += ["", "{not json"] + [json.dumps(r) for r in rows_of("global_step", [0, 1])]
    (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    run, s = summary_of(folder)
    assert "global_step counter restarted at line 6" in s.note
    assert len(run.table) == 5 and s.step == max(run.table.steps)


# ---- 3. status from files -------------------------------------------------------------------------


def test_copied_finished_run_is_not_running(tmp_path: Path):
    """Fresh files (just copied), progress 100%, no final checkpoint, no process: finished."""
    rows = [{"step": i, "progress/done_frac": (i + 1) / 4, "env/all/reward/total": 0.5} for i in range(4)]
    _, s = summary_of(write_run(tmp_path / "copied", rows))
    assert (s.status, s.progress) == ("finished", 1.0)


def test_copied_run_that_reached_its_configured_total_is_finished(tmp_path: Path):
    rows = [{"step": i, "env/all/reward/total": 0.5} for i in range(5)]
    _, s = summary_of(write_run(tmp_path / "r", rows, files={"config.json": json.dumps({"max_steps": 5})}))
    assert s.status == "finished"


def test_copied_unfinished_run_never_seen_growing_is_unknown(tmp_path: Path):
    rows = [{"step": i, "progress/done_frac": (i + 1) / 10} for i in range(4)]
    run, s = summary_of(write_run(tmp_path / "copied", rows))
    assert s.status == "unknown"
    run.refresh()  # a second look without growth changes nothing
    assert run.summary().status == "unknown"


def test_run_growing_while_watched_is_running(tmp_path: Path):
    folder = write_run(tmp_path / "live", [{"step": 0, "progress/done_frac": 0.1}])
    run, s = summary_of(folder)
    assert s.status == "unknown"
    append(folder / "metrics.jsonl", [{"step": 1, "progress/done_frac": 0.2}])
    run.refresh()
    assert run.summary().status == "running"


def test_console_growth_alone_counts(tmp_path: Path):
    folder = write_run(tmp_path / "live", [{"step": 0}], files={"logs.log": "start\n"})
    run, _ = summary_of(folder)
    with (folder / "logs.log").open("a") as fh:
        fh.write("sampling...\n")
    run.refresh()
    assert run.summary().status == "running"


def test_status_rules_with_growth_process_and_progress():
    now = 1_000_000.0

    def boom() -> bool:
        raise AssertionError("the process check ran when it was not needed")

    assert status.infer_status([{"name": "final"}], [], None, held=boom, now=now) == "finished"
    assert status.infer_status([], [], now - 10, held=boom, now=now) == "running"  # growing
    assert status.infer_status([], [], now - 1000, now=now) == "stale"  # seen growing, then not
    assert status.infer_status([], [], now - 1000, held=lambda: True, now=now) == "running"
    assert status.infer_status([], [], None, held=lambda: True, now=now) == "running"
    assert status.infer_status([], [], None, held=lambda: False, now=now) == "unknown"
    assert status.infer_status([], [], None, progress=1.0, held=lambda: False, now=now) == "finished"
    assert status.infer_status([], [], now - 1000, progress=1.0, now=now) == "finished"
    assert status.infer_status([], [], now - 10, progress=1.0, now=now) == "running"  # still writing


def test_growth_watch_first_look_is_a_baseline():
    watch = status.GrowthWatch()
    watch.observe((100, 0, 5), now=1.0)
    assert watch.last_growth is None
    watch.observe((100, 0, 5), now=2.0)
    assert watch.last_growth is None
    watch.observe((90, 0, 5), now=3.0)  # truncated: a new baseline, not growth
    assert watch.last_growth is None
    watch.observe((95, 0, 5), now=4.0)
    assert watch.last_growth == 4.0


def _holder(code: str, *argv: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _release(proc: subprocess.Popen) -> None:
    proc.communicate("", timeout=20)  # stdin closed: it exits


HOLD = "import sys\nf = open(sys.argv[1], sys.argv[2])\nprint('ready', flush=True)\nsys.stdin.read()\n"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_run_held_open_for_writing_by_a_process_is_running(tmp_path: Path):
    folder = write_run(tmp_path / "held", [{"step": 0}], files={"logs.log": "start\n"})
    run, s = summary_of(folder)
    assert s.status == "unknown"
    proc = _holder(HOLD, str(folder / "logs.log"), "a")
    try:
        wait_for(lambda: run.summary().status == "running", what="running while held")
    finally:
        _release(proc)
    wait_for(lambda: run.summary().status == "unknown", what="unknown once released")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_reader_does_not_make_a_run_running(tmp_path: Path):
    folder = write_run(tmp_path / "read", [{"step": 0}], files={"logs.log": "start\n"})
    run, _ = summary_of(folder)
    proc = _holder(HOLD, str(folder / "logs.log"), "r")
    try:
        status.forget_holders()  # a fresh look at /proc, now that the reader is there
        assert run.summary().status == "unknown"
    finally:
        _release(proc)


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_run_named_in_a_process_command_line_is_running(tmp_path: Path):
    folder = write_run(tmp_path / "launched", [{"step": 0}])
    run, _ = summary_of(folder)
    code = "import sys\nprint('ready', flush=True)\nsys.stdin.read()\n"
    rel = os.path.relpath(folder)  # relative to our cwd, which the child shares
    proc = _holder(code, f"log_path={rel}")
    try:
        wait_for(lambda: run.summary().status == "running", what="running while named")
    finally:
        _release(proc)
    wait_for(lambda: run.summary().status == "unknown", what="unknown once it exits")


@pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata is absent")
@pytest.mark.parametrize(
    ("rel", "left_out", "want"),
    [
        ("sushantmehta_tinker-cookbook_IF_RLVR/logs_v2p7", (), "finished"),  # final checkpoint
        ("sushantmehta_tinker-cookbook_IF_RLVR/logs_v2p7", ("checkpoints.jsonl",), "finished"),  # done_frac 1
        ("sushantmehta_tinker-cookbook_IF_RLVR/logs", (), "unknown"),  # stopped at 7 of 57 steps
    ],
)
def test_real_runs_copied_here_say_what_is_known(tmp_path: Path, rel: str, left_out: tuple, want: str):
    dest = tmp_path / "copy"
    shutil.copytree(REALDATA / rel, dest, ignore=shutil.ignore_patterns(*left_out))  # fresh mtimes
    _, s = summary_of(dest)
    assert s.status == want
