"""The quick scan's cheaper paths (issue 12: first paint of 1,000 runs) give what the plain ones gave: a held
file found through symlinks with one ``realpath`` per folder, the supervisor records' folder found once per
``TINKERTOP_HOME``, a run's files looked at with one ``stat`` each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner.control import records, state_dir
from runner.runs import status
from runner.runs.folder import RunFolder
from runner.runs.quick import quick_scan

HOLD = "import sys\nf = open(sys.argv[1], 'a')\nprint('ready', flush=True)\nsys.stdin.read()\n"


def _runs(root: Path, n: int) -> None:
    for i in range(n):
        run = root / f"r{i}"
        run.mkdir(parents=True)
        rows = [{"step": s, "env/all/reward/total": s / 10 + i} for s in range(5 + i)]
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "r2" / "checkpoints.jsonl").write_text(json.dumps({"name": "final", "batch": 6}) + "\n")
    (root / "r3" / "metrics.jsonl").write_text("{not json}\n")


def _holder(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    return proc


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_file_held_through_a_symlinked_folder_or_a_symlinked_file_is_found(tmp_path: Path) -> None:
    real, data = tmp_path / "real", tmp_path / "elsewhere" / "data.jsonl"
    real.mkdir()
    data.parent.mkdir()
    (real / "metrics.jsonl").write_text("{}\n")
    data.write_text("{}\n")
    (tmp_path / "link").symlink_to(real)
    (real / "logs.log").symlink_to(data)  # a file that is itself a symlink
    link = tmp_path / "link"
    for held, names in (
        (real / "metrics.jsonl", ["metrics.jsonl"]),
        (data, ["checkpoints.jsonl", "logs.log"]),
    ):
        proc = _holder(held)
        try:
            status.forget_holders()
            assert status.held_by_process(link, [link / n for n in names])
            assert status.held_by_process(real, [str(real / n) for n in names])
            assert not status.held_by_process(link, [link / "config.json"])
        finally:
            proc.communicate(b"", timeout=20)
            status.forget_holders()


def test_the_records_folder_follows_tinkertop_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "a"))
    run_id = state_dir.run_id_for(folder)
    state_dir.write_state(run_id, {"run_id": run_id, "status": "failed", "exit_code": 3})
    assert (records.status_for(folder) or {}).get("status") == "failed"
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "b"))
    assert records.status_for(folder) is None
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "a"))
    assert (records.status_for(folder) or {}).get("exit_code") == 3


def test_the_quick_look_agrees_with_the_full_read_on_what_the_files_say(tmp_path: Path) -> None:
    _runs(tmp_path / "runs", 5)
    (tmp_path / "runs" / "r4" / "logs.log").write_text("Training completed successfully\n")
    (tmp_path / "runs" / "r5").mkdir()  # a config alone
    (tmp_path / "runs" / "r5" / "config.json").write_text(json.dumps({"log_path": "x", "model_name": "m"}))
    quick = quick_scan([tmp_path / "runs"])
    assert [s.name for s in quick] == ["r0", "r1", "r2", "r3", "r4", "r5"]
    for s in quick:
        run = RunFolder(Path(s.path))
        run.refresh()
        full = run.summary()
        assert (s.name, s.kind, s.status, s.last_change) == (
            full.name,
            full.kind,
            full.status,
            full.last_change,
        )
    assert [s.status for s in quick] == ["unknown", "unknown", "finished", "unknown", "finished", "unknown"]
