"""tinkertop experiment / check end to end on the embedded backend: RL (accuracy) and SFT (NLL), resume
without retraining, and check failing precisely on damaged copies."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from runner.control.testing import wait_for
from runner.demo import write_sft_data
from tests.e2e.conftest import Backend, run_python, start_python

pytestmark = pytest.mark.e2e

RL_ARGS = ["math_rl", "--local", "--smoke", "--eval-set", "arithmetic", "--max-examples", "6"]
RL_ARGS += ["--max-tokens", "6", "--name", "exp-rl"]


def _cli(backend: Backend, cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return run_python(backend, "runner.cli", *args, cwd=cwd, timeout=timeout)


def _state(out: Path) -> dict:
    try:
        return json.loads((out / "experiment_state.json").read_text())
    except (OSError, ValueError):
        return {}


def _runs(backend: Backend, cwd: Path) -> list[dict]:
    done = _cli(backend, cwd, "runs", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    return data if isinstance(data, list) else data.get("runs", [])


def _damaged_copy(src: Path, dst: Path, edit) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    edit(dst)
    return dst


def test_rl_experiment_resumes_without_retraining_and_checks(backend: Backend, tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = start_python(backend, "runner.cli", "experiment", *RL_ARGS, cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: "train" in _state(out).get("done", {}) or proc.poll() is not None, timeout=500)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)  # the pipeline dies after training: stage 3 never completes
        _, err = proc.communicate()
    state = _state(out)
    assert "train" in state["done"], err[-3000:]
    log_path = Path(state["plan"]["log_path"])
    checkpoints = (log_path / "checkpoints.jsonl").read_text()
    runs_before = _runs(backend, tmp_path)

    done = _cli(backend, tmp_path, "experiment", *RL_ARGS, "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "train: done already" in done.stderr
    assert _state(out)["run_id"] == state["run_id"]
    assert len(_runs(backend, tmp_path)) == len(runs_before)  # no second training run
    assert (log_path / "checkpoints.jsonl").read_text() == checkpoints
    summary = json.loads(done.stdout)["summary"]
    assert summary["task_type"] == "rl" and summary["n"] == 6
    assert 0.0 <= summary["baseline_score"] <= 1.0 and 0.0 <= summary["trained_score"] <= 1.0
    assert summary["tinker_run_id"] and summary["wandb_url"] is None
    base = [json.loads(x) for x in (out / "base_model.jsonl").read_text().splitlines()]
    assert [r["index"] for r in base] == list(range(6))
    assert set(base[0]) == {"index", "question", "ground_truth", "completion", "extracted_answer", "correct"}
    record = next((tmp_path / "notes" / "experiments").glob("*-exp-rl.md")).read_text()
    assert "## Experiment results" in record and "accuracy: base" in record

    ok = _cli(backend, tmp_path, "check", str(out))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok   launch" in ok.stdout and "ok   final checkpoint" in ok.stdout

    def drop_delta(folder: Path) -> None:
        data = json.loads((folder / "summary.json").read_text())
        del data["delta"]
        (folder / "summary.json").write_text(json.dumps(data))

    bad = _cli(backend, tmp_path, "check", str(_damaged_copy(out, tmp_path / "bad", drop_delta)))
    assert bad.returncode == 1
    assert "summary.json: field 'delta' missing" in bad.stdout


def test_sft_experiment_nll_before_after_and_check(backend: Backend, tmp_path: Path) -> None:
    train = write_sft_data(tmp_path / "data" / "train.jsonl", n=64, seed=1)
    held = write_sft_data(tmp_path / "data" / "held.jsonl", n=6, seed=2)
    out = tmp_path / "results"
    args = ["chat_sl", f"dataset={train}", "--local", "--smoke", "--eval-set", str(held), "--name", "exp-sft"]
    done = _cli(backend, tmp_path, "experiment", *args, "--max-tokens", "8", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)["summary"]
    assert summary["task_type"] == "sft" and summary["n"] == 6
    assert summary["baseline_nll"] > 0 and summary["trained_nll"] > 0
    assert summary["delta"] == pytest.approx(summary["trained_nll"] - summary["baseline_nll"])
    rows = [json.loads(x) for x in (out / "trained_model.jsonl").read_text().splitlines()]
    assert set(rows[0]) == {"index", "prompt", "completion", "nll"}

    ok = _cli(backend, tmp_path, "check", str(out), "--json")
    assert ok.returncode == 0, ok.stdout
    assert json.loads(ok.stdout)["complete"] is True

    def break_row(folder: Path) -> None:
        path = folder / "trained_model.jsonl"
        lines = path.read_text().splitlines()
        row = json.loads(lines[2])
        row["nll"] = "low"
        lines[2] = json.dumps(row)
        path.write_text("\n".join(lines) + "\n")

    bad = _cli(backend, tmp_path, "check", str(_damaged_copy(out, tmp_path / "bad", break_row)))
    assert bad.returncode == 1
    assert "trained_model.jsonl:3: field 'nll' is 'low', expected float or int" in bad.stdout
