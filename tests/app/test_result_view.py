"""The run view's Results tab (``v``) on hand-made results folders that follow the experiment schema.

Real files: the cookbook run (``shared/formats/rl_arith``) sits in ``results/logs/<run_name>`` beside
``summary.json``, ``base_model.jsonl`` and ``trained_model.jsonl`` written as ``tinkertop experiment``
writes them (``runner.experiment.results.write_rows``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.experiment.results import write_rows, write_summary
from tests.app.conftest import copy_run, wait_until
from tests.app.screen_text import screen_text
from tui.app import TinkertopApp
from tui.widgets.result_view import ResultView

LONG = (
    "Let me add the tens first: 40 + 20 = 60.\nThen the units: 7 + 5 = 12.\nSo the total is 72.\n\\boxed{72}"
)


def rl_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """20 arithmetic rows: base right on 0-7, trained right on 2-15 (2 regressed, 8 improved)."""
    base, trained = [], []
    for i in range(20):
        a, b = 47 + i, 25 + 2 * i
        truth = str(a + b)
        question = f"What is {a} + {b}?"
        for rows, right in ((base, i < 8), (trained, 2 <= i < 16)):
            answer = truth if right else str(a + b + 10)
            completion = LONG if (i == 9 and rows is trained) else f"The answer is {answer}."
            rows.append(
                {
                    "index": i,
                    "question": question,
                    "ground_truth": truth,
                    "completion": completion,
                    "extracted_answer": answer,
                    "correct": right,
                }
            )
    return base, trained


def results_folder(tmp_path: Path) -> tuple[Path, Path]:
    results = tmp_path / "results"
    run = copy_run("rl_arith", results / "logs")
    base, trained = rl_rows()
    write_rows(results / "base_model.jsonl", base)
    write_rows(results / "trained_model.jsonl", trained)
    summary = {
        "task_type": "rl",
        "tinker_run_id": "a8824b15-6dae-53a0-b0a9-9cec7d004142:train:0",
        "log_path": str(run),
        "wandb_url": None,
        "baseline_score": 0.4,
        "trained_score": 0.7,
        "delta": 0.3,
        "n": 20,
    }
    write_summary(results / "summary.json", summary)
    return results, run


async def open_results(pilot, app: TinkertopApp) -> ResultView:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
    await pilot.press("enter")
    await wait_until(pilot, app._run_view, what="the run view")
    await pilot.press("v")
    return app.screen.query_one(ResultView)


async def test_result_view_headline_and_flips(tmp_path: Path) -> None:
    results, _run = results_folder(tmp_path)
    app = TinkertopApp([results / "logs"])
    async with app.run_test(size=(160, 50)) as pilot:
        view = await open_results(pilot, app)
        await wait_until(pilot, lambda: view.flips, what="the flipped rows")
        text = screen_text(app)
        assert "Base 40% -> Trained 70% (+30 pts, n=20)" in text
        assert "95% CI of the gain" in text and "McNemar exact p=" in text and "Newcombe" in text
        assert "8 improved, 2 regressed" in text
        assert [f.index for f in view.flips] == [8, 9, 10, 11, 12, 13, 14, 15, 0, 1]
        assert view.table.row_count == 10
        # the first flip (improved), both answers side by side
        assert "#8 improved" in text and "What is 55 + 41?" in text and "ground truth 96" in text
        assert "The answer is 106." in text and "The answer is 96." in text
        await pilot.press("down")  # row 9: the trained answer is long and shown in full, every line
        await wait_until(pilot, lambda: "So the total is 72." in screen_text(app), what="flip 9 in full")
        text = screen_text(app)
        assert "Let me add the tens first" in text and "\\boxed{72}" in text
        await pilot.press(*["down"] * 8)  # the last flip: a regression
        await wait_until(pilot, lambda: "#1 regressed" in screen_text(app), what="a regressed row")
        assert "✓ correct" in screen_text(app) and "✗ wrong" in screen_text(app)


async def test_result_view_names_a_malformed_line(tmp_path: Path) -> None:
    results, _run = results_folder(tmp_path)
    path = results / "trained_model.jsonl"
    lines = path.read_text().splitlines()
    lines[4] = lines[4][:30]  # a row cut in half
    path.write_text("\n".join(lines) + "\n")
    app = TinkertopApp([results / "logs"])
    async with app.run_test(size=(160, 50)) as pilot:
        await open_results(pilot, app)
        await wait_until(pilot, lambda: "results cannot be read" in screen_text(app), what="the error")
        assert "trained_model.jsonl:5: not JSON" in screen_text(app)


async def test_result_view_sft_and_found_by_log_path(tmp_path: Path) -> None:
    """An SFT folder elsewhere whose summary's log_path names the run: NLL and the relative change."""
    run = copy_run("sl_conversations", tmp_path)
    results = tmp_path / "results"
    prompts = ["Who wrote 'The Odyssey'?", "What is the largest ocean?", "Who developed the polio vaccine?"]
    base = [
        {"index": i, "prompt": [{"role": "user", "content": p}], "completion": "x", "nll": 2.0 + i / 10}
        for i, p in enumerate(prompts)
    ]
    trained = [{**r, "nll": r["nll"] - 1.0 + (1.5 if r["index"] == 2 else 0.0)} for r in base]
    write_rows(results / "base_model.jsonl", base)
    write_rows(results / "trained_model.jsonl", trained)
    summary = {"task_type": "sft", "log_path": str(run), "baseline_nll": 2.1, "trained_nll": 1.6}
    (results / "summary.json").write_text(json.dumps(summary))
    app = TinkertopApp([run])
    async with app.run_test(size=(160, 50)) as pilot:
        view = await open_results(pilot, app)
        await wait_until(pilot, lambda: view.flips, what="the rows whose NLL moved")
        text = screen_text(app)
        assert "NLL base 2.100 -> trained 1.600 (-23.8%, n=3)" in text and "paired t" in text
        assert "2 improved, 1 regressed" in text


async def test_result_view_without_results(tmp_path: Path) -> None:
    copy_run("rl_arith", tmp_path)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(160, 50)) as pilot:
        await open_results(pilot, app)
        await wait_until(pilot, lambda: "No results folder for this run" in screen_text(app), what="the note")
