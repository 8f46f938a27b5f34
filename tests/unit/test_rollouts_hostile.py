"""Hostile rollouts input: every bad record, file or query is named (file and line) and the rest still
reads; nothing raises past the reader, nothing hangs.

Data: built here in tmp_path, from shared/formats/rl_arith (real cookbook files) with bad lines added.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from runner.cli import main
from runner.rollouts import RolloutError, clear_cache, list_iterations, load_benchmark, load_iteration, search
from runner.rollouts.build import histogram
from runner.rollouts.flat_html import parse_html
from runner.rollouts.search import compile_query, search_trajectory
from runner.rollouts.timing import read_timing
from runner.rollouts.trajectory import IterationRef, Message, Trajectory
from tests.shared_data import SHARED

ARITH = SHARED / "formats" / "rl_arith"
pytestmark = pytest.mark.skipif(not ARITH.is_dir(), reason="shared/formats is absent")


def _copy_iteration(tmp_path: Path, step: int = 1) -> Path:
    run = tmp_path / "run"
    name = f"iteration_{step:06d}"
    shutil.copytree(ARITH / name, run / name)
    clear_cache()
    return run


def _train(run: Path, step: int = 1) -> IterationRef:
    return next(r for r in list_iterations(run, stats=False) if r.step == step and r.split == "train")


BAD_SUMMARIES = [
    ({"group_idx": None}, '"group_idx" is null'),
    ({"traj_idx": "2"}, '"traj_idx" is a string'),
    ({"trajectory_metrics": [1, 2]}, '"trajectory_metrics" is a list'),
    ({"steps": [{"reward": 1.0, "metrics": [1]}]}, '"metrics" of step 1 is a list'),
    ({"steps": [{"reward": 1.0, "logs": ["x"]}]}, '"logs" of step 1 is a list'),
    ({"steps": 3}, '"steps" is a number'),
]


@pytest.mark.parametrize(("change", "reason"), BAD_SUMMARIES)
def test_a_bad_summary_line_is_named_and_the_others_still_read(
    tmp_path: Path, change: dict[str, object], reason: str
) -> None:
    run = _copy_iteration(tmp_path)
    path = run / "iteration_000001" / "train_rollout_summaries.jsonl"
    lines = path.read_text().splitlines()
    good = len(lines)
    record = {"schema_version": 1, "group_idx": 0, "traj_idx": 0, "total_reward": 1.0, "steps": []}
    lines.append(json.dumps({**record, **change}))
    path.write_text("\n".join(lines) + "\n")
    iteration = load_iteration(_train(run))
    assert len(iteration.trajectories) == good
    assert iteration.problems and iteration.problems[0].startswith(f"{path}:{good + 1}: ")
    assert reason in iteration.problems[0]
    listed = next(r for r in list_iterations(run) if r.step == 1 and r.split == "train")
    assert listed.n_trajectories == good and listed.error == iteration.problems[0]


def test_a_bad_benchmark_line_is_named_and_the_others_still_read(tmp_path: Path) -> None:
    path = tmp_path / "bench" / "trajectories.jsonl"
    path.parent.mkdir()
    good = {"idx": 0, "reward": 1.0, "turns": [{"role": "assistant", "content": "42"}], "metrics": {}}
    bad = {**good, "idx": 1, "metrics": [1], "logs": ["x"]}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    iteration = load_benchmark(path)
    assert len(iteration.trajectories) == 1
    assert iteration.problems == (f'{path}:2: "metrics" is a list, not an object',)


def test_odd_tool_calls_in_a_conversation_are_kept_as_text() -> None:
    from runner.rollouts.conversation import conversation

    msgs = conversation(
        {"messages": [{"role": "assistant", "content": "x", "tool_calls": 5, "unparsed_tool_calls": ["raw"]}]}
    )
    assert msgs[0].tool_calls == ("5", "unparsed: raw")


def _deep_logtree(run: Path) -> Path:
    path = run / "iteration_000001" / "train_logtree.json"
    depth = 200_000
    path.write_text('{"a":' * depth + "1" + "}" * depth)
    return path


def test_a_too_deep_logtree_is_a_problem_naming_the_file(tmp_path: Path) -> None:
    run = _copy_iteration(tmp_path)
    path = _deep_logtree(run)
    iteration = load_iteration(_train(run))
    assert iteration.trajectories  # the summaries still read
    assert any(p.startswith(f"{path}: ") and "nested too deeply" in p for p in iteration.problems)
    (run / "iteration_000001" / "train_rollout_summaries.jsonl").unlink()
    clear_cache()
    with pytest.raises(RolloutError, match="nested too deeply"):
        load_iteration(_train(run))
    assert list(search(run, "anything")) == []


def test_rollouts_cli_on_a_too_deep_logtree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy_iteration(tmp_path)
    path = _deep_logtree(run)
    assert main(["rollouts", str(run), "--step", "1"]) == 0
    assert f"{path}: " in capsys.readouterr().err


def test_a_catastrophic_regex_stops_with_a_message() -> None:
    """``(a|a)+$`` on 40 a's and a ``!``: 2**40 backtracking paths, hours without the guard."""
    traj = Trajectory(0, 0, 1.0, messages=(Message("assistant", "a" * 40 + "!"),))
    pattern = compile_query("(a|a)+$", regex=True)
    with pytest.raises(RolloutError, match="took too long"):
        list(search_trajectory(IterationRef(0, "train", "x"), traj, pattern))


