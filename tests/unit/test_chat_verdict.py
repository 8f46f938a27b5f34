"""``runner.chat.targets`` (what ``tinkertop chat`` samples from) and ``runner.experiment.verdict``
(the result view's headline and paired intervals), on real files from ``shared/formats``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from runner.chat.targets import TargetError, load_target, model_and_renderer
from runner.experiment.results import read_results
from runner.experiment.verdict import (
    find_results,
    mcnemar_exact,
    newcombe_paired,
    t_quantile,
    verdict,
    wilson,
)
from tests.shared_data import SHARED

FORMATS = SHARED / "formats"


def _need(name: str) -> Path:
    path = FORMATS / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


def test_run_choices_and_pick() -> None:
    target = load_target(str(_need("cli_chat_sl")))
    assert (target.model_name, target.renderer_name) == ("meta-llama/Llama-3.2-1B", "role_colon")
    assert [c.name for c in target.choices] == ["base", "000002", "final"]
    assert target.pick(None).name == "final" and target.pick("base").sampler_path is None
    assert target.pick("2").name == "000002" and target.pick("000002").step == 2
    assert [c.label for c in target.choices] == ["base model", "000002", "final"]
    with pytest.raises(TargetError, match="no checkpoint '7'.*base, 000002, final"):
        target.pick("7")


def test_run_without_final_defaults_to_last_and_bad_lines(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"dataset_builder": {"model_name_for_tokenizer": "m"}}))
    lines = ['{"name": "000004", "batch": 4, "sampler_path": "tinker://r/sampler_weights/000004"}', "{oops"]
    (tmp_path / "checkpoints.jsonl").write_text("\n".join(lines) + "\n")
    target = load_target(str(tmp_path))
    assert target.pick(None).name == "000004" and target.model_name == "m" and target.renderer_name is None
    assert model_and_renderer(None) == (None, None)
    with pytest.raises(TargetError, match="not a run folder"):
        load_target(str(tmp_path / "missing"))


def test_known_interval_values() -> None:
    low, high = wilson(5, 10)
    assert math.isclose(low, 0.2366, abs_tol=1e-4) and math.isclose(high, 0.7634, abs_tol=1e-4)
    assert math.isclose(mcnemar_exact(15, 5), 0.04139, abs_tol=1e-5)  # 2 * P(Binomial(20, 1/2) <= 5)
    assert math.isclose(t_quantile(10), 2.2281, abs_tol=2e-3) and math.isclose(
        t_quantile(1000), 1.9623, abs_tol=1e-3
    )
    low, high = newcombe_paired(40, 0, 0, 60)  # nothing flipped: an interval around 0
    assert low < 0 < high and math.isclose(-low, high, abs_tol=1e-9)
    low, high = newcombe_paired(10, 30, 2, 58)  # +28 pts on 100 paired rows
    assert 0.15 < low < 0.28 < high < 0.40


def test_verdict_of_the_shared_examples() -> None:
    rl = verdict(read_results(_need("results_example")))
    assert rl.headline == "Base 12% -> Trained 75% (+62 pts, n=8)" and (rl.improved, rl.regressed) == (5, 0)
    assert "McNemar exact p=0.0625" in rl.interval
    sft = verdict(read_results(_need("results_example_sft")))
    assert sft.headline == "NLL base 2.580 -> trained 1.305 (-49.4%, n=16)" and "paired t" in sft.interval


def test_find_results_by_layout_and_by_log_path(tmp_path: Path) -> None:
    run = tmp_path / "results" / "logs" / "run1"
    run.mkdir(parents=True)
    assert find_results(run) is None
    (tmp_path / "results" / "summary.json").write_text("{}")
    assert find_results(run) == tmp_path / "results"
    other = tmp_path / "elsewhere" / "run2"
    other.mkdir(parents=True)
    (tmp_path / "elsewhere" / "results").mkdir()
    (tmp_path / "elsewhere" / "results" / "summary.json").write_text(json.dumps({"log_path": str(other)}))
    assert find_results(other) == tmp_path / "elsewhere" / "results"


def test_prompts_from_results_then_data_files(tmp_path: Path) -> None:
    from runner.chat.prompts import row_prompt, run_prompts

    assert (
        row_prompt({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]})
        == "u"
    )
    comparison = {
        "comparison": {"prompt_conversation": [{"role": "user", "content": "Which?"}]},
        "label": "A",
    }
    assert (
        row_prompt(comparison) == "Which?" and row_prompt({"problem": "p"}) == "p" and row_prompt([1]) == ""
    )
    run = tmp_path / "results" / "logs" / "run"
    run.mkdir(parents=True)
    (tmp_path / "results" / "summary.json").write_text("{}")
    (tmp_path / "results" / "base_model.jsonl").write_text(
        json.dumps({"index": 0, "question": "held out?"}) + "\n"
    )
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train.write_text(json.dumps({"messages": [{"role": "user", "content": "train?"}]}) + "\n{broken\n")
    test.write_text(json.dumps({"question": "test?"}) + "\n")
    config = {"builder": {"train_path": str(train), "test_path": str(test), "file_path": "missing.jsonl"}}
    (run / "config.json").write_text(json.dumps(config))
    assert run_prompts(str(run)) == ["held out?", "test?", "train?"]
