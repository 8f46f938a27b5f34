"""The alert board the app uses: flags written into summaries, the alerts map swapped only on change."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runner.alerts.alert import Alert
from runner.alerts.board import AlertBoard, annotate
from runner.runs.store import RunStore
from runner.runs.summary import RunSummary
from tests.shared_data import SHARED


def _summary() -> RunSummary:
    return RunSummary("/r", "r", "rl", "running", 3, None, None, None, [], None, 3, 0, {})


def _alert(severity: str, acked: bool = False, flag: str = "x") -> Alert:
    return Alert("/r", "rule", severity, "m", 1, 2, 1.0, 0.5, "w", "msg", flag, acked=acked)  # type: ignore[arg-type]


def test_annotate_flags_the_worst_unacked_warning_or_critical_only() -> None:
    s = _summary()
    annotate(s, [_alert("info", flag="slow x2")])
    assert (s.alert_flag, s.alert_severity) == ("", "")  # a note for the alerts view, not a flag
    annotate(s, [_alert("warning", flag="KL 0.02"), _alert("critical", acked=True, flag="NaN loss")])
    assert (s.alert_flag, s.alert_severity) == ("KL 0.02", "warning")
    annotate(s, [_alert("warning", flag="KL 0.02"), _alert("critical", flag="NaN loss")])
    assert (s.alert_flag, s.alert_severity) == ("NaN loss", "critical")
    annotate(s, [])
    assert s.alert_flag == ""


def test_board_judges_flags_and_swaps_the_map_only_on_change(tmp_path: Path) -> None:
    src = SHARED / "formats" / "rl_arith"
    if not src.is_dir():
        pytest.skip(f"{src} is absent")
    run = tmp_path / "logs" / "arith"
    shutil.copytree(src, run)
    store = RunStore([tmp_path / "logs"])
    board = AlertBoard(tmp_path)
    summaries = store.scan()
    board.judge(store, summaries)
    first = board.alerts
    assert str(run) in first and not [s for s in summaries if s.alert_flag]
    board.judge(store, store.summaries())
    assert board.alerts is first  # nothing changed: readers keep the same dict
    step = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"] + 1
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write(f'{{"step": {step}, "optim/entropy": NaN}}\n')
    changed = store.refresh({run})
    board.judge(store, changed)
    assert board.alerts is not first and first[str(run)] == []  # the old dict was not touched
    (nan,) = [a for a in board.alerts[str(run)] if a.rule == "non_finite"]
    assert changed[0].alert_severity == "critical" and "NaN" in changed[0].alert_flag
    board.acknowledge(nan)
    assert board.alerts[str(run)][0].acked and (tmp_path / ".tinkertop" / "acks.json").exists()
    shutil.rmtree(run)
    board.judge(store, store.refresh({run}))
    assert str(run) not in board.alerts


def test_a_broken_settings_file_leaves_the_defaults_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "tinkertop.toml").write_text("[alerts\n")
    board = AlertBoard(tmp_path)
    assert "tinkertop.toml" in board.settings_error and "line 1" in board.settings_error


def test_ls_shows_each_runs_worst_alert_like_the_app(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from runner.cli import main

    src = SHARED / "formats" / "rl_arith"
    if not src.is_dir():
        pytest.skip(f"{src} is absent")
    logs = tmp_path / "results" / "logs"
    shutil.copytree(src, logs / "nan")
    shutil.copytree(src, logs / "fine")
    with (logs / "nan" / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 99, "train_mean_nll": Infinity}\n')
    monkeypatch.chdir(tmp_path)
    assert main(["ls", "--json", str(logs)]) == 0
    rows = {Path(r["path"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["nan"]["alert_severity"] == "critical" and "inf" in rows["nan"]["alert"].lower()
    assert rows["fine"]["alert"] is None
    assert main(["ls", str(logs)]) == 0
    assert "critical: " in capsys.readouterr().out
