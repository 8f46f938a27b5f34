"""runner.experiment.pipeline and evals without a backend: eval sets, resumable stages, the summary stage,
the experiment record's results section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.cli import main
from runner.control import experiments
from runner.experiment import evals, pipeline, results
from runner.experiment.check import run_checks
from tests.unit.experiment_folders import make_folder


def _options(**kw: object) -> pipeline.Options:
    base: dict = {"recipe": "math_rl", "eval_set": "arithmetic", "max_examples": 4, "local": True}
    return pipeline.Options(**(base | kw))


def test_arithmetic_set_is_fixed_and_uses_the_env_few_shot_turn() -> None:
    first, again = evals.arithmetic_set(5), evals.arithmetic_set(5)
    assert first == again and len(first) == 5
    x, y = (int(t) for t in first[0].question.removeprefix("What is ").removesuffix("?").split(" + "))
    assert first[0].answer == str(x + y) and first[0].prefix[0] == ("user", "What is 4 + 5?")


def test_grading_takes_the_last_number() -> None:
    assert evals.extract_answer("12 + 3 = 1,015. So 1,015") == "1015"
    assert evals.extract_answer("no number") is None
    assert evals.is_correct("15", "15") and evals.is_correct("15.0", "15") and not evals.is_correct(None, "1")


def test_eval_set_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"question": "q", "answer": 1}\n\n{"question": "q2"}\n')
    with pytest.raises(evals.EvalSetError, match=r"set.jsonl:3: an RL row needs 'question' and 'answer'"):
        evals.qa_file(path, None)
    assert evals.qa_file(path, 1) == [evals.QA("q", "1")]
    path.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    with pytest.raises(evals.EvalSetError, match=r"set.jsonl:1: an SFT row needs 'messages' ending with an"):
        evals.chat_file(path, None)
    path.write_text(
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
    )
    assert evals.chat_file(path, None) == [evals.Chat([{"role": "user", "content": "hi"}], "yo")]


def test_experiment_refuses_a_bad_eval_set_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "set.jsonl").write_text("{oops\n")
    code = main(["experiment", "chat_sl", "--eval-set", "set.jsonl", "--local", "--out", "res"])
    err = capsys.readouterr().err
    assert code == 2 and "stage plan failed" in err and "set.jsonl:1: not JSON" in err
    assert not (tmp_path / "results").exists() and not (tmp_path / "res" / "experiment_state.json").exists()


def test_a_recipe_that_is_not_rl_or_sl_is_refused(tmp_path: Path) -> None:
    exp = pipeline.Experiment(tmp_path, _options(recipe="dpo"))
    with pytest.raises(pipeline.StageFailed, match="experiments need an RL or SL recipe"):
        pipeline.run(exp, tmp_path, say=lambda _: None)


def test_another_experiment_in_the_folder_is_refused_the_same_resumes(tmp_path: Path) -> None:
    exp = pipeline.Experiment(tmp_path, _options())
    exp.mark("plan")
    assert pipeline.load(tmp_path, _options()).done.keys() == {"plan"}
    with pytest.raises(pipeline.StageFailed, match="holds another experiment"):
        pipeline.load(tmp_path, _options(max_examples=9))
    (tmp_path / pipeline.STATE_FILE).write_text("{")
    with pytest.raises(pipeline.StageFailed, match="unreadable experiment state"):
        pipeline.load(tmp_path, _options())


def _trained(tmp_path: Path) -> pipeline.Experiment:
    """An experiment whose first three stages are done (rows and the run's folder made by hand)."""
    out = make_folder(tmp_path, "rl")
    (out / results.SUMMARY_FILE).unlink()
    exp = pipeline.Experiment(out, _options())
    launch = {"recipe": "math_rl", "overrides": [], "local": True, "smoke": False}
    config = {"model_name": "m", "renderer_name": "r", "lora_rank": 4, "learning_rate": 1e-3}
    config |= {"group_size": 2, "groups_per_batch": 2}
    exp.plan = {"task_type": "rl", "name": "run1", "log_path": str(out / "logs" / "run1"), "config": config}
    exp.plan["launch"] = launch
    for stage in ("plan", "base_eval", "train"):
        exp.mark(stage)
    return exp


def test_a_failed_stage_says_which_keeps_what_was_written_and_resumes(tmp_path: Path) -> None:
    exp = _trained(tmp_path)
    ckpts = Path(exp.plan["log_path"]) / "checkpoints.jsonl"
    good = ckpts.read_text()
    ckpts.write_text(good.splitlines()[0] + "\n")  # the run has no final checkpoint
    with pytest.raises(pipeline.StageFailed, match="stage trained_eval failed: .*no 'final' checkpoint"):
        pipeline.run(exp, tmp_path, say=lambda _: None)
    again = pipeline.load(exp.out, _options())
    assert list(again.done) == ["plan", "base_eval", "train"]
    assert (exp.out / results.BASE_FILE).exists()


def test_the_summary_stage_writes_every_field_and_check_passes(tmp_path: Path) -> None:
    exp = _trained(tmp_path)
    exp.mark("trained_eval")
    said: list[str] = []
    summary = pipeline.run(exp, tmp_path, say=said.append)
    assert said[:4] == [
        "plan: done already",
        "base_eval: done already",
        "train: done already",
        "trained_eval: done already",
    ]
    assert summary["baseline_score"] == 0.5 and summary["delta"] == 0.0 and summary["steps"] == 3
    assert summary["examples"] == 12 and summary["tinker_run_id"] == "abc-123:train:0"
    assert summary["wandb_url"] is None and summary["sampling"] == {"temperature": 0.0, "max_tokens": 32}
    items = run_checks(exp.out, tmp_path, dry_run=False)
    assert all(i.ok for i in items if i.name != "launch"), [i.line() for i in items]


def test_wandb_url_is_the_last_logged_one(tmp_path: Path) -> None:
    from runner.experiment.summary import wandb_url

    line = "2026-01-01 tinker_cookbook.utils.ml_log:342 [INFO] Logging to: https://wandb.ai/a/b/runs/{}\n"
    (tmp_path / "logs.log").write_text(line.format("x") + "other\n" + line.format("y"))
    assert wandb_url(tmp_path) == "https://wandb.ai/a/b/runs/y"
    (tmp_path / "logs.log").write_text("no wandb\n")
    assert wandb_url(tmp_path) is None


def test_record_gets_a_results_section_the_metrics_fill_keeps(tmp_path: Path) -> None:
    path = tmp_path / "rec.md"
    spec = {
        "name": "r",
        "recipe": "math_rl",
        "target": "t",
        "created_at": "now",
        "log_path": "l",
        "run_id": "i",
    }
    experiments.write_launch_record(path, spec, {}, {})
    experiments.fill_results(path, ["- accuracy: base 10% -> trained 20%"])
    experiments.fill_results(path, ["- accuracy: base 10% -> trained 30%"])
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"step": 0, "env/all/correct": 0.5}) + "\n")
    experiments.fill_metrics(path, "finished", 0, tmp_path, "later")
    text = path.read_text()
    assert text.count(experiments.RESULTS_MARK) == 1 and "trained 30%" in text and "trained 20%" not in text
    assert text.index(experiments.RESULTS_MARK) < text.index(experiments.METRICS_MARK)
    assert "finished (exit code 0)" in text