def test_rollouts_cli_catastrophic_regex_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy_iteration(tmp_path)
    path = run / "iteration_000001" / "train_rollout_summaries.jsonl"
    path.write_text(
        path.read_text() + json.dumps({"group_idx": 9, "steps": [{"logs": {"x": "a" * 40 + "!"}}]}) + "\n"
    )
    code = main(["rollouts", str(run), "--regex", "(a|a)+$"])
    assert code == 2 and "took too long" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "1e309", "-Infinity"])
def test_timing_drops_a_non_finite_span_and_names_it(tmp_path: Path, bad: str) -> None:
    ok = {"name": "sample", "duration": 1.0, "wall_start": 0.0, "wall_end": 1.0}
    line = json.dumps({"step": 0, "spans": [ok, {**ok, "name": "train_step"}]})
    line = line.replace('"wall_end": 1.0}]', f'"wall_end": {bad}}}]')
    (tmp_path / "timing_spans.jsonl").write_text(json.dumps({"step": 1, "spans": [ok]}) + "\n" + line + "\n")
    t = read_timing(tmp_path)
    spans = [s for step in t.steps for s in step.spans]
    assert [s.name for s in spans] == ["sample", "sample"]
    assert all(math.isfinite(s.start) and math.isfinite(s.end) for s in spans)
    assert t.problems == (f"{tmp_path / 'timing_spans.jsonl'}:2: span 'train_step' has a non-finite time",)


def test_histogram_of_the_widest_floats() -> None:
    counts, edges = histogram([-1e308, 1e308, 0.0])
    assert sum(counts) == 3 and counts[0] == 1 and counts[-1] == 1
    assert edges[0] == -1e308 and edges[-1] == 1e308 and all(math.isfinite(e) for e in edges)


@pytest.mark.parametrize("value", ["nan", "NaN"])
def test_min_reward_nan_is_a_usage_error(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["rollouts", str(ARITH), "--min-reward", value])
    assert exc.value.code == 2 and "--min-reward" in capsys.readouterr().err


def test_a_huge_text_block_in_flat_html_is_kept(tmp_path: Path) -> None:
    big = "x" * (11 << 20)
    data = f"<html><body><div><p>{big}</p><p>after</p></div></body></html>\n".encode()
    root, problems = parse_html(data, "a.html")
    assert problems == [] and big in json.dumps(root) and "after" in json.dumps(root)
