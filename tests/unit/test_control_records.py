"""Records, /proc facts, redaction and import cost of the control package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.control import catalogue, creds, procs, records, state_dir
from tests.probes import modules_after


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    return tmp_path


def test_start_time_reads_field_22_even_with_odd_command_names(tmp_path: Path) -> None:
    odd = tmp_path / "a b) c"
    odd.symlink_to(sys.executable)
    child = subprocess.Popen([str(odd), "-c", "import time; time.sleep(30)"])
    try:
        started = procs.start_time(child.pid)
        assert started is not None and procs.alive(child.pid, started)
        assert not procs.alive(child.pid, started + 1)
        assert child.pid in procs.group_members(os.getpgid(child.pid))
    finally:
        child.kill()
        child.wait()
    assert procs.start_time(child.pid) is None or not procs.alive(child.pid, started)


def test_status_for_ignores_foreign_folders_and_reads_records(home: Path) -> None:
    folder = home / "results" / "logs" / "r1"
    folder.mkdir(parents=True)
    assert records.status_for(folder) is None
    run_id = state_dir.run_id_for(folder)
    state_dir.write_state(run_id, {"run_id": run_id, "name": "r1", "status": "failed", "exit_code": 3})
    state_dir.console_path(run_id).write_text(
        "line1\n\rprogress\nTraceback\n[\x1b[91mERROR\x1b[0m] ValueError: bad\n"
    )
    info = records.status_for(folder)
    assert info is not None and info["status"] == "failed" and info["exit_code"] == 3
    assert info["console_tail"][-1] == "[ERROR] ValueError: bad"  # colour codes stripped
    assert records.status_for(str(folder) + "/") == info  # same folder, same record
    assert state_dir.resolve("r1") == run_id and state_dir.resolve(str(folder)) == run_id


def test_claimed_run_without_supervisor_becomes_lost(home: Path) -> None:
    run_id = "x-1"
    state_dir.write_state(run_id, {"run_id": run_id, "status": "starting", "claimed_ts": 0})
    assert records.effective_status(state_dir.read_state(run_id) or {}) == "lost"


def test_redaction_masks_keys_but_keeps_commits() -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    fake = "tml-" + "FAKE" * 5  # built here: no key-shaped literal in the tree
    text = f"TINKER_API_KEY={fake} WANDB_API_KEY={commit}\ncommit {commit}"  # the commit on its own line
    out = creds.redact(text)
    assert fake not in out and out.count(commit) == 1 and "WANDB_API_KEY=***" in out
    assert creds.redact("value s3cretvalue here", ["s3cretvalue"]) == "value *** here"
    assert creds.looks_secret(fake) and not creds.looks_secret("Qwen/Qwen3-8B")


def test_dotenv_never_overrides_the_real_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A_NAME=from_file\nB_NAME=only_file\n")
    env = creds.job_environment(tmp_path, base={"A_NAME": "real"})
    assert env["A_NAME"] == "real" and env["B_NAME"] == "only_file"
    check = creds.check({}, local=False, wandb_project="p")
    assert check.missing == ["TINKER_API_KEY", "WANDB_API_KEY"]
    assert creds.check({}, local=True, wandb_project=None).ok


def test_catalogue_resolves_recipes_modules_and_scripts(tmp_path: Path) -> None:
    target = catalogue.resolve_target("math_rl")
    assert target.module == "tinker_cookbook.recipes.math_rl.train" and target.entry is not None
    assert catalogue.resolve_target("tinker_cookbook.recipes.chat_sl.train").entry is not None
    script = tmp_path / "mine.py"
    script.write_text("")
    assert catalogue.resolve_target("mine.py", tmp_path).script == str(script)
    with pytest.raises(catalogue.UnknownRecipe):
        catalogue.resolve_target("nope_recipe")
    for recipe in catalogue.RECIPES:  # every module in the table exists in the installed cookbook
        import importlib.util

        assert importlib.util.find_spec(recipe.module) is not None, recipe.module


def test_registration_and_records_import_nothing_heavy() -> None:
    mods = modules_after(
        "import argparse\nimport runner.control.cli as c, runner.control.records\n"
        "c.register(argparse.ArgumentParser().add_subparsers())"
    )
    assert "runner" in mods  # the probe works
    assert not mods & {"torch", "tinker", "tinker_cookbook", "pandas", "transformers", "textual", "chz"}


def test_model_lineup_comes_from_the_cookbook() -> None:
    lineup = {m.name: m for m in catalogue.models()}
    assert lineup["meta-llama/Llama-3.2-1B"].kind == "base"
    assert lineup["meta-llama/Llama-3.2-1B"].renderer == "role_colon"
    assert lineup["Qwen/Qwen3-8B"].kind == "hybrid"
    assert lineup["Qwen/Qwen3-4B-Instruct-2507"].kind == "instruct"
    assert lineup["Qwen/Qwen3-VL-30B-A3B-Instruct"].vision
    assert catalogue.recommended_renderer("Qwen/Qwen3-8B") == "qwen3"
    assert catalogue.recommended_renderer("/some/local/dir") is None


def test_state_machine_refuses_illegal_transitions(home: Path) -> None:
    state_dir.write_state("t-1", {"run_id": "t-1", "status": "finished"})
    with pytest.raises(state_dir.IllegalTransition):
        state_dir.update_state("t-1", status="running")
    assert state_dir.update_state("t-1", status="starting")["status"] == "starting"  # resume
    state_dir.update_state("t-1", status="running")
    with pytest.raises(state_dir.IllegalTransition):
        state_dir.update_state("t-1", status="queued")
