"""Launch planning, validation, queue, credentials and secrets, with real processes and files."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from runner.control import actions, gitinfo, queue, state_dir
from runner.control.launch import (
    LaunchError,
    LaunchRequest,
    PlannedRun,
    expand_sweep,
    plan,
    release,
    write_records,
)
from runner.control.testing import SELFTEST_JOB, launch_job, wait_status

CLI = [sys.executable, "-m", "runner.cli"]


def _records() -> list[str]:
    return sorted(p.name for p in state_dir.runs_root().iterdir())


def test_typo_fails_before_any_process_names_the_key(work: Path) -> None:
    req = LaunchRequest(SELFTEST_JOB, ["stepz=3"], cwd=work)
    with pytest.raises(LaunchError, match="stepz"):
        plan(req)
    assert _records() == []
    done = subprocess.run(
        [*CLI, "launch", SELFTEST_JOB, "steps=2", "stepz=3"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "stepz" in done.stderr and "Did you mean 'steps'" in done.stderr
    logs = work / "results" / "logs"
    assert _records() == [] and (not logs.exists() or not list(logs.iterdir()))


def test_bad_value_type_is_refused(work: Path) -> None:
    with pytest.raises(LaunchError):
        plan(LaunchRequest(SELFTEST_JOB, ["steps=many"], cwd=work))
    assert _records() == []


def test_sweep_is_a_cartesian_product_with_unique_names(work: Path) -> None:
    assert expand_sweep(["a=1,2", "b=x,y,z"]) == [
        [f"a={a}", f"b={b}"] for a in ("1", "2") for b in ("x", "y", "z")
    ]
    runs = plan(
        LaunchRequest(
            SELFTEST_JOB, ["steps=2"], name="sw", sweep=["steps=1,2", "step_seconds=0,0.01"], cwd=work
        )
    )
    names = [r.name for r in runs]
    assert len(runs) == 4 and len(set(names)) == 4
    assert {r.config["steps"] for r in runs} == {1, 2}
    # a second plan with the same names gets suffixes: names never collide
    again = plan(LaunchRequest(SELFTEST_JOB, [], name="sw-steps1-step_seconds0", cwd=work))
    assert again[0].name == "sw-steps1-step_seconds0-2"


def test_name_collision_with_an_existing_folder_gets_a_suffix(work: Path) -> None:
    (work / "results" / "logs" / "taken").mkdir(parents=True)
    runs = plan(LaunchRequest(SELFTEST_JOB, [], name="taken", cwd=work))
    assert runs[0].name == "taken-2"


def test_dry_run_starts_nothing(work: Path) -> None:
    done = subprocess.run(
        [*CLI, "launch", SELFTEST_JOB, "steps=3", "--dry-run", "--json"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert '"steps": 3' in done.stdout
    assert _records() == [] and not (work / "notes").exists()


def test_hosted_launch_names_missing_credentials(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TINKER_API_KEY")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    with pytest.raises(LaunchError, match="TINKER_API_KEY"):
        plan(LaunchRequest(SELFTEST_JOB, [], cwd=work))
    monkeypatch.setenv("TINKER_API_KEY", "tml-" + "y" * 40)
    with pytest.raises(LaunchError, match="WANDB_API_KEY"):
        plan(LaunchRequest(SELFTEST_JOB, ["wandb_project=proj"], cwd=work))
    assert _records() == []
    done = subprocess.run([*CLI, "launch", SELFTEST_JOB, "wandb_project=p"], capture_output=True, text=True)
    assert done.returncode == 2 and "WANDB_API_KEY" in done.stderr


def test_secrets_are_never_written(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tinker_key = "tml-" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(40))
    wandb_key = secrets.token_hex(20)
    monkeypatch.setenv("TINKER_API_KEY", tinker_key)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    (work / ".env").write_text(f"WANDB_API_KEY={wandb_key}\n")
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    env = os.environ | {"WANDB_MODE": "disabled"}
    done = subprocess.run(
        [
            *CLI,
            "launch",
            SELFTEST_JOB,
            "steps=3",
            "wandb_project=proj",
            "require_env=TINKER_API_KEY,WANDB_API_KEY",
            "--name",
            "secret",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    run_id = state_dir.resolve("secret")
    assert run_id and wait_status(run_id, "finished", "failed") == "finished"
    assert tinker_key not in done.stdout + done.stderr and wandb_key not in done.stdout + done.stderr
    roots = [work, Path(os.environ["TINKERTOP_HOME"])]
    hits = [
        str(p)
        for root in roots
        for p in root.rglob("*")
        if p.is_file()
        and p.name != ".env"
        and ".git" not in p.parts
        and (tinker_key.encode() in p.read_bytes() or wandb_key.encode() in p.read_bytes())
    ]
    assert hits == []
    assert (work / "notes" / "experiments").is_dir()  # the search covered the notes


def test_queue_race_starts_each_run_exactly_once(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = work / "starts.txt"
    monkeypatch.setenv("TINKERTOP_MAX_PARALLEL", "3")
    ids = []
    for i in range(8):
        req = LaunchRequest(
            SELFTEST_JOB,
            ["steps=3", "step_seconds=0.05", f"marker={marker}"],
            name=f"q{i}",
            cwd=work,
            queue=True,
        )
        run = plan(req)[0]
        write_records(req, run, gitinfo.code_state(work), [])
        ids.append(run.run_id)  # queued, not drained: the two racers below do the starting
    racer = textwrap.dedent(
        """
        import time
        from runner.control import queue
        for _ in range(200):
            queue.drain()
            time.sleep(0.02)
        """
    )
    racers = [subprocess.Popen([sys.executable, "-c", racer]) for _ in range(2)]
    try:
        for run_id in ids:
            assert wait_status(run_id, "finished", "failed", timeout=90) == "finished"
    finally:
        for p in racers:
            p.kill()
            p.wait()
    starts = marker.read_text().splitlines()
    assert len(starts) == 8
    assert sorted(line.split()[1] for line in starts) == sorted(
        (state_dir.read_state(r) or {})["log_path"] for r in ids
    )


def test_queue_respects_the_limit(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_MAX_PARALLEL", "1")
    first = launch_job(work, "steps=100000", name="hold", queue=True)
    second = launch_job(work, "steps=2", name="wait", queue=True)
    wait_status(first, "running")
    assert queue.drain() == [] and state_dir.read_state(second)["status"] == "queued"
    rows = queue.listing()
    assert [r["name"] for r in rows if r["position"]] == ["wait"]
    actions.stop("hold", grace=2)  # its supervisor starts the next queued run as it ends
    assert wait_status(second, "finished", "failed") == "finished"


def test_rm_needs_the_typed_name_and_refuses_live_runs(work: Path) -> None:
    live = launch_job(work, "steps=100000", name="busy")
    wait_status(live, "running")
    with pytest.raises(actions.ActionError, match="stop it"):
        actions.rm("busy", "busy")
    actions.stop("busy", grace=2)
    with pytest.raises(actions.ActionError, match="--yes-delete busy"):
        actions.rm("busy", None)
    with pytest.raises(actions.ActionError):
        actions.rm("busy", "bus")
    folder = work / "results" / "logs" / "busy"
    assert folder.is_dir()
    done = subprocess.run([*CLI, "rm", str(folder), "--yes-delete", "busy"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not folder.exists() and state_dir.resolve("busy") is None


def test_clone_prints_an_editable_launch_command(work: Path) -> None:
    run_id = launch_job(work, "steps=2", name="orig")
    wait_status(run_id, "finished")
    command = actions.clone_command("orig")
    assert command.startswith("tinkertop launch ") and "steps=2" in command and "--name orig-clone" in command


def test_runs_and_queue_commands_list_records(work: Path) -> None:
    run_id = launch_job(work, "steps=1", name="listed")
    wait_status(run_id, "finished")
    out = subprocess.run([*CLI, "runs", "--json"], capture_output=True, text=True)
    assert out.returncode == 0 and '"name": "listed"' in out.stdout and '"status": "finished"' in out.stdout
    out = subprocess.run([*CLI, "queue"], capture_output=True, text=True)
    assert out.returncode == 0 and "at once" in out.stdout


def test_launch_into_an_existing_explicit_folder_is_refused(work: Path) -> None:
    (work / "mine").mkdir()
    with pytest.raises(LaunchError, match="already exists"):
        plan(LaunchRequest(SELFTEST_JOB, ["log_path=mine"], cwd=work))


def test_unknown_recipe_is_an_error(work: Path) -> None:
    with pytest.raises(LaunchError, match="unknown recipe"):
        plan(LaunchRequest("no_such_recipe", [], cwd=work))


def test_app_launch_call_reports_errors_and_runs(work: Path) -> None:
    """runner.api's launch: a serialized LaunchRequest to ``python -m runner.control.launcher``, typed
    PlannedRuns back (a real subprocess, a real supervised run)."""
    from runner.api import PlannedRun, launch_request

    bad = launch_request(LaunchRequest(SELFTEST_JOB, ["stepz=1"], cwd=work), dry_run=False)
    assert not bad.ok and bad.exit_code == 2 and "stepz" in bad.error and not bad.runs
    good = launch_request(LaunchRequest(SELFTEST_JOB, ["steps=2"], name="viaapi", cwd=work), dry_run=False)
    assert good.ok and isinstance(good.runs[0], PlannedRun), good.error
    assert good.runs[0].name == "viaapi" and good.runs[0].config["steps"] == 2
    assert wait_status(good.ids[0], "finished", "failed") == "finished"


def test_dry_run_plan_gives_its_reservations_back(work: Path) -> None:
    before = _records()
    runs = plan(LaunchRequest(SELFTEST_JOB, [], sweep=["steps=1,2"], cwd=work), dry_run=True)
    assert len(runs) == 2 and _records() == before  # no record dir left reserved
    kept = plan(LaunchRequest(SELFTEST_JOB, ["steps=2"], cwd=work))  # a real plan keeps its name
    assert _records() == sorted([*before, kept[0].run_id])
    release(kept)
    assert _records() == before


def test_dry_run_through_the_launcher_reserves_nothing(work: Path) -> None:
    from runner.api import LaunchForm, validate

    before = _records()
    result = validate(LaunchForm(SELFTEST_JOB, overrides="steps=2", name="dry"), work)
    assert result.ok and [r.name for r in result.runs] == ["dry"] and result.ids == []
    assert _records() == before


def test_launch_request_round_trips_through_json(work: Path) -> None:
    import json

    req = LaunchRequest(SELFTEST_JOB, [], name="x", sweep=["steps=1,2"], cwd=work)
    again = LaunchRequest.from_json(json.loads(json.dumps(req.to_json())))
    assert again == req and isinstance(again.cwd, Path)
    with pytest.raises(LaunchError, match="unknown field"):
        LaunchRequest.from_json({"recipe": "x", "stepz": 1})
    with pytest.raises(LaunchError, match="recipe"):
        LaunchRequest.from_json(["x"])
    planned = plan(req, dry_run=True)
    assert [PlannedRun.from_json(json.loads(json.dumps(r.to_json()))) for r in planned] == planned


def test_local_refuses_a_hub_model_name(work: Path) -> None:
    with pytest.raises(LaunchError, match="local model folders"):
        plan(LaunchRequest(SELFTEST_JOB, ["model_name=Qwen/Qwen3-8B"], local=True, cwd=work))


def test_cli_accepts_options_before_and_after_overrides(work: Path) -> None:
    done = subprocess.run(
        [
            *CLI,
            "launch",
            "--dry-run",
            SELFTEST_JOB,
            "steps=2",
            "--json",
            "--sweep",
            "step_seconds=0,1",
            "--name",
            "mix",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    import json

    runs = json.loads(done.stdout)["runs"]
    assert [r["name"] for r in runs] == ["mix-step_seconds0", "mix-step_seconds1"]
    assert {r["config"]["steps"] for r in runs} == {2} and _records() == []


def test_a_user_module_with_a_chz_entrypoint_launches(work: Path) -> None:
    run_id = launch_job_module(work)
    assert wait_status(run_id, "finished", "failed") == "finished"
    argv = (state_dir.read_state(run_id) or {})["argv"]
    assert argv[1:3] == ["-m", "runner.control.selftest_job"]


def launch_job_module(cwd: Path) -> str:
    from runner.control.launch import launch

    req = LaunchRequest("runner.control.selftest_job", ["steps=2"], name="asmodule", cwd=cwd)
    return launch(req, plan(req))[0]


def test_a_state_folder_that_is_a_file_is_an_error_not_an_endless_loop(tmp_path, monkeypatch):
    """``TINKERTOP_HOME`` pointing at a file: creating a record raised FileExistsError, which ``allocate`` read
    as "name taken" and retried for ever at 100% CPU. Now it is an error that says so."""
    import threading

    from runner.control.launch import allocate

    home = tmp_path / "state-is-a-file"
    home.write_text("")
    monkeypatch.setenv("TINKERTOP_HOME", str(home))
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(allocate("x", tmp_path / "logs", set()))
        except Exception as exc:  # noqa: BLE001 - the test reads it
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert outcome, "allocate never returned"
    assert isinstance(outcome[0], OSError), outcome[0]
    assert str(home) in str(outcome[0])
