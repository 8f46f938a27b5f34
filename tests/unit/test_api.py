"""runner.api, the app's one engine interface: the launch form and its request, run lookups, pending runs,
the model lineup's entry point. Real files and real subprocesses; no Textual."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner.api import LaunchForm, PendingRuns, Status, form_from_spec, lookup
from runner.control import state_dir


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    return tmp_path


def test_form_args_and_spec_round_trip() -> None:
    form = LaunchForm(
        recipe="math_rl",
        model="Qwen/Qwen3-8B",
        renderer="qwen3",
        learning_rate="4e-4",
        local=False,
        smoke=True,
        queue=True,
        name="x",
        overrides="group_size=4 'wandb_name=a b'",
        sweep="seed=0,1",
    )
    assert form.args() == [
        "math_rl",
        "model_name=Qwen/Qwen3-8B",
        "renderer_name=qwen3",
        "learning_rate=4e-4",
        "group_size=4",
        "wandb_name=a b",
        "--smoke",
        "--queue",
        "--name",
        "x",
        "--sweep",
        "seed=0,1",
    ]
    spec = {"recipe": "math_rl", "name": "x-seed0", "smoke": True, "combo": ["seed=0"]}
    spec["user_overrides"] = form.override_list()
    back = form_from_spec(spec)
    assert (back.model, back.renderer, back.learning_rate) == ("Qwen/Qwen3-8B", "qwen3", "4e-4")
    assert back.overrides == "group_size=4 'wandb_name=a b' seed=0" and back.name == "x-seed0-clone"
    req = form.request(Path("/somewhere"))
    assert (req.recipe, req.name, req.queue, req.smoke) == ("math_rl", "x", True, True)
    assert req.sweep == ["seed=0,1"]
    assert req.overrides == form.override_list() and req.cwd == Path("/somewhere")
    assert LaunchForm("math_rl").request(Path(".")).name is None  # no name: the launcher picks one


def test_lookup_of_a_folder_tinkertop_did_not_launch(home: Path) -> None:
    (home / "mine").mkdir()
    ref = lookup(str(home / "mine"))
    assert ref.run_id is None and ref.status is Status.UNKNOWN and ref.name == "mine"


def _record(run_id: str, log_path: Path, status: str) -> None:
    state = {"run_id": run_id, "name": log_path.name, "log_path": str(log_path), "status": status}
    state_dir.write_state(run_id, state | {"supervisor_pid": None, "claimed_ts": 0})


def test_pending_runs_list_records_without_a_folder_and_mark_the_gone_ones_removed(home: Path) -> None:
    root = home / "results" / "logs"
    root.mkdir(parents=True)
    pending = PendingRuns([root])
    _record("q-1", root / "q", "queued")
    _record("elsewhere-1", home / "other" / "e", "queued")  # not below the roots: not listed
    (row,) = pending.update(set())
    assert (row.name, row.status, row.removed, row.status_source) == ("q", Status.QUEUED, False, "supervisor")
    assert "no folder yet" in row.note
    assert pending.update(set()) == [row]  # still pending: listed again, nothing removed
    (root / "q").mkdir()  # its folder appeared: the run store lists it now, the pending row goes
    (gone,) = pending.update(set())
    assert gone.path == str(root / "q") and gone.removed and gone.status != "deleted"
    assert pending.update(set()) == []  # said once


def test_model_lineup_entry_point_prints_the_lineup_as_json() -> None:
    cmd = [sys.executable, "-m", "runner.control.lineup"]
    bad = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "usage" in bad.stderr
    done = subprocess.run([*cmd, "--json"], capture_output=True, text=True, check=True, timeout=300)
    rows = {r["name"]: r for r in json.loads(done.stdout)}
    assert rows["Qwen/Qwen3-8B"]["renderer"] == "qwen3" and rows["Qwen/Qwen3-8B"]["label"] == "hybrid"
    assert isinstance(rows["Qwen/Qwen3-8B"]["lr"], float)
