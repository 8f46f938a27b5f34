"""Compare runs that tinkertop launched as a sweep (real supervised self-test jobs, no mocks): grouping by
the swept key, the config diff naming exactly the swept keys (and the folders), and each run's commit and
code diff taken from the launch record (the working folder is a git repository with a local change)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from runner.compare import compare_table, config_diff, group_key_values, group_series
from runner.control import state_dir
from runner.control.testing import launch_job, wait_status


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINKER_API_KEY", "tml-" + "x" * 40)  # the self-test job reaches no service
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    try:
        git(cwd, "init", "-q")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("git unavailable")
    (cwd / ".gitignore").write_text("results/\nnotes/\n")
    (cwd / "recipe.py").write_text("LR = 1\n")
    git(cwd, "add", ".")
    git(cwd, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "start")
    (cwd / "recipe.py").write_text("LR = 2\n")  # a local change: the launch records its diff
    return cwd


def test_a_launched_sweep_groups_diffs_and_shows_its_commit(repo: Path) -> None:
    launch_job(repo, "steps=4", name="sweep", sweep=["learning_rate=0.001,0.0001", "marker=a,b"])
    ids = _all_ids()  # the private home holds only this sweep's records
    assert len(ids) == 4
    for run_id in ids:
        assert wait_status(run_id, "finished", "failed") == "finished"
    paths = sorted(Path((state_dir.read_state(i) or {})["log_path"]) for i in ids)

    groups = group_key_values(paths, "learning_rate")
    lrs = {p: json.loads((p / "config.json").read_text())["learning_rate"] for p in paths}
    assert list(groups) == ["learning_rate=0.0001", "learning_rate=0.001"]
    assert (
        all(lrs[p] == 1e-4 for p in groups["learning_rate=0.0001"])
        and len(groups["learning_rate=0.0001"]) == 2
    )

    diff = config_diff(paths)
    assert {r.key for r in diff.rows} == {"learning_rate", "marker", "log_path"}
    head = git(repo, "rev-parse", "HEAD")
    assert diff.commits == (head,) * 4
    assert all(d is not None and "+LR = 2" in d for d in diff.code_diffs)

    table = compare_table(paths)
    assert [r.status for r in table.rows] == ["finished"] * 4
    metric = table.metrics[0]
    series = {str(p): _column(p, metric) for p in paths}
    lines = group_series(series, groups)
    assert [len(line.runs) for line in lines] == [2, 2]
    for line in lines:
        assert line.steps.tolist() == [0, 1, 2, 3]


def _all_ids() -> list[str]:
    return sorted(p.name for p in state_dir.runs_root().iterdir() if (p / "state.json").is_file())


def _column(path: Path, key: str) -> tuple[list[int], list[float]]:
    rows = [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return [r["step"] for r in rows if key in r], [float(r[key]) for r in rows if key in r]
