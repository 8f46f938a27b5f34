"""The demo's headless launcher: run set, free names, generated data, launch through the runner, stop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner import demo
from runner.control import selftest_job
from runner.control.testing import wait_for


def test_specs_take_free_names_and_never_use_wandb(tmp_path: Path) -> None:
    (tmp_path / "rl-lr2e-3").mkdir()
    (tmp_path / "rl-lr2e-3-2").mkdir()
    specs = demo.demo_specs(tmp_path, "/models/tiny", "qwen3_disable_thinking")
    names = [s.name for s in specs]
    assert names == ["rl-lr2e-3-3", "rl-lr5e-3", "rl-lr1e-1", "sft-arith-chat"]
    for spec in specs:
        keys = {o.split("=", 1)[0] for o in spec.overrides}
        assert "wandb_project" not in keys
        assert {"model_name", "renderer_name", "log_path"} <= keys
        assert "behavior_if_log_dir_exists" not in keys  # the supervisor passes it
        assert spec.local
        assert f"log_path={tmp_path.resolve() / spec.name}" in spec.overrides
    lrs = [o for s in specs[:3] for o in s.overrides if o.startswith("learning_rate=")]
    assert len(set(lrs)) == 3


def test_a_name_whose_folder_was_deleted_by_hand_but_whose_record_stays_is_not_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``rm -rf results/demo`` then ``make run``: the runner still holds the old runs' records, and a
    launch onto a recorded folder is refused ("a run record ... already exists"); the demo moves on."""
    from runner.control import state_dir

    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    workspace = tmp_path / "logs"
    workspace.mkdir()
    state_dir.record_dir(state_dir.run_id_for(workspace.resolve() / "rl-lr2e-3")).mkdir(parents=True)
    names = [s.name for s in demo.demo_specs(workspace, "/models/tiny", "qwen3_disable_thinking")]
    assert names == ["rl-lr2e-3-2", "rl-lr5e-3", "rl-lr1e-1", "sft-arith-chat"]


def test_sft_data_is_cookbook_conversations(tmp_path: Path) -> None:
    from tinker_cookbook.supervised.data import conversation_to_datum  # noqa: F401  (format owner)

    path = demo.write_sft_data(demo.sft_data_path(tmp_path / "logs"), n=20)
    assert path.parent == (tmp_path / "data").resolve()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == 20
    for row in rows:
        roles = [m["role"] for m in row["messages"]]
        assert roles == ["user", "assistant"]
        assert row["messages"][0]["content"].startswith("What is ")


def test_launch_through_the_runner_and_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's launch path, real: the runner's launcher, a detached supervisor, a chz job (the
    runner's self-test script stands in for a recipe: hosted mode, so no backend is needed)."""
    from runner.control import procs, state_dir

    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINKER_API_KEY", "tml-" + "k" * 40)
    job = Path(selftest_job.__file__)
    workspace = tmp_path / "demo" / "logs"
    runs = [
        demo.DemoRun(
            n, str(job), ("steps=100000", "step_seconds=0.1", f"log_path={workspace / n}"), n, local=False
        )
        for n in ("a", "b")
    ]
    started = demo.launch_all(runs, workspace, demo.run_env())
    assert [r.name for r in started] == ["a", "b"]
    assert [r.run_id for r in demo.read_record()] == [r.run_id for r in started]
    for run in started:
        assert run.path == str((workspace / run.name).resolve())
        wait_for(lambda r=run: demo.status(r) == "running" and (Path(r.path) / "metrics.jsonl").exists())
    states = [state_dir.read_state(r.run_id) or {} for r in started]
    stopped = demo.stop_demo()
    assert sorted(r.name for r in stopped) == ["a", "b"]
    assert [demo.status(r) for r in started] == ["stopped", "stopped"]
    assert all(not procs.group_members(s["pgid"]) for s in states)  # nobody left in the job's group
    assert demo.read_record() == []
    # the job saw the demo's environment (no W&B), and the console log lives in the runner record
    assert all(state_dir.console_path(r.run_id).exists() for r in started)
    assert not any((Path(r.path) / "console.log").exists() for r in started)
    # the experiment records go beside the demo workspace, not into the project's notes/
    assert len(list((tmp_path / "demo" / "notes" / "experiments").glob("*.md"))) == 2


def test_a_typo_in_one_run_names_it_and_starts_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINKER_API_KEY", "tml-" + "k" * 40)
    job = str(Path(selftest_job.__file__))
    workspace = tmp_path / "ws" / "logs"
    good = demo.DemoRun("good", job, ("steps=100000", f"log_path={workspace / 'good'}"), "", local=False)
    bad = demo.DemoRun("bad", job, ("stepz=3", f"log_path={workspace / 'bad'}"), "", local=False)
    with pytest.raises(demo.DemoError, match="bad: .*stepz"):
        demo.launch_all([good, bad], workspace, demo.run_env())
    assert demo.read_record() == []
    # validated before anything starts: no folder, no runner record, for either run
    assert not (workspace / "good").exists() and not (workspace / "bad").exists()
    assert not list((tmp_path / "home" / "runs").glob("*"))
