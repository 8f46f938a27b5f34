"""Every run folder in ../shared/realdata and ../shared/formats, checked against the files themselves.

Line and step counts come from a separate, deliberately simple reader (stdlib json, line by line),
not from runner.runs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from runner.runs.discover import discover
from runner.runs.folder import RunFolder
from runner.runs.store import RunStore
from tests.shared_data import SHARED

REALDATA = SHARED / "realdata"
FORMATS = SHARED / "formats"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is absent")


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    """Keep the supervisor-record lookup away from the real ~/.tinkertop."""
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))


def simple_count(path: Path) -> tuple[int, set[int], int]:
    """(non-blank lines, distinct integer steps, lines without step) by plain json.loads."""
    lines, steps, no_step = 0, set(), 0
    for raw in path.read_text().splitlines():
        if not raw.strip():
            continue
        lines += 1
        rec = json.loads(raw)
        if "step" in rec:
            steps.add(rec["step"])
        else:
            no_step += 1
    return lines, steps, no_step


def all_metric_files() -> list[Path]:
    roots = [r for r in (REALDATA, FORMATS) if r.is_dir()]
    return sorted(p for r in roots for p in r.rglob("*metrics.jsonl") if "wandb" not in p.parts)


def run_path_of(metrics: Path) -> Path:
    return metrics.parent if metrics.name == "metrics.jsonl" else metrics


def test_every_metrics_file_is_discovered():
    found = {f.path for f in discover([REALDATA, FORMATS])}
    expected = {run_path_of(p) for p in all_metric_files()}
    assert expected, "no metrics files found in ../shared"
    assert expected <= found, expected - found


@pytest.mark.parametrize("metrics", all_metric_files(), ids=lambda p: str(p.relative_to(SHARED)))
def test_lines_and_merged_steps_match_the_file(metrics: Path):
    n_lines, steps, no_step = simple_count(metrics)
    run = RunFolder(run_path_of(metrics))
    run.refresh()
    assert run.table.n_lines == n_lines
    assert run.table.bad_lines == 0
    assert len(run.table) == len(steps) + no_step
    assert set(run.table.steps) >= steps
    summary = run.summary()
    assert summary.n_lines == n_lines
    assert summary.step == max(run.table.steps)


def test_whole_tree_scans_without_error_and_reports_every_run():
    store = RunStore([REALDATA, FORMATS])
    summaries = store.scan()
    by_path = {s.path: s for s in summaries}
    for metrics in all_metric_files():
        assert str(run_path_of(metrics)) in by_path
    assert all(s.kind in {"rl", "sl", "dpo", "distill", "unknown", "foreign"} for s in summaries)
    assert all(s.status for s in summaries)


FORMAT_KINDS = {
    "rl_arith": ("rl", "sync"),
    "rl_arith_kl": ("rl", "sync"),
    "rl_arith_async": ("rl", "async"),
    "rl_arith_stream": ("rl", "stream"),
    "rl_arith_wandb_offline": ("rl", "sync"),
    "cli_math_rl": ("rl", "sync"),
    "cli_guess_number": ("rl", "sync"),
    "sl_conversations": ("sl", ""),
    "cli_chat_sl": ("sl", ""),
    "cli_sl_basic": ("sl", ""),
    "dpo_local": ("dpo", ""),
    "distill_onpolicy": ("distill", ""),
}

REAL_KINDS = {
    "sushantmehta_tinker-cookbook_IF_RLVR/logs_v2p7": "rl",
    "sushantmehta_tinker-cookbook_IF_RLVR/logs_v2p3": "rl",
    "arvindcr4_tinker-rl-lab/experiments/results/arithmetic_metrics.jsonl": "rl",
    "arvindcr4_tinker-rl-lab/experiments/results/distillation_on_metrics.jsonl": "distill",
    "arvindcr4_tinker-rl-lab/experiments/results/distillation_off_metrics.jsonl": "sl",
    "bzz_tinker-cookbook_context_distillation/data/context_distillation/logs/exp1_off_policy": "sl",
    "bzz_tinker-cookbook_context_distillation/data/context_distillation/logs/exp2_on_policy": "distill",
    "bzz_tinker-cookbook_context_distillation/data/context_distillation/logs/exp4_reward_only": "rl",
    "joanvelja_tinker-cookbook/reports/data/gptoss-20b-v2-metrics.jsonl": "rl",
    "joanvelja_tinker-cookbook/reports/data/gptoss-20b-v3b-metrics.jsonl": "rl",
    "s-haider10_finetunned_coding_agent/results/2026_02_13-06_30_15": "rl",
}


@pytest.mark.parametrize("name", sorted(FORMAT_KINDS))
def test_formats_kinds_and_modes(name):
    path = FORMATS / name
    if not path.exists():
        pytest.skip(f"{path} absent")
    run = RunFolder(path)
    run.refresh()
    s = run.summary()
    assert (s.kind, s.mode) == FORMAT_KINDS[name]
    expected_headline = {"rl": "env/all/reward/total", "sl": "train_mean_nll", "dpo": "dpo_loss"}
    assert s.headline_key == expected_headline.get(s.kind, "teacher_kl")
    assert s.headline_value is not None and s.spark
    assert s.status == "finished"  # every generated run ends with a final checkpoint


@pytest.mark.parametrize("rel", sorted(REAL_KINDS))
def test_realdata_kinds(rel):
    path = REALDATA / rel
    if not path.exists():
        pytest.skip(f"{path} absent")
    run = RunFolder(path)
    run.refresh()
    s = run.summary()
    assert s.kind == REAL_KINDS[rel]
    assert s.headline_key is not None and s.headline_value is not None


def test_non_finite_values_are_kept():
    run = RunFolder(FORMATS / "ml_log_direct")
    run.refresh()
    latest = run.table.latest()
    assert math.isnan(latest["nan_metric"])
    assert latest["inf_metric"] == math.inf and latest["neg_inf"] == -math.inf
    assert run.table.stats("nan_metric").non_finite == 1
    # strings, booleans and null stay what they are; ints stay ints
    assert latest["a_str"] == "tinker://x/weights/000001"
    assert latest["a_bool"] is True and latest["a_none"] is None and latest["an_int"] == 3
    assert "a_str" not in run.table.numeric_keys()
    # the line without step got the next free step
    assert run.table.column("no_step_metric") == ([2], [7.0])


def test_dpo_state_path_is_a_string_on_checkpoint_steps():
    path = FORMATS / "dpo_local"
    run = RunFolder(path)
    run.refresh()
    expected = {}
    for raw in (path / "metrics.jsonl").read_text().splitlines():
        rec = json.loads(raw)
        if "state_path" in rec:
            expected[rec["step"]] = rec["state_path"]
    assert expected
    assert run.table.non_numeric("state_path") == expected
    assert all(isinstance(v, str) for v in run.table.non_numeric("state_path").values())
    assert run.table.column("state_path") == ([], [])


def test_async_eval_rows_merge_into_their_step():
    path = FORMATS / "rl_arith_async" / "metrics.jsonl"
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    eval_steps = {r["step"] for r in recs if "test/env/all/reward/total" in r}
    train_steps = {r["step"] for r in recs if "training_client/step" in r}
    shared = eval_steps & train_steps
    assert shared, "the fixture should have eval and train lines sharing a step"
    run = RunFolder(path.parent)
    run.refresh()
    steps_eval, vals_eval = run.table.column("test/env/all/reward/total")
    steps_train, _ = run.table.column("env/all/reward/total")
    assert set(steps_eval) == eval_steps and set(steps_train) == train_steps
    assert len(run.table) == len(eval_steps | train_steps)
    by_step = {r["step"]: r["test/env/all/reward/total"] for r in recs if "test/env/all/reward/total" in r}
    assert dict(zip(steps_eval, vals_eval, strict=True)) == by_step


def test_joanvelja_double_prefixed_eval_rows_merge():
    path = REALDATA / "joanvelja_tinker-cookbook/reports/data/gptoss-20b-v3b-metrics.jsonl"
    if not path.exists():
        pytest.skip("absent")
    n_lines, steps, _ = simple_count(path)
    run = RunFolder(path)
    run.refresh()
    assert n_lines - len(steps) == 7  # the 7 eval lines share their step with a train line
    eval_steps, _ = run.table.column("test/test/env/all/reward/total")
    assert len(eval_steps) == 7
    assert all(s in set(run.table.column("env/all/reward/total")[0]) for s in eval_steps)


def test_distillation_keeps_double_prefix_keys():
    run = RunFolder(FORMATS / "distill_onpolicy")
    run.refresh()
    keys = run.table.keys()
    assert any(k.startswith("test/test/env/all/") for k in keys)
    assert not any(k.startswith("test/env/") for k in keys)
    assert run.summary().kind == "distill"


def test_cli_math_rl_resume_run_is_read_whole():
    """Three invocations, two training-run ids, two final checkpoints in one folder."""
    path = FORMATS / "cli_math_rl"
    run = RunFolder(path)
    run.refresh()
    assert [c["name"] for c in run.checkpoints].count("final") == 2
    run_ids = {c["state_path"].split("/")[2] for c in run.checkpoints}
    assert len(run_ids) == 2
    n_lines, steps, _ = simple_count(path / "metrics.jsonl")
    assert list(run.table.steps) == sorted(steps) and run.table.n_lines == n_lines
    assert run.summary().status == "finished"


def test_resume_relogged_steps_later_line_wins(tmp_path):
    """A resume from an older checkpoint re-logs steps: built from the real cli_math_rl lines."""
    lines = (FORMATS / "cli_math_rl" / "metrics.jsonl").read_text().splitlines()
    relogged = []
    for raw in lines[2:4]:  # steps 2 and 3 logged again after a resume, with new values
        rec = json.loads(raw)
        rec["env/all/reward/total"] = 0.99
        relogged.append(json.dumps(rec))
    run_dir = tmp_path / "resumed"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text("\n".join(lines + relogged) + "\n")
    run = RunFolder(run_dir)
    run.refresh()
    steps, vals = run.table.column("env/all/reward/total")
    assert steps == [0, 1, 2, 3, 4]
    assert vals[2] == vals[3] == 0.99
    assert vals[4] == json.loads(lines[4])["env/all/reward/total"]
    assert run.table.n_lines == len(lines) + 2


def test_crashed_and_foreign_folders_are_reported_not_fatal():
    store = RunStore([REALDATA])
    by_path = {s.path: s for s in store.scan()}
    crashed = by_path.get(str(REALDATA / "sushantmehta_tinker-cookbook_IF_RLVR/logs_v2p5"))
    if crashed is None:
        pytest.skip("logs_v2p5 absent")
    assert crashed.n_lines == 0 and "no metrics.jsonl" in crashed.note
    assert crashed.kind == "rl"  # from its config.json (loss_fn)
    verl = [s for s in by_path.values() if "verl" in s.note]
    assert len(verl) == 2 and all(s.kind == "foreign" for s in verl)
    maze = by_path[str(REALDATA / "other_verl_KotoHanon_VERL-Maze/verl_demo.log")]
    assert maze.status == "failed"  # NotImplementedError traceback at the end
    dpo = by_path[str(REALDATA / "arvindcr4_tinker-experiments/logs/tinker_dpo.log")]
    assert dpo.kind == "foreign" and dpo.status == "failed"
    detail = store.get(dpo.path).detail()
    assert any("BadRequestError" in line for line in detail.console_tail)
    assert not any("\x1b[" in line for line in detail.console_tail)


def test_checkpoints_with_final_mean_finished_and_custom_schema_is_kept():
    arith = REALDATA / "arvindcr4_tinker-rl-lab/experiments/results/arithmetic_metrics.jsonl"
    haider = REALDATA / "s-haider10_finetunned_coding_agent/results/2026_02_13-06_30_15"
    if not (arith.exists() and haider.exists()):
        pytest.skip("absent")
    run = RunFolder(arith)
    run.refresh()
    assert run.checkpoints[-1]["name"] == "final" and run.summary().status == "finished"
    run = RunFolder(haider)
    run.refresh()
    n = len((haider / "checkpoints.jsonl").read_text().splitlines())
    assert len(run.checkpoints) == n and "dataset_offset" in run.checkpoints[0]
    assert run.summary().headline_key == "mean_reward"


def test_verl_console_log_becomes_a_chartable_foreign_run():
    path = REALDATA / "other_verl_Bihan_dstack-configs/verl_demo.log"
    if not path.exists():
        pytest.skip("absent")
    step_lines = [
        line for line in path.read_text(errors="replace").splitlines() if " - " in line and "step:" in line
    ]
    run = RunFolder(path, foreign="verl")
    run.refresh()
    s = run.summary()
    assert s.kind == "foreign" and s.note == "foreign: verl"
    assert s.n_lines == len(step_lines) == 335
    assert run.table.steps[0] == 101 and s.step == 435  # a resumed verl run
    assert len(run.table.numeric_keys()) + 1 == 69  # realdata.md counts 69 keys, step included
    assert s.headline_key == "critic/score/mean" and s.headline_value is not None
