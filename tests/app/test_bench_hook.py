"""The app's timing hook for ``python -m bench app``: off without ``TINKERTOP_HOOK_FILE``, and each line
written once (the bench reads them: painted, loaded, a run's newest step seen)."""

from __future__ import annotations

from pathlib import Path

from runner.runs.summary import RunSummary
from runner.status import Status
from tui.bench_hook import Hook


def _row(step: int) -> RunSummary:
    return RunSummary(
        path="/runs/a", name="a", kind="rl", status=Status.RUNNING, step=step, progress=None,
        headline_key=None, headline_value=None, spark=[], last_change=None, n_lines=step, bad_lines=0,
        latest={},
    )  # fmt: skip


def test_hook_writes_each_line_once(tmp_path: Path) -> None:
    out = tmp_path / "hook.txt"
    hook = Hook(str(out))
    hook.painted(0)  # nothing painted yet: no line
    hook.painted(3)
    hook.painted(4)
    hook.loaded()
    hook.loaded()
    hook.seen([_row(1)])
    hook.seen([_row(1)])  # the same step again: not a new sighting
    hook.seen([_row(2)])
    lines = [line.split() for line in out.read_text().splitlines()]
    assert [line[0] for line in lines] == ["painted", "loaded", "seen", "seen"]
    assert lines[0][2] == "3" and [line[2] for line in lines[2:]] == ["1", "2"]  # rows, steps


def test_hook_is_off_without_a_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("TINKERTOP_HOOK_FILE", raising=False)
    hook = Hook()
    hook.painted(3)
    hook.loaded()
    hook.seen([_row(1)])
    assert hook.path is None and list(tmp_path.iterdir()) == []
