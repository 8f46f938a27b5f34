"""The run-folder reader takes its status source from its caller: none, the supervisor's records
(``runner.api.status_source``), or one that fails, which is said on that run's row, never swallowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.runs import status as run_status
from runner.runs.quick import quick_scan
from runner.runs.store import RunStore
from runner.status import Status
from tests.shared_data import SHARED

LINE = '{"step": 0, "env/all/reward/total": 0.5}\n'


def _runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        (root / name / "metrics.jsonl").write_text(LINE)
        (root / name / "checkpoints.jsonl").write_text('{"name": "final", "state_path": "x"}\n')
    return root


def test_a_given_source_decides_and_none_leaves_it_to_the_files(tmp_path: Path) -> None:
    root = _runs(tmp_path)
    asked: list[str] = []

    def source(path: str) -> dict[str, Any] | None:
        asked.append(Path(path).name)
        return {"status": "stopped", "exit_code": -15} if path.endswith("/a") else None

    by_name = {s.name: s for s in RunStore([root], source).scan()}
    assert (by_name["a"].status, by_name["a"].status_source, by_name["a"].exit_code) == (
        "stopped",
        "supervisor",
        -15,
    )
    assert (by_name["b"].status, by_name["b"].status_source) == (Status.FINISHED, "files")
    assert sorted(set(asked)) == ["a", "b"]
    quick = {s.name: s for s in quick_scan([root], source)}
    assert quick["a"].status is Status.STOPPED and quick["b"].status_source == "files"
    plain = {s.name: s for s in RunStore([root]).scan()}  # no source: nothing asked, the files decide
    assert plain["a"].status_source == "files" and plain["a"].status is Status.FINISHED


def test_a_failing_source_is_noted_on_the_row_and_counted(tmp_path: Path) -> None:
    root = _runs(tmp_path)

    def broken(path: str) -> dict[str, Any] | None:
        if path.endswith("/a"):
            raise PermissionError("state.json: permission denied")
        return None

    before = run_status.SOURCE_FAILURES["PermissionError"]
    by_name = {s.name: s for s in RunStore([root], broken).scan()}
    a, b = by_name["a"], by_name["b"]
    assert a.status is Status.FINISHED and a.status_source == "files"  # the files still decide
    assert "supervisor record: PermissionError: state.json: permission denied" in a.note
    assert "supervisor" not in b.note  # the other run is untouched
    (quick_a,) = [s for s in quick_scan([root], broken) if s.name == "a"]
    assert "supervisor record: PermissionError" in quick_a.note
    assert run_status.SOURCE_FAILURES["PermissionError"] >= before + 2


@pytest.mark.skipif(not (SHARED / "formats").is_dir(), reason="../shared/formats absent")
def test_the_default_source_reads_no_record_for_foreign_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runner.api import status_source

    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    summaries = quick_scan([SHARED / "formats"], status_source())
    assert summaries and all(s.status_source == "files" for s in summaries)