def test_experiment_modules_import_nothing_heavy() -> None:
    from tests.probes import modules_after

    mods = modules_after(
        "import runner.experiment.cli, runner.experiment.pipeline, runner.experiment.check, "
        "runner.experiment.results, runner.experiment.summary, runner.experiment.evals, runner.experiment.start"
    )
    assert "runner" in mods  # the probe works
    assert not mods & {"torch", "tinker", "tinker_cookbook", "pandas", "textual"}


def test_cookbook_benchmarks_are_found_by_name_without_import() -> None:
    assert evals.cookbook_benchmark("gsm8k") and evals.cookbook_benchmark("math500")
    assert not evals.cookbook_benchmark("gsm9k") and not evals.cookbook_benchmark("../x")


def test_an_unknown_eval_set_is_named(tmp_path: Path) -> None:
    exp = pipeline.Experiment(tmp_path, _options(eval_set="gsm9k"))
    with pytest.raises(
        pipeline.StageFailed, match="--eval-set gsm9k: not a file, 'arithmetic' or a cookbook"
    ):
        pipeline.run(exp, tmp_path, say=lambda _: None)


def test_rows_from_stored_trajectories() -> None:
    from tinker_cookbook.eval.benchmarks import StoredTrajectory, StoredTurn

    logs = {"input": "Q?", "expected": "7", "extracted": "7", "output": "it is 7"}
    graded = StoredTrajectory(idx=3, benchmark="b", reward=1.0, metrics={"correct": 1.0}, logs=logs)
    assert evals.row_of(graded, None) == {
        "index": 3, "question": "Q?", "ground_truth": "7", "completion": "it is 7",
        "extracted_answer": "7", "correct": True,
    }  # fmt: skip
    cut = StoredTrajectory(idx=0, benchmark="b", turns=[StoredTurn("assistant", "so 4 and")], reward=-1.0)
    row = evals.row_of(cut, evals.QA("What is 2 + 2?", "4"))
    assert row["question"] == "What is 2 + 2?" and row["completion"] == "so 4 and" and row["correct"] is False
