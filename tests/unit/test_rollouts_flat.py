"""The older flat HTML layout on the real IF-RLVR run, and bad input of both layouts.

The HTML is checked against a regex over the file itself (not the reader's parser).
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from runner.rollouts import RolloutError, list_iterations, load_iteration
from tests.shared_data import SHARED

RLVR = SHARED / "realdata" / "sushantmehta_tinker-cookbook_IF_RLVR"
FORMATS = SHARED / "formats"
pytestmark = pytest.mark.skipif(not RLVR.is_dir() or not FORMATS.is_dir(), reason="shared data absent")

PARA = re.compile(r'<p class="lt-p">\n(.*?)\s*</p>', re.S)


def _paragraphs(path: Path) -> list[str]:
    return [html.unescape(p) for p in PARA.findall(path.read_text())]


def test_lists_flat_train_and_eval_iterations() -> None:
    run = RLVR / "logs_v2p7"
    refs = list_iterations(run)
    names = {p.name for p in run.glob("*_iteration_*.html")}
    assert {Path(r.source).name for r in refs} == names
    assert all(r.layout == "flat" and r.has_text for r in refs)
    assert [r.step for r in refs if r.split == "eval:test"] == sorted(
        int(n[-11:-5]) for n in names if n.startswith("eval_test")
    )


@pytest.mark.parametrize(
    "name", ["logs/train_iteration_000000.html", "logs_v2/eval_test_iteration_000020.html"]
)
def test_flat_iteration_matches_the_html(name: str) -> None:
    path = RLVR / name
    split = "eval:test" if "eval_" in name else "train"
    ref = next(r for r in list_iterations(path.parent) if Path(r.source) == path and r.split == split)
    it = load_iteration(ref)
    paras = _paragraphs(path)
    prompts = [p[len("Prompt: ") :] for p in paras if p.startswith("Prompt: ")]
    responses = [p[len("Response: ") :] for p in paras if p.startswith("Response: ")]
    rewards = [float(p.split(": ")[1]) for p in paras if p.startswith("Reward (pass rate): ")]
    assert len(it.trajectories) == len(prompts) == len(responses)
    assert [t.messages[0].text for t in it.trajectories] == [p.strip() for p in prompts]
    assert [t.messages[1].text for t in it.trajectories] == [r.strip() for r in responses]
    assert all([m.role for m in t.messages] == ["user", "assistant", "env", "env"] for t in it.trajectories)
    assert [t.reward for t in it.trajectories] == pytest.approx(rewards, abs=5e-4)
    sections = path.read_text().count('<h2 class="lt-h2">\ndo_group_rollout')
    assert len(it.groups) == sections
    assert it.note is not None and f"only the {sections} groups" in it.note
    totals = re.findall(
        r"<td>\ntotal\s*</td>.*?<td>\n-\s*</td>.*?<td>\n-\s*</td>.*?<td>\n([-0-9.]+)", path.read_text(), re.S
    )
    assert [f"{t.reward:.3f}" for t in it.trajectories] == totals


def test_flat_iteration_that_crashed_says_so() -> None:
    ref = next(r for r in list_iterations(RLVR / "logs") if r.step == 7)
    it = load_iteration(ref)
    assert all(not t.has_text and t.reward is None for t in it.trajectories)
    assert it.note is not None and "BadRequestError" in it.note and "text for 0 of them" in it.note


def test_html_cut_mid_tag_is_named_and_other_iterations_still_list(tmp_path: Path) -> None:
    src = RLVR / "logs"
    for name in ("train_iteration_000000.html", "train_iteration_000001.html"):
        shutil.copy(src / name, tmp_path / name)
    cut = tmp_path / "train_iteration_000001.html"
    data = cut.read_bytes()
    cut.write_bytes(data[: data.index(b"<section", len(data) // 2) + 5])  # inside a tag
    refs = list_iterations(tmp_path)
    assert [r.step for r in refs] == [0, 1]
    it = load_iteration(refs[1])
    assert it.problems and str(cut) in it.problems[0] and "cut short" in it.problems[0]
    assert re.search(r":\d+: ", it.problems[0])  # the line
    assert it.trajectories  # what was written before the cut is still shown
    assert not load_iteration(refs[0]).problems
    (tmp_path / "train_iteration_000002.html").write_bytes(b"<html><head><title>x")
    bad = next(r for r in list_iterations(tmp_path) if r.step == 2)
    with pytest.raises(RolloutError, match="train_iteration_000002.html:1: no <body>"):
        load_iteration(bad)


def _copy_iteration(tmp_path: Path) -> Path:
    shutil.copytree(FORMATS / "rl_arith" / "iteration_000000", tmp_path / "iteration_000000")
    shutil.copytree(FORMATS / "rl_arith" / "iteration_000001", tmp_path / "iteration_000001")
    for p in tmp_path.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return tmp_path / "iteration_000001"


def test_truncated_logtree_json_keeps_summaries_and_names_file_and_line(tmp_path: Path) -> None:
    folder = _copy_iteration(tmp_path)
    tree = folder / "train_logtree.json"
    tree.write_bytes(tree.read_bytes()[:5000])
    refs = [r for r in list_iterations(tmp_path) if r.split == "train"]
    assert [r.step for r in refs] == [0, 1]
    it = load_iteration(refs[1])
    assert len(it.problems) == 1 and it.problems[0].startswith(f"{tree}:")
    assert re.match(rf"{re.escape(str(tree))}:\d+: not valid JSON", it.problems[0])
    assert len(it.trajectories) == 16 and not any(t.has_text for t in it.trajectories)
    assert load_iteration(refs[0]).problems == ()


def test_truncated_summary_line_is_named_with_its_line(tmp_path: Path) -> None:
    folder = _copy_iteration(tmp_path)
    summaries = folder / "train_rollout_summaries.jsonl"
    lines = summaries.read_text().splitlines()
    summaries.write_text("\n".join(lines[:3] + [lines[3][:40]] + lines[4:]) + "\n")
    ref = next(r for r in list_iterations(tmp_path) if r.step == 1 and r.split == "train")
    assert ref.error is not None and ref.error.startswith(f"{summaries}:4: not JSON (")
    it = load_iteration(ref)
    assert it.problems[0].startswith(f"{summaries}:4:")
    assert len(it.trajectories) == len(lines) - 1


def test_unknown_logtree_node_is_an_error_for_that_iteration_only(tmp_path: Path) -> None:
    folder = _copy_iteration(tmp_path)
    tree = folder / "train_logtree.json"
    tree.write_text(tree.read_text().replace('"tag": "table"', '"tag": "blink"', 1))
    (folder / "train_rollout_summaries.jsonl").unlink()
    ref = next(r for r in list_iterations(tmp_path) if r.step == 1 and r.split == "train")
    with pytest.raises(RolloutError, match=r"train_logtree.json: unknown logtree node <blink> at root/"):
        load_iteration(ref)
    other = next(r for r in list_iterations(tmp_path) if r.step == 0 and r.split == "train")
    assert load_iteration(other).trajectories
