"""tinkertop check on hand-made results folders: complete passes; each missing or malformed piece is named
(file, line, field) and fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runner.cli import main
from runner.experiment import results
from runner.experiment.check import Item, passed, run_checks
from tests.shared_data import SHARED
from tests.unit.experiment_folders import DELETE, edit_summary, make_folder


def _items(folder: Path) -> dict[str, Item]:
    return {i.name: i for i in run_checks(folder, folder, dry_run=False)}


def _problems(folder: Path) -> list[str]:
    return [p for i in run_checks(folder, folder, dry_run=False) for p in i.problems]


@pytest.mark.parametrize("task", ["rl", "sft"])
def test_a_complete_folder_passes(tmp_path: Path, task: str) -> None:
    items = _items(make_folder(tmp_path, task))
    assert passed(list(items.values()))
    assert all(items[n].ok for n in ("files", "final checkpoint", "same rows", "scores", "metadata", "W&B"))
    assert items["launch"].ok is None and "not checked" in items["launch"].detail


def test_cli_exit_codes_and_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_folder(tmp_path)
    assert main(["check", str(folder), "--no-dry-run"]) == 0
    assert "ok   scores" in capsys.readouterr().out
    edit_summary(folder, trained_score=DELETE)
    assert main(["check", str(folder), "--no-dry-run", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["complete"] is False
    scores = next(c for c in data["checks"] if c["check"] == "scores")
    assert "summary.json: field 'trained_score' missing or not a finite number" in scores["problems"]


def test_a_removed_field_is_named(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    edit_summary(folder, lora_rank=DELETE)
    assert "summary.json: field 'lora_rank' missing" in _problems(folder)


def test_a_malformed_row_is_named_with_line_and_field(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    path = folder / results.BASE_FILE
    lines = path.read_text().splitlines()
    row = json.loads(lines[1])
    row["correct"] = "yes"
    del row["question"]
    lines[1] = json.dumps(row)
    lines[2] = "{truncated"
    path.write_text("\n".join(lines) + "\n")
    problems = _problems(folder)
    assert "base_model.jsonl:2: field 'question' missing" in problems
    assert "base_model.jsonl:2: field 'correct' is 'yes', expected bool" in problems
    assert any(p.startswith("base_model.jsonl:3: not JSON") for p in problems)
    assert not passed(run_checks(folder, folder, dry_run=False))


def test_rows_out_of_order_and_different_rows(tmp_path: Path) -> None:
    folder = make_folder(tmp_path, "sft")
    path = folder / results.TRAINED_FILE
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[1], lines[0], lines[2]]) + "\n")
    problems = _problems(folder)
    assert "trained_model.jsonl:2: index 0 out of order (rows sorted by index)" in problems
    assert "index 3: only in base_model.jsonl" in problems


def test_scores_must_match_rows_and_delta(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    edit_summary(folder, trained_score=0.75, delta=0.1)
    problems = _problems(folder)
    assert "summary.json: field 'delta' is not trained_score - baseline_score" in problems
    assert "summary.json: field 'trained_score' is 0.75, trained_model.jsonl gives 0.5" in problems


def test_no_final_checkpoint_and_wrong_run_id(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    edit_summary(folder, tinker_run_id="other:train:0")
    item = _items(folder)["final checkpoint"]
    assert item.ok is False and "the last checkpoint record says 'abc-123:train:0'" in item.detail
    ckpts = folder / "logs" / "run1" / "checkpoints.jsonl"
    ckpts.write_text(ckpts.read_text().splitlines()[0] + "\n")
    assert "no 'final' record" in _items(folder)["final checkpoint"].detail


def test_a_copied_folder_finds_its_logs_beside_it(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "a")
    copy = tmp_path / "b"
    shutil.copytree(folder, copy)
    shutil.rmtree(folder)
    assert _items(copy)["final checkpoint"].ok is True


def test_wandb_online_is_said_not_checked(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    edit_summary(folder, wandb_url="https://wandb.ai/me/proj/runs/x")
    item = _items(folder)["W&B"]
    assert item.ok is None and item.detail.startswith("not checked: offline")
    assert passed([item])  # not checked is not a failure, and never a pass line


def test_wandb_local_summary_is_compared_with_metrics(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    files = folder / "logs" / "run1" / "wandb" / "offline-run-20260101_000000-abcd" / "files"
    files.mkdir(parents=True)
    (files / "wandb-summary.json").write_text(json.dumps({"_step": 2}))
    assert _items(folder)["W&B"].ok is True
    (files / "wandb-summary.json").write_text(json.dumps({"_step": 1}))
    item = _items(folder)["W&B"]
    assert item.ok is False and "W&B's last step is 1, metrics.jsonl's is 2" in item.detail


def test_the_shared_offline_wandb_run_has_no_summary_to_read(tmp_path: Path) -> None:
    src = SHARED / "formats" / "rl_arith_wandb_offline"
    if not src.exists():
        pytest.skip(f"{src} missing")
    folder = make_folder(tmp_path)
    logs = folder / "logs" / "run1"
    shutil.rmtree(logs)
    shutil.copytree(src, logs)
    edit_summary(folder, tinker_run_id=_last_id(logs))
    item = _items(folder)["W&B"]
    assert item.ok is None and "no readable files/wandb-summary.json" in item.detail


def _last_id(logs: Path) -> str:
    from runner.experiment.summary import run_id_of

    return run_id_of(json.loads((logs / "checkpoints.jsonl").read_text().splitlines()[-1])["state_path"])


def test_the_shared_example_folders_are_incomplete_and_say_why() -> None:
    folder = SHARED / "formats" / "results_example"
    if not folder.exists():
        pytest.skip(f"{folder} missing")
    problems = [p for i in run_checks(folder, folder, dry_run=False) for p in i.problems]
    assert "base_model.jsonl:1: field 'question' is None, expected str" in problems
    assert "summary.json: field 'delta' missing" in problems


def test_a_launch_that_no_longer_validates_fails(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    edit_summary(folder, launch={"recipe": "no_such_recipe", "overrides": [], "local": False})
    item = {i.name: i for i in run_checks(folder, tmp_path, dry_run=True)}["launch"]
    assert item.ok is False and "no longer validates" in item.detail and "no_such_recipe" in item.detail
