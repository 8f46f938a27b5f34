"""tinkertop launch --local: real cookbook recipes, supervised, on the real embedded backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner.control import actions, procs, records, state_dir
from runner.control.testing import wait_for, wait_status
from tests.e2e.conftest import Backend, launch_json, run_launch

pytestmark = pytest.mark.e2e


def _metric_steps(log_path: Path) -> list[int]:
    try:
        lines = (log_path / "metrics.jsonl").read_text().splitlines()
    except OSError:
        return []
    return [json.loads(line)["step"] for line in lines if line.strip()]


def _wait_metrics(run_id: str, log_path: Path, n: int = 1, timeout: float = 400) -> None:
    """Wait for ``n`` metric lines; fail at once (with the console tail) if the run ends first."""

    def ready() -> bool:
        if len(_metric_steps(log_path)) >= n:
            return True
        status = records.effective_status(state_dir.read_state(run_id) or {})
        if status in ("failed", "lost", "stopped"):
            raise AssertionError(f"{run_id} {status}: {records.tail(state_dir.console_path(run_id))[-8:]}")
        return False

    wait_for(ready, timeout=timeout, what=f"{n} metric lines of {run_id}")


def test_math_rl_local_runs_to_finished(
    backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TINKER_API_KEY", raising=False)  # --local needs no key
    out = launch_json(tmp_path, "math_rl", "--local", "--smoke", "--name", "arith")
    run = out["runs"][0]
    assert run["config"]["model_name"] == str(backend.model_path)
    assert run["config"]["renderer_name"] == "qwen3_disable_thinking"
    run_id = run["run_id"]
    assert wait_status(run_id, "finished", "failed", "lost", timeout=400) == "finished", records.tail(
        state_dir.console_path(run_id)
    )
    state = state_dir.read_state(run_id) or {}
    assert state["exit_code"] == 0
    log_path = Path(run["log_path"])
    assert _metric_steps(log_path) == [0, 1, 2]
    finals = [json.loads(x) for x in (log_path / "checkpoints.jsonl").read_text().splitlines()]
    assert any(r.get("name") == "final" for r in finals)
    assert records.status_for(log_path)["status"] == "finished"
    note = next((tmp_path / "notes" / "experiments").glob("*-arith.md")).read_text()
    assert "finished (exit code 0)" in note and "env/all/reward/total" in note


def test_math_rl_local_stop_then_resume_completes(backend: Backend, tmp_path: Path) -> None:
    out = launch_json(tmp_path, "math_rl", "--local", "--smoke", "max_steps=6", "--name", "res")
    run_id, log_path = out["runs"][0]["run_id"], Path(out["runs"][0]["log_path"])
    _wait_metrics(run_id, log_path)
    wait_for(lambda: (log_path / "checkpoints.jsonl").exists(), timeout=400, what="first checkpoint")
    pgid = (state_dir.read_state(run_id) or {})["pgid"]
    stopped = actions.stop(run_id, grace=20)
    assert stopped.status == "stopped"
    assert procs.group_members(pgid) == []  # nothing of the job's process group is left
    if _metric_steps(log_path)[-1:] == [5]:
        pytest.skip("the run finished before the stop landed")  # the machine was fast; nothing to resume
    actions.resume(run_id)
    assert wait_status(run_id, "finished", "failed", "lost", timeout=400) == "finished", records.tail(
        state_dir.console_path(run_id)
    )
    assert sorted(set(_metric_steps(log_path))) == list(range(6))
    assert (state_dir.read_state(run_id) or {})["attempt"] == 2


def test_local_runs_outlive_a_sigkilled_launcher(backend: Backend, tmp_path: Path) -> None:
    """The app-like launcher dies with SIGKILL while 3 real math_rl runs are live: they go on."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from runner.control.launch import LaunchRequest, launch, plan\n"
        f"req = LaunchRequest('math_rl', ['max_steps=10'], name='kept', local=True, smoke=True,"
        f" sweep=['seed=0,1,2'], cwd=Path({str(tmp_path)!r}))\n"
        "print(' '.join(launch(req, plan(req))), flush=True)\n"
        "time.sleep(900)\n"
    )
    launcher = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert launcher.stdout is not None
        ids = launcher.stdout.readline().split()
        assert len(ids) == 3
        logs = {r: Path((state_dir.read_state(r) or {})["log_path"]) for r in ids}
        for run_id in ids:
            _wait_metrics(run_id, logs[run_id])
    finally:
        launcher.kill()  # SIGKILL: no cleanup of any kind in the launcher
        launcher.wait()
    for run_id in ids:
        assert records.effective_status(state_dir.read_state(run_id) or {}) in ("running", "finished")
    for run_id in ids:
        assert wait_status(run_id, "finished", "failed", "lost", timeout=600) == "finished", records.tail(
            state_dir.console_path(run_id)
        )
        assert _metric_steps(logs[run_id]) == list(range(10))  # every step, in order, none lost


def test_secrets_stay_out_of_everything_we_write(backend: Backend, tmp_path: Path) -> None:
    """A real recipe run with a random Tinker key in the environment and a W&B key in .env."""
    import os
    import secrets

    tinker_key = "tml-" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(40))
    wandb_key = secrets.token_hex(20)
    (tmp_path / ".env").write_text(f"WANDB_API_KEY={wandb_key}\n")
    env = os.environ | {"TINKER_API_KEY": tinker_key}
    done = run_launch(tmp_path, "math_rl", "--local", "--smoke", "--name", "sec", env=env)
    run_id = json.loads(done.stdout)["ids"][0]
    assert wait_status(run_id, "finished", "failed", "lost", timeout=400) == "finished"
    listing = subprocess.run(
        [sys.executable, "-m", "runner.cli", "runs", "--json"], env=env, capture_output=True, text=True
    )
    for text in (done.stdout, done.stderr, listing.stdout):
        assert tinker_key not in text and wandb_key not in text
    hits = [
        str(p)
        for root in (tmp_path, backend.home)
        for p in root.rglob("*")
        if p.is_file()
        and p.name != ".env"
        and (tinker_key.encode() in p.read_bytes() or wandb_key.encode() in p.read_bytes())
    ]
    assert hits == []
    assert list((tmp_path / "notes" / "experiments").glob("*-sec.md"))
