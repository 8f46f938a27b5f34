"""``api.start_experiment`` / ``api.validate`` for an experiment form: real ``tinkertop experiment``
subprocesses. The eval sets fail the pipeline's plan stage, so no backend starts and nothing trains."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner import api
from runner.api import LaunchForm

KEY = "tml-" + "s" * 40  # a fake hosted key: it must never reach the log
EXIT_TIMEOUT = 120.0


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINKER_API_KEY", KEY)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def _bad_eval_set(folder: Path) -> Path:
    path = folder / "held.jsonl"
    path.write_text('{"question": "1+1", "answer": "2"}\nnot json\n')
    return path


def _wait_exit(started: api.ExperimentStarted) -> int:
    end = time.monotonic() + EXIT_TIMEOUT
    while time.monotonic() < end:
        code = api.experiment_exit(started)
        if code is not None:
            return code
        time.sleep(0.05)
    raise AssertionError(f"experiment pid {started.pid} still running after {EXIT_TIMEOUT}s")


def test_experiment_args_are_the_clis() -> None:
    form = LaunchForm(
        recipe="math_rl",
        learning_rate="1e-4",
        local=True,
        smoke=True,
        name="exp1",
        overrides="lora_rank=4",
        experiment=True,
        eval_set="arithmetic",
        max_examples="20",
    )
    assert form.experiment_args() == [
        "experiment",
        "math_rl",
        "learning_rate=1e-4",
        "lora_rank=4",
        "--eval-set",
        "arithmetic",
        "--max-examples",
        "20",
        "--local",
        "--smoke",
        "--name",
        "exp1",
        "--out",
        "results",
    ]
    assert (
        LaunchForm("math_rl", experiment=True, eval_set="x", results_dir="r2").experiment_args()[-1] == "r2"
    )


@pytest.mark.parametrize(
    ("form", "why"),
    [
        (LaunchForm("math_rl", experiment=True), "needs an eval set"),
        (LaunchForm("math_rl", experiment=True, eval_set="arithmetic", sweep="lora_rank=4,8"), "no sweep"),
        (LaunchForm("", experiment=True, eval_set="arithmetic"), "needs a RECIPE"),
    ],
)
def test_an_incomplete_experiment_form_is_refused_before_any_process(
    ws: Path, form: LaunchForm, why: str
) -> None:
    got = api.validate(form, ws)
    assert not got.ok and why in got.error
    with pytest.raises(ValueError, match=why):
        api.start_experiment(form, ws)
    assert not (ws / "results").exists()


def test_validate_names_the_bad_eval_set_file_and_line(ws: Path) -> None:
    bad = _bad_eval_set(ws)
    got = api.validate(LaunchForm("math_rl", experiment=True, eval_set=str(bad), smoke=True), ws)
    assert not got.ok and got.exit_code == 2
    assert f"{bad}:2: not JSON" in got.error and "stage plan failed" in got.error
    assert not (ws / "results" / "experiment_state.json").exists()


def test_validate_plans_the_run_and_saves_nothing(ws: Path) -> None:
    form = LaunchForm("math_rl", smoke=True, name="exp-ok", experiment=True, eval_set="arithmetic")
    got = api.validate(form, ws)
    assert got.ok, got.error
    (run,) = got.runs
    results = (ws / "results").resolve()
    assert run.name == "exp-ok" and run.log_path == str(results / "logs" / "exp-ok")
    assert run.config["lora_rank"] == 4  # the smoke sizes, resolved by the launcher's dry run
    assert run.notes[0].startswith("experiment (rl): base eval on arithmetic")
    assert not (results / "experiment_state.json").exists() and not (results / "experiment.log").exists()


def test_start_experiment_detaches_and_logs_the_pipelines_message(ws: Path) -> None:
    bad = _bad_eval_set(ws)
    form = LaunchForm("math_rl", smoke=True, experiment=True, eval_set=str(bad), results_dir="out1")
    started = api.start_experiment(form, ws)
    assert os.getsid(started.pid) == started.pid  # its own session: the app's hang-up never reaches it
    assert started.results == (ws / "out1").resolve() and started.log == started.results / "experiment.log"
    assert _wait_exit(started) == 2  # the CLI's exit for a failed plan stage
    log = started.log.read_text()
    assert log.startswith("$ tinkertop experiment math_rl --eval-set ")
    assert f"stage plan failed: EvalSetError: {bad}:2: not JSON" in log
    assert "rerun the same command to resume" in log
    assert KEY not in log


def test_the_experiment_outlives_the_process_that_started_it(ws: Path) -> None:
    """The starter exits at once (as the app quitting); the experiment still runs to its message."""
    bad = _bad_eval_set(ws)
    code = (
        "import sys; from pathlib import Path; from runner import api\n"
        f"s = api.start_experiment(api.LaunchForm('math_rl', experiment=True, eval_set={str(bad)!r}), Path.cwd())\n"
        "print(s.pid, flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ws, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    log = ws / "results" / "experiment.log"
    end = time.monotonic() + EXIT_TIMEOUT
    while "stage plan failed" not in log.read_text() and time.monotonic() < end:
        time.sleep(0.05)
    assert f"{bad}:2: not JSON" in log.read_text()
