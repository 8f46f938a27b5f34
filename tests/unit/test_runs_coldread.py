"""The cold full read's second core: a forked reader writes cache entries from the far end of the runs.

Real files (rows of a public RL run), a real forked reader; the full read after it must see exactly what
it reads without the cache, and its alerts must be the same.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from runner.alerts.board import AlertBoard
from runner.runs import cache, coldread
from runner.runs.store import RunStore
from tests.shared_data import IF_RLVR, needs_if_rlvr
from tests.unit.test_runs_cache import state

pytestmark = needs_if_rlvr
SOURCE = IF_RLVR / "logs_v2p7"


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "entries"
    monkeypatch.setenv("TINKERTOP_METRICS_CACHE", str(folder))  # the forked reader inherits it
    return folder


def make_runs(root: Path, n_big: int = 4) -> list[Path]:
    """``n_big`` runs of the real rows three times over (past SAVE_MIN_BYTES, one with a bad line and a
    NaN), and one small run (under it: never cached)."""
    rows = [json.loads(line) for line in (SOURCE / "metrics.jsonl").read_text().splitlines() if line.strip()]
    runs = []
    for r in range(n_big + 1):
        folder = root / f"run_{r:02d}"
        folder.mkdir(parents=True)
        (folder / "config.json").write_bytes((SOURCE / "config.json").read_bytes())
        count = 3 * len(rows) if r < n_big else 5
        lines = []
        for i in range(count):
            row = dict(rows[i % len(rows)], step=i)
            row["env/all/reward/total"] = row.get("env/all/reward/total", 0.5) + r / 10
            lines.append(json.dumps(row))
        if r == 1 and r < n_big:
            lines[40] = "{half a line"
            lines[50] = lines[50].replace('"step": 50', '"step": 50, "optim/kl": NaN')
        (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        runs.append(folder)
    assert all((f / "metrics.jsonl").stat().st_size >= cache.SAVE_MIN_BYTES for f in runs[:n_big])
    return runs


def entries(runs: list[Path]) -> list[bool]:
    return [cache.entry_path(f / "metrics.jsonl").exists() for f in runs]


def wait_for(cond, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return False


def read_all(root: Path, tmp_path: Path) -> tuple[RunStore, AlertBoard]:
    store = RunStore([root])
    board = AlertBoard(tmp_path / "workspace")
    board.judge(store, store.scan())
    return store, board


def test_forked_reader_fills_the_cache_and_the_full_read_loads_the_same_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = make_runs(tmp_path / "runs")
    pid = coldread.start([tmp_path / "runs"])
    if (os.cpu_count() or 1) < 2:
        assert pid == -1  # one core: nothing to gain, the full read does it all
        return
    assert pid > 0 and pid != os.getpid()
    assert wait_for(lambda: all(entries(runs[:-1])))
    assert entries(runs)[-1] is False  # the small run: not cached
    store, board = read_all(tmp_path / "runs", tmp_path)
    hits = [run._cache.outcome for run in store.runs() if run._cache]
    assert hits == ["hit"] * 4 + ["miss"]
    monkeypatch.setenv("TINKERTOP_METRICS_CACHE", "0")
    plain, plain_board = read_all(tmp_path / "runs", tmp_path)
    assert [state(r.table) for r in store.runs()] == [state(r.table) for r in plain.runs()]
    assert repr(board.alerts) == repr(plain_board.alerts)  # by repr: an alert's value may be NaN
    assert any(a.flag == "NaN kl" for a in board.alerts[str(runs[1])])
    assert store.runs()[1].table.bad_lines == 1  # the bad line is still reported, with its line
    assert store.runs()[1].table.bad[0].line == 41


def test_reader_goes_backwards_skips_what_has_an_entry_and_stops_when_told(tmp_path: Path) -> None:
    runs = make_runs(tmp_path / "runs")
    calls = []
    assert coldread.read_backwards([tmp_path / "runs"], lambda: not calls.append(1) and len(calls) < 3) == 1
    assert entries(runs) == [False, False, False, True, False]  # the last big run first (the small skipped)
    first = cache.entry_path(runs[3] / "metrics.jsonl").stat().st_mtime_ns
    assert coldread.read_backwards([tmp_path / "runs"]) == 3  # the others; the one with an entry is kept
    assert entries(runs) == [True, True, True, True, False]
    assert cache.entry_path(runs[3] / "metrics.jsonl").stat().st_mtime_ns == first
    assert coldread.read_backwards([tmp_path / "runs"]) == 0  # warm: nothing to do


def test_reader_does_nothing_with_the_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = make_runs(tmp_path / "runs", n_big=1)
    monkeypatch.setenv("TINKERTOP_METRICS_CACHE", "0")
    assert coldread.read_backwards([tmp_path / "runs"]) == 0
    monkeypatch.setenv("TINKERTOP_METRICS_CACHE", str(tmp_path / "entries"))
    assert entries(runs) == [False, False]


def test_the_app_gone_reads_as_a_closed_pipe() -> None:
    read_end, write_end = os.pipe()
    try:
        assert coldread._closed(read_end) is False  # the app holds the write end: go on
        os.close(write_end)
        assert coldread._closed(read_end) is True  # the app exited: stop
    finally:
        os.close(read_end)


def test_no_reader_when_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_runs(tmp_path / "runs", n_big=1)
    monkeypatch.setenv(coldread.OFF_SWITCH, "0")
    assert coldread.start([tmp_path / "runs"]) == -1


def test_reader_waits_for_the_quick_scan_child_to_exit() -> None:
    """``start(roots, after=pid)``: the reader leaves the CPU to the first paint's quick scan until it ends."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the stand-in quick scan child: lives until the test closes the pipe
        os.close(write_end)
        os.read(read_end, 1)
        os._exit(0)
    os.close(read_end)
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (coldread.wait_exit(pid, 60), done.set()))
    waiter.start()
    try:
        assert not done.wait(0.2)  # the child is alive: still waiting
    finally:
        os.close(write_end)  # the child reads EOF and exits
    assert done.wait(60)
    waiter.join()
    os.waitpid(pid, 0)
    coldread.wait_exit(pid, 60)  # gone (reaped): no wait
    coldread.wait_exit(-1, 60)  # no quick scan child: no wait


