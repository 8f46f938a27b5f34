"""Rollouts of the current layout (iteration folders), checked against the files read independently.

Data: ``shared/formats`` (real cookbook writers): rl_arith (logtree + summaries + eval), rl_arith_async
(no train logtree), cli_guess_number (multi-turn, no conversations), eval_store (benchmark), and a
demo-like run made here by copying rl_arith's iteration folders.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from runner.rollouts import (
    RolloutError,
    list_iterations,
    load_benchmark,
    load_iteration,
    nearest_iteration,
)
from tests.shared_data import SHARED

FORMATS = SHARED / "formats"
pytestmark = pytest.mark.skipif(not FORMATS.is_dir(), reason="shared/formats is absent")


def _summaries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _conversations(node: Any) -> list[list[dict[str, Any]]]:
    """Every conversation payload of a logtree, depth first (independent of the reader)."""
    if isinstance(node, str):
        return []
    found = [node["data"]["messages"]] if node.get("data", {}).get("type") == "conversation" else []
    for child in node.get("children", []):
        found += _conversations(child)
    return found


def _group_sections(root: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for child in root["children"]:
        if isinstance(child, dict) and child["tag"] == "section":
            head = child["children"][0]
            if head["children"] == ["Group Rollout"]:
                out.append(child)
    return out


def test_lists_train_and_eval_iterations_with_summary_figures() -> None:
    run = FORMATS / "rl_arith"
    refs = list_iterations(run)
    folders = sorted(p.name for p in run.glob("iteration_*"))
    assert sorted({f"iteration_{r.step:06d}" for r in refs}) == folders
    evals = sorted(int(p.parent.name[-6:]) for p in run.glob("iteration_*/eval_test_rollout_summaries.jsonl"))
    assert [r.step for r in refs if r.split == "eval:test"] == evals
    for ref in refs:
        records = _summaries(Path(ref.source).with_name(f"{ref.base_name}_rollout_summaries.jsonl"))
        assert ref.n_trajectories == len(records)
        assert ref.reward_mean == pytest.approx(sum(r["total_reward"] for r in records) / len(records))
        assert ref.has_text and ref.error is None


def test_train_iteration_matches_summaries_and_logtree() -> None:
    run = FORMATS / "rl_arith"
    folder = run / "iteration_000000"
    records = _summaries(folder / "train_rollout_summaries.jsonl")
    tree = json.loads((folder / "train_logtree.json").read_text())
    it = load_iteration(next(r for r in list_iterations(run) if r.step == 0 and r.split == "train"))

    assert len(it.trajectories) == len(records)
    by_key = {(r["group_idx"], r["traj_idx"]): r for r in records}
    for t in it.trajectories:
        rec = by_key[(t.group, t.index)]
        assert t.reward == rec["total_reward"]
        assert t.step_rewards == tuple(s["reward"] for s in rec["steps"])
        assert t.tokens == sum(s["ac_len"] for s in rec["steps"])
        assert t.metrics["correct"] == rec["steps"][0]["metrics"]["correct"]
    n_groups = len({r["group_idx"] for r in records})
    assert len(it.groups) == n_groups
    for group in it.groups:
        mean = sum(t.reward or 0.0 for t in group) / len(group)
        assert all(t.advantage == pytest.approx((t.reward or 0.0) - mean) for t in group)

    logged = _group_sections(tree["root"])
    assert it.note == f"text for the first {len(logged)} of {n_groups} groups only (the cookbook logs a few)"
    convs = _conversations(tree["root"])
    with_text = [t for t in it.trajectories if t.has_text]
    assert len(with_text) == len(convs) // 2  # a prompt and a response each
    responses = sorted(c[0]["content"] for c in convs if c[0]["role"] == "assistant")
    assert sorted(t.messages[3].text for t in with_text) == responses
    for t in with_text:
        assert [m.role for m in t.messages] == ["user", "assistant", "user", "assistant", "env"]
        # the transcript belongs to the trajectory with the same reward (completion order in the file)
        assert f"reward: {sum(t.step_rewards):.3f}" in t.messages[-1].text
        assert t.logs["correct"] == str(t.metrics["correct"] == 1.0)
    assert sum(it.histogram) == len(records) and len(it.hist_edges) == len(it.histogram) + 1


def test_eval_iteration_has_the_logged_text() -> None:
    run = FORMATS / "rl_arith"
    ref = next(r for r in list_iterations(run) if r.split == "eval:test" and r.step == 2)
    it = load_iteration(ref)
    tree = json.loads(Path(ref.source).read_text())
    records = _summaries(Path(ref.source).with_name("eval_test_rollout_summaries.jsonl"))
    assert [t.reward for t in it.trajectories] == [r["total_reward"] for r in records]
    prompts = [c[-1]["content"] for c in _conversations(tree["root"]) if c[-1]["role"] == "user"]
    assert sorted(t.messages[2].text for t in it.trajectories) == sorted(prompts)
    assert it.note is None  # every eval group was logged


def test_async_layout_without_train_logtree_shows_summaries_and_says_so() -> None:
    run = FORMATS / "rl_arith_async"
    refs = list_iterations(run)
    train = [r for r in refs if r.split == "train"]
    assert train and all(not r.has_text for r in train)
    it = load_iteration(train[0])
    records = _summaries(Path(train[0].source))
    assert [(t.group, t.index, t.reward) for t in it.trajectories] == [
        (r["group_idx"], r["traj_idx"], r["total_reward"]) for r in records
    ]
    assert all(t.messages == () and not t.has_text for t in it.trajectories)
    assert it.note is not None and "only summaries" in it.note
    evals = [r for r in refs if r.split == "eval:test"]
    assert evals and all(load_iteration(r).trajectories[0].has_text for r in evals)


def test_multi_turn_logs_and_diagnostics() -> None:
    run = FORMATS / "cli_guess_number"
    ref = next(r for r in list_iterations(run) if r.split == "train")
    it = load_iteration(ref)
    rec = _summaries(Path(ref.source).with_name("train_rollout_summaries.jsonl"))[0]
    first = it.trajectories[0]
    assert len(first.step_rewards) == len(rec["steps"])
    assert first.logs["turn 1 guess"] == rec["steps"][0]["logs"]["guess"]
    assert first.stop_reason == "max_tokens"  # num_truncations_max_turn_tokens on the last step
    assert first.messages[0].role == "env" and first.messages[0].text.startswith("Turn 1\nguess: ")


def test_nearest_iteration_before_then_after() -> None:
    run = FORMATS / "rl_arith"
    assert nearest_iteration(run, 3).step == 3  # type: ignore[union-attr]
    assert nearest_iteration(run, 99).step == 5  # type: ignore[union-attr]
    assert nearest_iteration(run, 3, "eval:test").step == 2  # type: ignore[union-attr]
    assert nearest_iteration(run, 0, "eval:nope") is None
    assert nearest_iteration(FORMATS / "distill_onpolicy", 1) is None  # no iteration folders at all


def test_demo_like_run_iteration_folders(tmp_path: Path) -> None:
    """A run folder as the demo writes it: iteration folders only (copied from the real writer)."""
    for k, src in enumerate(sorted((FORMATS / "rl_arith").glob("iteration_*"))):
        shutil.copytree(src, tmp_path / f"iteration_{k * 10:06d}")
    refs = [r for r in list_iterations(tmp_path) if r.split == "train"]
    assert [r.step for r in refs] == [0, 10, 20, 30, 40, 50]
    it = load_iteration(refs[-1])
    text = (tmp_path / "iteration_000050" / "train_logtree.json").read_text()
    for t in it.trajectories:
        for m in t.messages[:4]:
            assert json.dumps(html.escape(m.text, quote=False))[1:-1] in text


def test_benchmark_incorrect_first() -> None:
    folder = next((FORMATS / "eval_store" / "runs").glob("final_*")) / "arith"
    records = _summaries(folder / "trajectories.jsonl")
    it = load_benchmark(folder)
    assert len(it.trajectories) == len(records)
    wrong = {r["idx"] for r in records if r["metrics"].get("correct", r["reward"] > 0) in (0, 0.0, False)}
    wrong |= {r["idx"] for r in records if r["reward"] <= 0}
    assert {t.group for t in it.trajectories[: len(wrong)]} == wrong
    by_idx = {r["idx"]: r for r in records}
    for t in it.trajectories:
        rec = by_idx[t.group]
        assert [m.text for m in t.messages] == [turn["content"] for turn in rec["turns"]]
        assert t.reward == rec["reward"]
    result = json.loads((folder / "result.json").read_text())
    assert it.note is not None and f"{result['num_correct']}/{result['num_examples']} correct" in it.note


def test_loads_are_cached_until_a_file_changes(tmp_path: Path) -> None:
    shutil.copytree(FORMATS / "rl_arith" / "iteration_000000", tmp_path / "iteration_000000")
    ref = next(r for r in list_iterations(tmp_path) if r.split == "train")
    first = load_iteration(ref)
    assert load_iteration(ref) is first
    summaries = tmp_path / "iteration_000000" / "train_rollout_summaries.jsonl"
    summaries.chmod(0o644)
    lines = summaries.read_text().splitlines()
    summaries.write_text("\n".join(lines[:-1]) + "\n")  # rewritten: one trajectory fewer
    again = load_iteration(ref)
    assert again is not first and len(again.trajectories) == len(first.trajectories) - 1


def test_a_logged_group_that_failed_does_not_shift_the_text(tmp_path: Path) -> None:
    """A group whose rollout raised keeps its section in the logtree (no Trajectory Details) but has
    no summaries: the cookbook numbers the summaries over the successful groups only."""
    src = FORMATS / "rl_arith" / "iteration_000000"
    folder = tmp_path / "iteration_000000"
    folder.mkdir()
    tree = json.loads((src / "train_logtree.json").read_text())
    groups = _group_sections(tree["root"])
    failed = json.loads(json.dumps(groups[0]))
    body = failed["children"][1]
    body["children"] = body["children"][:3]  # prompt, response, reward of one rollout; then it raised
    tree["root"]["children"].insert(tree["root"]["children"].index(groups[0]), failed)
    (folder / "train_logtree.json").write_text(json.dumps(tree))
    shutil.copy(src / "train_rollout_summaries.jsonl", folder / "train_rollout_summaries.jsonl")
    it = load_iteration(next(r for r in list_iterations(tmp_path) if r.split == "train"))
    expected = load_iteration(next(r for r in list_iterations(FORMATS / "rl_arith") if r.step == 0))
    assert [t.messages for t in it.trajectories] == [t.messages for t in expected.trajectories]


def test_an_iteration_folder_linked_outside_the_run_is_named_not_fatal(tmp_path: Path) -> None:
    """The cookbook's LocalStorage refuses paths that resolve outside its root (ValueError)."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copytree(FORMATS / "rl_arith" / "iteration_000000", run / "iteration_000000")
    (run / "iteration_000001").symlink_to(FORMATS / "rl_arith" / "iteration_000001")
    refs = list_iterations(run)
    assert {r.step for r in refs} == {0, 1}
    bad = next(r for r in refs if r.step == 1)
    assert bad.error is not None and "iteration_000001" in bad.error
    with pytest.raises(RolloutError, match="iteration_000001"):
        load_iteration(bad)
    assert load_iteration(next(r for r in refs if r.step == 0)).trajectories


def test_a_summaries_path_that_is_a_folder_is_named_and_the_logtree_still_shows(tmp_path: Path) -> None:
    folder = tmp_path / "iteration_000003"
    folder.mkdir()
    shutil.copy(FORMATS / "rl_arith" / "iteration_000000" / "train_logtree.json", folder)
    (folder / "train_rollout_summaries.jsonl").mkdir()
    (ref,) = list_iterations(tmp_path)
    assert ref.error is not None and ref.error.startswith(str(folder / "train_rollout_summaries.jsonl"))
    it = load_iteration(ref)
    assert it.problems and "train_rollout_summaries.jsonl" in it.problems[0]
    tree = json.loads((folder / "train_logtree.json").read_text())
    assert sum(t.has_text for t in it.trajectories) == len(_conversations(tree["root"])) // 2
