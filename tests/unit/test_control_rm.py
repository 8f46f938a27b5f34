"""``tinkertop rm`` and run names: never delete a live run's files, never follow a symlinked folder,
and a name too long for the file system is a clear usage error (exit code 2), not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner import cli
from runner.control import actions, state_dir
from runner.control.testing import SELFTEST_JOB, launch_job, status, steps, wait_for, wait_status

LONG = ("steps=100000", "step_seconds=0.05")


def _logs(work: Path) -> Path:
    return work / "results" / "logs"


def _running(run_id: str) -> None:
    wait_status(run_id, "running")
    wait_for(lambda: steps(run_id), what=f"{run_id} first metrics")


def test_rm_refuses_a_folder_holding_a_live_run(work: Path) -> None:
    outer = launch_job(work, "steps=1", name="outer")
    assert wait_status(outer, "finished", "failed") == "finished"
    inner_dir = _logs(work) / "outer" / "inner"
    inner = launch_job(work, *LONG, f"log_path={inner_dir}")
    _running(inner)
    before = sorted(p.name for p in inner_dir.iterdir())
    with pytest.raises(actions.ActionError) as err:
        actions.rm("outer", "outer")
    assert "inner" in str(err.value) and "running" in str(err.value)
    assert sorted(p.name for p in inner_dir.iterdir()) == before  # nothing of the live run lost
    assert state_dir.read_state(outer) is not None and state_dir.read_spec(inner) is not None
    assert actions.stop("inner", grace=5).status == "stopped"
    assert actions.rm("outer", "outer").status == "deleted"
    assert not (_logs(work) / "outer").exists()


def test_rm_refuses_a_folder_inside_a_live_run(work: Path) -> None:
    outer = launch_job(work, *LONG, name="host")
    _running(outer)
    nested = launch_job(work, "steps=1", f"log_path={_logs(work) / 'host' / 'sub'}")
    assert wait_status(nested, "finished", "failed") == "finished"
    with pytest.raises(actions.ActionError) as err:
        actions.rm("sub", "sub")
    assert "host" in str(err.value)
    assert (_logs(work) / "host" / "sub" / "metrics.jsonl").exists()
    assert status(outer) == "running"
    actions.stop("host", grace=5)


def test_rm_of_a_symlinked_folder_names_the_link_and_keeps_the_target(work: Path, capsys) -> None:
    run_id = launch_job(work, "steps=2", name="linked")
    assert wait_status(run_id, "finished", "failed") == "finished"
    folder = _logs(work) / "linked"
    target = work / "elsewhere"
    folder.rename(target)
    folder.symlink_to(target)
    assert cli.main(["rm", "linked", "--yes-delete", "linked"]) == 2
    err = capsys.readouterr().err
    assert str(folder) in err and str(target) in err and "symlink" in err
    assert len(err.strip().splitlines()) == 1
    assert (target / "metrics.jsonl").exists() and folder.is_symlink()
    assert state_dir.read_state(run_id) is not None


def test_a_too_long_name_is_a_usage_error_everywhere(work: Path, capsys) -> None:
    name = "n" * 300
    assert cli.main(["launch", SELFTEST_JOB, "--name", name]) == 2
    assert cli.main(["launch", SELFTEST_JOB, f"log_path={_logs(work) / name}"]) == 2
    assert cli.main(["rm", name, "--yes-delete", name]) == 2
    assert cli.main(["clone", name]) == 2
    assert cli.main(["stop", name]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 5 and all("too long" in line and "128" in line for line in lines)
    assert not list(state_dir.runs_root().iterdir())  # nothing reserved


def test_names_with_a_slash_control_character_or_leading_dash_are_refused(work: Path, capsys) -> None:
    for bad in ("a/b", "tab\there", "-rf", ".hidden", ""):
        assert cli.main(["launch", SELFTEST_JOB, f"--name={bad}"]) == 2, bad
    assert len(capsys.readouterr().err.strip().splitlines()) == 5
    assert launch_job(work, "steps=1", name="ok_name-1.2[x]")


def test_the_longest_name_launches_and_its_clone_name_stays_valid(work: Path) -> None:
    name = "c" * state_dir.MAX_NAME
    run_id = launch_job(work, "steps=1", name=name)
    assert wait_status(run_id, "finished", "failed") == "finished"
    command = actions.clone_command(name)
    clone_name = command.split("--name ", 1)[1].split()[0]
    assert clone_name.endswith("-clone") and state_dir.name_problem(clone_name) is None
    assert actions.rm(name, name).status == "deleted"


def test_rm_refuses_a_folder_a_queued_run_will_write_into(work: Path, monkeypatch) -> None:
    monkeypatch.setenv("TINKERTOP_MAX_PARALLEL", "1")
    done = launch_job(work, "steps=1", name="base")
    assert wait_status(done, "finished", "failed") == "finished"
    holder = launch_job(work, *LONG, name="holder")
    _running(holder)
    waiting = launch_job(work, "steps=1", f"log_path={_logs(work) / 'base' / 'next'}", queue=True)
    assert status(waiting) == "queued"
    with pytest.raises(actions.ActionError, match="next"):
        actions.rm("base", "base")
    with pytest.raises(actions.ActionError, match="queued"):
        actions.rm("next", "next")
    assert (_logs(work) / "base" / "metrics.jsonl").exists()
    actions.stop("next")
    actions.stop("holder", grace=5)
