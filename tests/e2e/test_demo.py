"""The demo, headless, against a real backend: real cookbook runs start, write metrics, the
too-high learning rate really goes wrong (and ``tinkertop alerts`` says so, while the steady run gets no
collapse alert), SFT loss falls, and stopping leaves no process behind."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Backend

pytestmark = pytest.mark.e2e


def _rows(folder: Path) -> list[dict[str, Any]]:
    path = folder / "metrics.jsonl"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a half-written last line
    return rows


def _wait(what: str, check: Callable[[], bool], timeout: float, folders: list[Path]) -> None:
    from runner.control import state_dir

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1.0)
    logs = "\n".join(
        f"--- {f.name}\n{_tail(state_dir.console_path(state_dir.run_id_for(f)))}" for f in folders
    )
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-1500:] if path.exists() else "(no console.log)"


def _collapsed(rows: list[dict[str, Any]]) -> bool:
    """The unstable run's real failure: a NaN, entropy blown up to several times its start, or
    reward collapse (pinned at the format floor, or no correct answer, three steps in a row)."""
    if len(rows) < 2:
        return False
    correct = [r.get("env/all/correct") for r in rows]
    entropy = [r.get("optim/entropy") for r in rows]
    if any(isinstance(v, float) and math.isnan(v) for v in (*correct, *entropy)):
        return True
    if isinstance(entropy[0], float | int) and any(
        isinstance(e, float | int) and e > 3 * entropy[0] + 1 for e in entropy[1:]
    ):
        return True
    reward = [r.get("env/all/reward/total") for r in rows[1:]]
    floor = [isinstance(v, float | int) and v <= -0.095 for v in reward]  # never right, never stops
    if any(all(floor[i : i + 3]) for i in range(max(0, len(floor) - 2))):
        return True
    if not (isinstance(correct[0], float | int) and correct[0] > 0):
        return False
    later = correct[1:]
    return any(all(c == 0 for c in later[i : i + 3]) for i in range(max(0, len(later) - 2)))


def _alerts(workspace: Path, cwd: Path) -> list[dict[str, Any]]:
    """``tinkertop alerts --json`` on the workspace, by the installed entry point (a real process)."""
    tinkertop = Path(sys.executable).parent / "tinkertop"
    out = subprocess.run(
        [str(tinkertop), "alerts", "--json", str(workspace)],
        capture_output=True, text=True, timeout=300, cwd=cwd, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


# what marks the unstable run's collapse: the steady run never gets these, nor anything critical
COLLAPSE_RULES = ("reward_pinned", "entropy_collapse", "no_signal", "non_finite")


def _check_alerts(workspace: Path, cwd: Path, unstable: Path, steady: Path) -> list[dict[str, Any]]:
    """Wait until the unstable run has an entropy blow-up or reward alert (the collapse is in the file;
    the reward rule needs its 10 flat steps after a 5-step warm-up); the steady run has no collapse alert
    and nothing critical.

    An entropy warning on the steady run is allowed: the tiny model starts peaked and its sampled entropy
    really does rise about 3x as it learns (0.36 -> 1.2 in each of three live runs). Whether that reads
    as "2x its first-10-steps median" (the rule as specified) depends on when the rise starts: 2.2x in
    one CI run, 1.5x in the others."""
    seen: list[list[dict[str, Any]]] = [[]]

    def fired() -> bool:
        seen[0] = _alerts(workspace, cwd)
        return any(
            Path(a["run_path"]).name == unstable.name
            and a["rule"] in ("entropy_blowup", "reward_pinned")
            and a["severity"] in ("warning", "critical")
            for a in seen[0]
        )

    _wait("tinkertop alerts to flag the unstable run", fired, 600, [unstable])
    loud = [
        a
        for a in seen[0]
        if Path(a["run_path"]).name == steady.name
        and (a["severity"] == "critical" or (a["rule"] in COLLAPSE_RULES and a["severity"] != "info"))
    ]
    assert loud == [], loud
    return seen[0]


def _check_compare(rl: list[Path], cwd: Path) -> None:
    """``tinkertop compare --json --group-by learning_rate`` on the demo's RL sweep (a real process): one
    row per run, the learning rate as the changed key with each run's value from its config.json, and one
    group per learning rate."""
    tinkertop = Path(sys.executable).parent / "tinkertop"
    out = subprocess.run(
        [str(tinkertop), "compare", "--json", "--group-by", "learning_rate", *map(str, rl)],
        capture_output=True, text=True, timeout=300, cwd=cwd, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    rows = [x for x in lines if x["type"] == "row"]
    assert sorted(Path(r["path"]).name for r in rows) == sorted(f.name for f in rl)
    lrs = {f.name: json.loads((f / "config.json").read_text())["learning_rate"] for f in rl}
    (lr_row,) = [x for x in lines if x["type"] == "diff" and x["key"] == "learning_rate"]
    assert lr_row["change"] == "changed"
    assert {name: float(v) for name, v in lr_row["values"].items()} == lrs  # display name -> value
    groups = [x for x in lines if x["type"] == "group"]
    assert len(groups) == len(set(lrs.values())) == 3
    assert sorted(Path(r).name for g in groups for r in g["runs"]) == sorted(lrs)


def test_demo_runs_move_and_stop_cleanly(backend: Backend, tmp_path: Path) -> None:
    from runner import demo

    workspace = tmp_path / "demo" / "logs"
    (workspace / "rl-lr2e-3").mkdir(parents=True)  # an existing folder: the demo must not reuse it
    started = demo.start_demo(workspace)
    try:
        folders = [Path(r.path) for r in started]
        names = [f.name for f in folders]
        assert "rl-lr2e-3" not in names and "rl-lr2e-3-2" in names
        assert len(started) == 4 and all(f.parent == workspace.resolve() for f in folders)
        _wait(
            "two metric steps in every run",
            lambda: all(len(_rows(f)) >= 2 for f in folders),
            600,
            folders,
        )
        unstable = next(f for f in folders if f.name.startswith("rl-lr1e-1"))
        _wait("the unstable run to collapse", lambda: _collapsed(_rows(unstable)), 400, [unstable])
        steady = next(f for f in folders if f.name.startswith("rl-lr2e-3"))
        _check_alerts(workspace, tmp_path, unstable, steady)
        sft = next(f for f in folders if f.name.startswith("sft-"))

        def sft_falls() -> bool:
            nll = [r["train_mean_nll"] for r in _rows(sft) if "train_mean_nll" in r]
            return len(nll) >= 10 and sum(nll[-3:]) / 3 < 0.8 * sum(nll[:3]) / 3

        _wait("SFT train_mean_nll to fall", sft_falls, 400, [sft])
        _check_compare([f for f in folders if f.name.startswith("rl-")], tmp_path)
        for folder in folders:
            config = json.loads((folder / "config.json").read_text())
            assert not config.get("wandb_project")
    finally:
        stopped = demo.stop_demo(started)
    from runner.control import state_dir

    assert {r.run_id for r in stopped} <= {r.run_id for r in started}
    # supervised: each ends stopped (or finished, if it got to its last step first), never failed or lost
    assert all(demo.status(r) in ("stopped", "finished") for r in started), [demo.status(r) for r in started]
    assert demo.read_record() == []
    assert all(state_dir.console_path(r.run_id).exists() for r in started)
