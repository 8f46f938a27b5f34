"""One command line: every command has ``--json`` (one strict JSON value per line, NaN as ``"NaN"``),
usage errors exit 2 and failures exit 1, both on stderr as ``tinkertop: ...``.

Everything runs through the installed entry point, on real self-test runs (``launch_job``) in a
temporary ``TINKERTOP_HOME`` with a fake key.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runner.control import actions
from runner.control.testing import SELFTEST_JOB, launch_job, steps, wait_for, wait_status

TINKERTOP = str(Path(sys.executable).parent / "tinkertop")
LONG = ("steps=100000", "step_seconds=0.05")
NAN_METRICS = '{"step": 0, "loss": 1.0}\n{"step": 1, "loss": NaN}\n'


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINKER_API_KEY", "tml-" + "x" * 40)
    cwd = tmp_path / "work"
    nan_run = cwd / "results" / "logs" / "nanrun"
    nan_run.mkdir(parents=True)
    (nan_run / "metrics.jsonl").write_text(NAN_METRICS)
    monkeypatch.chdir(cwd)
    return cwd


def tinkertop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TINKERTOP, *args], capture_output=True, text=True, timeout=300)


def _strict(token: str) -> Any:
    raise ValueError(f"bare {token} is not JSON")


def json_lines(out: str) -> list[Any]:
    """Every line one strict JSON value (a bare NaN/Infinity token fails)."""
    lines = out.splitlines()
    assert lines, "no output"
    return [json.loads(line, parse_constant=_strict) for line in lines]


def _finished(work: Path, name: str) -> str:
    run_id = launch_job(work, "steps=2", name=name)
    assert wait_status(run_id, "finished", "failed") == "finished"
    return name


def _running(work: Path, name: str) -> str:
    run_id = launch_job(work, *LONG, name=name)
    wait_status(run_id, "running")
    wait_for(lambda: steps(run_id), what=f"{name} first metrics")
    return name


@dataclass
class Case:
    argv: list[str]
    setup: Callable[[Path], Any] | None = None
    code: int = 0
    nan: bool = False  # a NaN must show, written as "NaN"
    cleanup: list[str] = field(default_factory=list)  # runs to stop afterwards


JSON_CASES = {
    "ls": Case(["ls", "--json"], nan=True),
    "show": Case(["show", "results/logs/nanrun", "--json"], nan=True),
    "alerts": Case(["alerts", "--json"], nan=True),
    "alerts-explain": Case(["alerts", "--explain", "--json"]),
    "launch-dry-run": Case(["launch", SELFTEST_JOB, "learning_rate=nan", "--dry-run", "--json"], nan=True),
    "launch": Case(["launch", SELFTEST_JOB, *LONG, "--name", "started", "--json"], cleanup=["started"]),
    "launch-list": Case(["launch", "--list", "--json"]),
    "queue": Case(["queue", "--json"]),
    "queue-run": Case(["queue", "run", "--json"]),
    "runs": Case(["runs", "--json"], setup=lambda w: _finished(w, "done")),
    "clone": Case(["clone", "done", "--json"], setup=lambda w: _finished(w, "done")),
    "stop": Case(["stop", "live", "--json"], setup=lambda w: _running(w, "live")),
    "resume": Case(["resume", "done", "--json"], setup=lambda w: _finished(w, "done"), cleanup=["done"]),
    "rm": Case(["rm", "done", "--yes-delete", "done", "--json"], setup=lambda w: _finished(w, "done")),
    "backend-status": Case(["backend", "status", "--json"], code=3),
    "backend-stop": Case(["backend", "stop", "--json"]),
}


@pytest.mark.parametrize("case", JSON_CASES.values(), ids=JSON_CASES.keys())
def test_every_command_writes_json_lines(work: Path, case: Case) -> None:
    if case.setup:
        case.setup(work)
    try:
        done = tinkertop(*case.argv)
    finally:
        for name in case.cleanup:
            actions.stop(name, grace=5)
    assert done.returncode == case.code, done.stdout + done.stderr
    rows = json_lines(done.stdout)
    assert all(isinstance(r, dict | list) for r in rows)
    if case.nan:
        assert '"NaN"' in done.stdout, done.stdout


def test_watch_writes_json_lines_and_stops_on_ctrl_c(work: Path) -> None:
    proc = subprocess.Popen([TINKERTOP, "watch", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the NaN run's alert, printed once at start
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    rows = json_lines(first + out)
    assert rows[0]["rule"] == "non_finite" and '"NaN"' in first


# argv, setup, expected exit code, a fragment of the one-line message on stderr
ERROR_CASES = {
    "unknown-option": (["ls", "--bogus"], None, 2, "unrecognized arguments"),
    "missing-path": (["show", "no/such/run", "--json"], None, 2, "no such file"),
    "alerts-missing-path": (["alerts", "no/such", "--json"], None, 2, "no such file"),
    "launch-no-recipe": (["launch", "--json"], None, 2, "needs a RECIPE"),
    "launch-typo": (["launch", SELFTEST_JOB, "stepz=3", "--json"], None, 2, "stepz"),
    "stop-unknown": (["stop", "nobody", "--json"], None, 2, "no run named"),
    "resume-unknown": (["resume", "nobody", "--json"], None, 2, "no run named"),
    "clone-unknown": (["clone", "nobody", "--json"], None, 2, "no run named"),
    "rm-unconfirmed": (["rm", "done", "--json"], lambda w: _finished(w, "done"), 2, "--yes-delete done"),
    "rm-wrong-name": (["rm", "done", "--yes-delete", "other"], lambda w: _finished(w, "done"), 2, "confirm"),
    "queue-max-zero": (["queue", "--max", "0", "--json"], None, 2, "at least 1"),
    "backend-env-none": (["backend", "env", "--json"], None, 1, "no backend runs"),
    "backend-start-fails": (["backend", "start", "--model", "no/such/model", "--json"], None, 1, ""),
    "stop-unstoppable": (
        ["stop", "stubborn", "--grace", "0", "--json"],
        lambda w: _stubborn(w),
        1,
        "could not stop stubborn",
    ),
}


def _stubborn(work: Path) -> str:
    """A run whose supervisor ignores SIGTERM for the moment (stopped: SIGSTOP), so the stop cannot end."""
    from runner.control import state_dir

    run_id = launch_job(work, *LONG, name="stubborn")
    wait_status(run_id, "running")
    state = state_dir.read_state(run_id) or {}
    os.kill(int(state["supervisor_pid"]), signal.SIGSTOP)
    return run_id


@pytest.mark.parametrize("argv,setup,code,fragment", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_usage_errors_exit_2_and_failures_exit_1_on_stderr(
    work: Path, argv: list[str], setup: Callable[[Path], Any] | None, code: int, fragment: str
) -> None:
    made = setup(work) if setup else None
    try:
        done = tinkertop(*argv)
    finally:
        if argv[0] == "stop" and made:
            _release_stubborn(made)
    assert done.returncode == code, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith(("tinkertop: ", "usage: tinkertop")), done.stderr
    assert fragment in done.stderr


def _release_stubborn(run_id: str) -> None:
    from runner.control import state_dir

    state = state_dir.read_state(run_id) or {}
    os.kill(int(state["supervisor_pid"]), signal.SIGCONT)
    actions.stop(run_id, grace=5)


def test_an_os_error_is_one_line_and_exit_1(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_HOME", "/proc/tinkertop-home")  # not writable, even for root
    done = tinkertop("queue", "--max", "2", "--json")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("tinkertop: queue failed:") and len(done.stderr.splitlines()) == 1


def test_no_command_is_a_usage_error_on_stderr() -> None:
    done = subprocess.run([sys.executable, "-m", "runner.cli"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == "" and "COMMAND" in done.stderr


@pytest.mark.parametrize(
    "argv", [["ls"], ["show", "results/logs/nanrun"], ["alerts"]], ids=["ls", "show", "alerts"]
)
def test_text_output_writes_nan_as_json_does(work: Path, argv: list[str]) -> None:
    done = tinkertop(*argv)
    assert done.returncode == 0, done.stderr
    words = done.stdout.split()
    assert "NaN" in " ".join(words) and "nan" not in words


def test_a_launch_whose_supervisor_cannot_start_exits_1(work: Path) -> None:
    """A real failure: a ``runner`` package in the working folder shadows ours for ``python -m``, so the
    supervisor process dies at import (the CLI, started from its script, is not affected)."""
    (work / "runner").mkdir()
    (work / "runner" / "__init__.py").write_text("raise SystemExit(3)\n")
    done = tinkertop("launch", SELFTEST_JOB, "--name", "doomed", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    assert json_lines(done.stdout)[0]["runs"][0]["name"] == "doomed"  # what was tried, as JSON
    assert done.stderr.startswith("tinkertop: doomed: could not start: supervisor of")
