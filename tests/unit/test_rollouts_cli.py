"""``tinkertop rollouts``: each flag through the real entry point (``runner.cli.main``), plus search,
filters and timing, and the import boundary (runner.rollouts never imports Textual; the cookbook's
store loads only when a reader runs, and without torch)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runner.cli import main
from runner.rollouts import (
    filter_trajectories,
    gantt,
    list_iterations,
    load_iteration,
    prompt_of,
    same_prompt,
    search,
    timing,
)
from tests.shared_data import REPO, SHARED

FORMATS = SHARED / "formats"
ARITH = FORMATS / "rl_arith"
RLVR = SHARED / "realdata" / "sushantmehta_tinker-cookbook_IF_RLVR" / "logs"
pytestmark = pytest.mark.skipif(not FORMATS.is_dir() or not RLVR.is_dir(), reason="shared data absent")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["rollouts", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _summaries(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_default_is_the_latest_train_iteration_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(ARITH), "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    records = _summaries(ARITH / "iteration_000005" / "train_rollout_summaries.jsonl")
    assert code == 0 and {r["step"] for r in rows} == {5} and len(rows) == len(records)
    assert [r["reward"] for r in rows] == [r["total_reward"] for r in records]
    assert all(set(r) >= {"group", "index", "advantage", "metrics", "messages"} for r in rows)


def test_step_split_and_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(ARITH), "--step", "2", "--split", "eval:test")
    assert code == 0 and out.startswith("iteration 2 eval:test: 4 trajectories in 4 groups")
    assert out.count("── iteration 2 eval:test") == 4 and "[assistant]" in out


def test_min_reward(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(ARITH), "--step", "0", "--min-reward", "0.5", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    records = _summaries(ARITH / "iteration_000000" / "train_rollout_summaries.jsonl")
    assert code == 0 and len(rows) == sum(r["total_reward"] >= 0.5 for r in records) > 0


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(ARITH), "--list", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(r["step"], r["split"]) for r in rows][:2] == [(0, "train"), (0, "eval:test")]
    assert len(rows) == len(list(ARITH.glob("iteration_*/*_rollout_summaries.jsonl")))


def test_search_and_regex(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(RLVR), "--search", "EXECUTIVE summary", "--json")
    hits = [json.loads(line) for line in out.splitlines()]
    files = sorted(RLVR.glob("train_iteration_*.html"))
    expected = sum(p.read_text().lower().count("executive summary") for p in files)
    assert code == 0 and len(hits) == expected > 0
    assert all("executive summary" in h["snippet"].lower() for h in hits)
    code, out, _ = run(capsys, str(ARITH), "--regex", r"What is \d+ \+ 47\?", "--step", "0", "--json")
    hits = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and hits and all(h["step"] == 0 and h["message"] == 2 for h in hits)


def test_benchmark_path(capsys: pytest.CaptureFixture[str]) -> None:
    folder = next((FORMATS / "eval_store" / "runs").glob("final_*")) / "arith"
    code, out, _ = run(capsys, str(folder / "trajectories.jsonl"), "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and rows[0]["split"] == "benchmark:arith" and rows[0]["reward"] == 0.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--step", "9"], "no train iteration 9; steps: 0-5"),
        (["--split", "eval:nope"], "no eval:nope iterations in"),
        (["--regex", "("], "not a valid regular expression"),
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, _, err = run(capsys, str(ARITH), *argv)
    assert code == 2 and message in err


def test_search_and_regex_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run(capsys, str(ARITH), "--search", "a", "--regex", "b")
    assert exc.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_missing_path_exit_2_and_unreadable_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope"))
    assert code == 2 and "no such file or folder" in err
    (tmp_path / "train_iteration_000003.html").write_text("")
    code, _, err = run(capsys, str(tmp_path))
    assert code == 1 and "train_iteration_000003.html:1: no <body>" in err


def test_filters() -> None:
    it = load_iteration(next(r for r in list_iterations(ARITH) if r.step == 0))
    right = filter_trajectories(it.trajectories, correct=True)
    records = _summaries(ARITH / "iteration_000000" / "train_rollout_summaries.jsonl")
    assert len(right) == sum(r["steps"][0]["metrics"]["correct"] == 1.0 for r in records) > 0
    assert all(t.metrics["correct"] == 1.0 for t in right)
    fmt_bad = filter_trajectories(it.trajectories, format_ok=False)
    assert fmt_bad and all(t.metrics["format"] == 0.0 for t in fmt_bad)
    short = filter_trajectories(it.trajectories, max_tokens=5)
    assert short and all((t.tokens or 0) <= 5 for t in short)
    assert filter_trajectories(it.trajectories, min_reward=2.0) == []
    assert filter_trajectories(it.trajectories, stop_reason="max_tokens") == []


def test_search_hits_point_at_the_text() -> None:
    hits = list(search(ARITH, "44 + 47"))
    assert hits
    for h in hits:
        it = load_iteration(h.ref)
        traj = next(t for t in it.trajectories if (t.group, t.index) == (h.group, h.index))
        assert traj.messages[h.message].text[h.start : h.end] == "44 + 47"


def test_timing_shares_and_gantt() -> None:
    t = timing(ARITH)
    lines = _summaries(ARITH / "timing_spans.jsonl")
    assert [s.step for s in t.steps] == [x["step"] for x in lines]
    assert len(t.steps[0].spans) == len(lines[0]["spans"])
    assert t.steps[0].wall == pytest.approx(max(s["wall_end"] for s in lines[0]["spans"]))
    assert {"sampling", "training", "waiting"} <= set(t.shares) and t.problems == ()
    assert all(0.0 <= v <= 1.0 for v in t.shares.values())
    rows = gantt(t.steps[0], 30)
    assert any(r.startswith("train_step") and "training" in r and "█" in r for r in rows)
    assert timing(FORMATS / "rl_arith_stream").overlap > 0  # streaming: sampling during training


def test_import_boundary() -> None:
    code = (
        "import sys, importlib\n"
        "for m in ['runner.rollouts', 'runner.rollouts.cli', 'runner.rollouts.current', 'runner.rollouts.flat_html',"
        " 'runner.rollouts.benchmark', 'runner.rollouts.timing', 'runner.rollouts.search']:\n"
        "    importlib.import_module(m)\n"
        "before = sorted(m for m in ('textual', 'tinker_cookbook', 'torch') if m in sys.modules)\n"
        "from pathlib import Path\n"
        "from runner.rollouts import list_iterations, load_iteration\n"
        f"load_iteration(list_iterations(Path({str(ARITH)!r}))[0])\n"
        "after = sorted(m for m in ('textual', 'tinker_cookbook', 'torch', 'tinker') if m in sys.modules)\n"
        "print(before, after)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] ['tinker_cookbook']"


def test_search_covers_every_split_unless_one_is_given(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(ARITH), "--search", "44 + 47", "--json")
    splits = {json.loads(line)["split"] for line in out.splitlines()}
    assert code == 0 and splits == {"train", "eval:test"}
    code, out, _ = run(capsys, str(ARITH), "--search", "44 + 47", "--split", "eval:test", "--json")
    assert code == 0 and {json.loads(line)["split"] for line in out.splitlines()} == {"eval:test"}


def test_timing_bad_lines_and_unreadable_file_are_named(tmp_path: Path) -> None:
    lines = (ARITH / "timing_spans.jsonl").read_text().splitlines()
    (tmp_path / "timing_spans.jsonl").write_text(
        "\n".join([lines[0], lines[1][:50], '{"spans": []}', *lines[2:]])
    )
    t = timing(tmp_path)
    assert [s.step for s in t.steps] == [0, *range(2, len(lines))]
    assert t.problems[0].startswith(f"{tmp_path / 'timing_spans.jsonl'}:2: not JSON (")
    assert t.problems[1].endswith(":3: not a timing record (no integer step)")
    other = tmp_path / "other"
    (other / "timing_spans.jsonl").mkdir(parents=True)
    broken = timing(other)
    assert broken.steps == () and broken.problems and "timing_spans.jsonl" in broken.problems[0]
    assert timing(tmp_path / "none").problems == ()


def test_same_prompt_at_another_step_and_split() -> None:
    refs = list_iterations(ARITH)
    first = load_iteration(refs[0])
    traj = next(t for t in first.trajectories if t.has_text)
    prompt = prompt_of(traj)
    assert prompt == traj.messages[2].text  # few-shot pair first, then the question
    later = load_iteration(next(r for r in refs if r.split == "eval:test" and r.step == 4))
    found = same_prompt(later.trajectories, prompt)
    tree = (Path(later.ref.source)).read_text()
    assert found and tree.count(json.dumps(prompt)) >= len(found)
    assert same_prompt(later.trajectories, "no such prompt") == []


def test_timing_flag(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _summaries(ARITH / "timing_spans.jsonl")
    code, out, _ = run(capsys, str(ARITH), "--timing", "--step", "1", "--json")
    row = json.loads(out)
    assert code == 0 and row["step"] == 1 and len(row["spans"]) == len(lines[1]["spans"])
    assert row["shares"]["training"] > 0
    code, out, _ = run(capsys, str(ARITH), "--timing")
    assert code == 0 and f"step {lines[-1]['step']}:" in out and "train_step" in out
    code, _, err = run(capsys, str(ARITH), "--timing", "--step", "99")
    assert code == 2 and "steps: 0-5" in err
