"""The board's flag of a run judged a moment ago (the timer annotates every run every few seconds) is
worked out once per alerts list, and follows the list when it changes (an acknowledgement, a new alert).
Real run folders, store, engine and board; one spy, named as such: the module's ``annotate``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from runner.alerts import board as board_module
from runner.alerts.board import AlertBoard
from runner.runs.store import RunStore


@pytest.fixture(autouse=True)
def _homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))


def _write(folder: Path, steps: range, loss: float = 1.0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "metrics.jsonl").open("a") as fh:
        for i in steps:
            fh.write(json.dumps({"step": i, "loss": loss, "time/total": 2.0}) + "\n")


def test_a_deferred_runs_flag_is_worked_out_once_per_alerts_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "logs" / "bad", range(30))
    _write(tmp_path / "logs" / "bad", range(30, 31), math.nan)
    _write(tmp_path / "logs" / "good", range(30))
    store = RunStore([tmp_path / "logs"])
    board = AlertBoard(tmp_path / "ws")
    board.judge(store, store.scan())
    calls: list[str] = []
    real = board_module.annotate
    monkeypatch.setattr(board_module, "annotate", lambda s, a: calls.append(s.path) or real(s, a))  # a spy
    for _ in range(3):
        summaries = {Path(s.path).name: s for s in store.summaries()}
        board.judge(store, summaries.values(), defer_s=3600.0)
        assert summaries["bad"].alert_flag and summaries["bad"].alert_severity == "critical"
        assert summaries["good"].alert_flag == ""
    assert calls == []  # worked out when judged, not again at each tick (before: once per run and tick)
    nan = next(a for a in board.alerts[str(tmp_path / "logs" / "bad")] if a.rule == "non_finite")
    board.acknowledge(nan)  # a new list for the run: its flag is worked out again
    summaries = {Path(s.path).name: s for s in store.summaries()}
    board.judge(store, summaries.values(), defer_s=3600.0)
    assert summaries["bad"].alert_flag == "" and len(calls) == 2  # every run's list is new
