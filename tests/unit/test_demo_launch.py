"""The demo's headless launcher: run set, free names, generated data, real process stop."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from runner import demo


def test_specs_take_free_names_and_never_use_wandb(tmp_path: Path) -> None:
    (tmp_path / "rl-lr2e-3").mkdir()
    (tmp_path / "rl-lr2e-3-2").mkdir()
    specs = demo.demo_specs(tmp_path, "/models/tiny", "qwen3_disable_thinking")
    names = [s.name for s in specs]
    assert names == ["rl-lr2e-3-3", "rl-lr5e-3", "rl-lr1e-1", "sft-arith-chat"]
    for spec in specs:
        keys = {o.split("=", 1)[0] for o in spec.overrides}
        assert "wandb_project" not in keys
        assert {"model_name", "renderer_name", "log_path", "behavior_if_log_dir_exists"} <= keys
        assert f"log_path={tmp_path.resolve() / spec.name}" in spec.overrides
    lrs = [o for s in specs[:3] for o in s.overrides if o.startswith("learning_rate=")]
    assert len(set(lrs)) == 3


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


def test_launch_and_stop_a_real_process_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    script = tmp_path / "sleeper.py"
    script.write_text(
        "import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\nprint('up', flush=True)\ntime.sleep(300)\n"
    )
    run = demo.DemoRun("sleeper", "unused", (), "a stand-in job")
    # the one launch seam: a plain script instead of a cookbook module (real process, real group)
    monkeypatch.setattr(demo, "_argv", lambda r: [sys.executable, str(script)])
    started = demo.launch(run, tmp_path / "ws", dict(os.environ))
    demo._record([started])
    assert demo.is_alive(started)
    assert [r.pid for r in demo.read_record()] == [started.pid]
    stopped = demo.stop_demo()
    assert [r.pid for r in stopped] == [started.pid]
    assert not demo.is_alive(started)
    with pytest.raises(ProcessLookupError):  # nobody left in the group, grandchild included
        os.killpg(started.pid, 0)
    assert demo.read_record() == []
    assert (tmp_path / "ws" / "sleeper" / "console.log").exists()