def test_full_read_takes_the_runs_the_reader_did_from_the_end_and_parses_the_others_from_the_front(
    tmp_path: Path,
) -> None:
    """``RunStore.scan(ready=...)`` as the app's full read calls it beside a reader: between two runs it takes
    the last run left while the reader has done it (or never will: the small run), else the first; the
    summaries still come back in path order and every run reads as it does without the cache."""
    runs = make_runs(tmp_path / "runs", n_big=5)
    calls = []
    assert coldread.read_backwards([tmp_path / "runs"], lambda: not calls.append(1) and len(calls) < 3) == 1
    assert entries(runs) == [False, False, False, False, True, False]  # the reader is at the last big run
    store, order = RunStore([tmp_path / "runs"]), []
    summaries = store.scan(each=lambda s: order.append(Path(s.path).name), ready=coldread.done_by_reader)
    assert order == ["run_05", "run_04", "run_00", "run_01", "run_02", "run_03"]
    assert [Path(s.path).name for s in summaries] == [f"run_{i:02d}" for i in range(6)]
    assert [run._cache.outcome for run in store.runs() if run._cache] == ["miss"] * 4 + ["hit", "miss"]
    plain = RunStore([tmp_path / "runs"])
    assert [s.path for s in plain.scan()] == [s.path for s in summaries]
    assert [state(r.table) for r in store.runs()] == [state(r.table) for r in plain.runs()]


def test_without_a_reader_the_full_read_goes_in_path_order(tmp_path: Path) -> None:
    """No reader at work (``ready`` None, or nothing done by one): the runs are read front to back."""
    make_runs(tmp_path / "runs", n_big=3)
    for ready in (None, lambda run: False):
        summaries = []
        RunStore([tmp_path / "runs"]).scan(each=summaries.append, ready=ready)
        assert [Path(s.path).name for s in summaries] == ["run_00", "run_01", "run_02", "run_03"]
