"""``tinkertop demo --json`` and ``tinkertop demo --stop --json``: headless, one strict JSON line per run
(name, path, run_id, status, note; a started run also the backend's URL, never its key), progress on
stderr, exit 0, or 1 with ``tinkertop: demo failed: ...`` on stderr.

Everything goes through the installed entry point. ``--stop --json`` stops real supervised runs (the
runner's self-test job, launched through the demo's own launcher, so they are recorded as demo runs).
``--json`` itself starts the real demo (embedded backend on the tiny model, four cookbook runs) in a
private ``TINKERTOP_HOME``: marked e2e and slow, it stops the runs and the backend afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runner import demo
from runner.control import selftest_job
from runner.control.testing import wait_for
from tests.shared_data import cli_exe

KEY = "tml-" + "q" * 40
ROW_KEYS = {"name", "path", "run_id", "status", "note"}


def tinkertop(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(cli_exe()), *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINKER_API_KEY", KEY)
    return tmp_path / "home"


def test_demo_stop_json_writes_one_line_per_stopped_run(home: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "demo" / "logs"
    job = str(Path(selftest_job.__file__))
    runs = [
        demo.DemoRun(
            n, job, ("steps=100000", "step_seconds=0.1", f"log_path={workspace / n}"), f"{n} note", False
        )
        for n in ("a", "b")
    ]
    started = demo.launch_all(runs, workspace, demo.run_env())
    wait_for(lambda: all(demo.status(r) == "running" for r in started), what="both runs running")
    shown = tinkertop("demo", "--stop", "--json")
    assert shown.returncode == 0, shown.stderr
    rows = json_lines(shown.stdout)
    assert all(set(row) == ROW_KEYS for row in rows), rows
    assert sorted((r["name"], r["run_id"], r["path"], r["note"]) for r in rows) == sorted(
        (r.name, r.run_id, r.path, r.note) for r in started
    )
    assert [r["status"] for r in rows] == ["stopped", "stopped"]
    assert KEY not in shown.stdout + shown.stderr
    again = tinkertop("demo", "--stop", "--json")  # nothing left to stop: no line, still exit 0
    assert (again.returncode, again.stdout) == (0, ""), again.stderr


def test_demo_json_that_cannot_start_fails_on_stderr(home: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the workspace should go\n")
    shown = tinkertop("demo", "--json", "--workspace", str(blocker))
    assert shown.returncode == 1
    assert shown.stdout == ""
    assert shown.stderr.startswith("tinkertop: demo failed: ") and "not-a-folder" in shown.stderr


@pytest.mark.e2e
@pytest.mark.slow
def test_demo_json_starts_the_demo_headless(home: Path, tmp_path: Path) -> None:
    from runner.backend import lifecycle

    workspace = tmp_path / "demo" / "logs"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    try:
        shown = subprocess.run(
            [str(cli_exe()), "demo", "--json", "--workspace", str(workspace)],
            capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        info = lifecycle.recorded()
        assert shown.returncode == 0, shown.stderr
        assert info is not None, "no backend recorded"
        rows = json_lines(shown.stdout)
        assert len(rows) == 4, rows
        assert {r["name"] for r in rows} == {"rl-lr2e-3", "rl-lr5e-3", "rl-lr1e-1", "sft-arith-chat"}
        for row in rows:
            assert set(row) == ROW_KEYS | {"backend_url"}
            assert row["backend_url"] == info.url and row["backend_url"].startswith("http://127.0.0.1:")
            assert Path(row["path"]).parent == workspace.resolve()
            assert row["status"] in ("queued", "starting", "running", "finished")
        assert info.key not in shown.stdout + shown.stderr and KEY not in shown.stdout + shown.stderr
        assert "backend up at" in shown.stderr  # the progress lines, kept off stdout
    finally:
        stopped = tinkertop("demo", "--stop", "--json")
        lifecycle.stop()
    assert stopped.returncode == 0, stopped.stderr
    assert {r["status"] for r in json_lines(stopped.stdout)} <= {"stopped", "finished"}
