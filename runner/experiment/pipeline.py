"""``tinkertop experiment``: base eval -> training through the runner -> trained eval -> results.

Each stage records its completion in ``experiment_state.json`` in the results folder; a rerun with the
same folder resumes after the last completed stage (never training again once the run has finished). A
failed stage raises :class:`StageFailed` naming it; what was written stays.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.experiment import evals, results

STATE_FILE = "experiment_state.json"
STAGES = ("plan", "base_eval", "train", "trained_eval", "summary")
POLL_S = 2.0


class StageFailed(RuntimeError):
    """A stage that did not complete: ``stage`` names it, the message says why."""

    def __init__(self, stage: str, why: str) -> None:
        super().__init__(f"stage {stage} failed: {why}")
        self.stage = stage


@dataclass
class Options:
    recipe: str
    eval_set: str
    overrides: list[str] = field(default_factory=list)
    max_examples: int | None = None
    local: bool = False
    smoke: bool = False
    name: str | None = None
    temperature: float = 0.0
    max_tokens: int = 32

    def key(self) -> dict[str, Any]:
        """What makes two invocations the same experiment (a rerun must match it to resume)."""
        return asdict(self) | {"name": None}


@dataclass
class Experiment:
    """The pipeline's state, saved after every stage."""

    out: Path
    options: Options
    done: dict[str, str] = field(default_factory=dict)  # stage -> time it completed
    plan: dict[str, Any] = field(default_factory=dict)  # task_type, name, log_path, config, launch
    run_id: str | None = None
    scores: dict[str, float] = field(default_factory=dict)

    def save(self) -> None:
        data = {
            "options": asdict(self.options),
            "done": self.done,
            "plan": self.plan,
            "run_id": self.run_id,
            "scores": self.scores,
        }
        results.write_atomic(self.out / STATE_FILE, json.dumps(data, indent=1, default=str) + "\n")

    def mark(self, stage: str) -> None:
        self.done[stage] = datetime.now().isoformat(timespec="seconds")
        self.save()


def load(out: Path, options: Options) -> Experiment:
    """The saved experiment of ``out`` (refused if it was another experiment), or a new one."""
    path = out / STATE_FILE
    if not path.exists():
        return Experiment(out, options)
    try:
        data = json.loads(path.read_text())
        saved = Options(**data["options"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StageFailed("plan", f"{path}: unreadable experiment state: {exc}") from exc
    if saved.key() != options.key():
        raise StageFailed(
            "plan", f"{out} holds another experiment ({saved.recipe}, {saved.eval_set}); use --out"
        )
    return Experiment(
        out, saved, data.get("done", {}), data.get("plan", {}), data.get("run_id"), data.get("scores", {})
    )


def run(exp: Experiment, cwd: Path, say: Any = print) -> dict[str, Any]:
    """Run every stage not yet done; returns the summary."""
    for stage in STAGES:
        if stage in exp.done:
            say(f"{stage}: done already")
            continue
        say(f"{stage}: running")
        try:
            STAGE_FUNCS[stage](exp, cwd)
        except StageFailed:
            raise
        except Exception as exc:  # any failure of a stage is reported as that stage's, state kept
            raise StageFailed(stage, f"{type(exc).__name__}: {exc}") from exc
        exp.mark(stage)
    return results.read_summary(exp.out / results.SUMMARY_FILE)


def _request(exp: Experiment, cwd: Path) -> Any:
    from runner.control.launch import LaunchRequest

    o = exp.options
    log = exp.plan.get("log_path") or str((exp.out / "logs" / exp.plan["name"]).resolve())
    overrides = [*o.overrides, f"log_path={log}"]
    return LaunchRequest(recipe=o.recipe, overrides=overrides, local=o.local, smoke=o.smoke, cwd=cwd)


def stage_plan(exp: Experiment, cwd: Path) -> None:
    """Validate the launch (a dry run through ``runner.api``): the resolved config, name and folder."""
    from runner import api
    from runner.control.catalogue import by_key

    o = exp.options
    recipe = by_key().get(o.recipe)
    kind = recipe.kind if recipe else ""
    if kind not in ("rl", "sl"):
        raise StageFailed(
            "plan", f"{o.recipe}: experiments need an RL or SL recipe (this is {kind or 'unknown'})"
        )
    exp.plan = {"task_type": "rl" if kind == "rl" else "sft"}
    exp.plan["name"] = o.name or f"{o.recipe}-{datetime.now().strftime('%m%d-%H%M%S')}"
    _items(exp)  # a bad eval set is refused before anything runs
    got = api.launch_request(_request(exp, cwd), dry_run=True)
    if not got.ok or not got.runs:
        raise StageFailed("plan", got.error or f"the launch does not validate (exit {got.exit_code})")
    run = got.runs[0]
    exp.plan.update(name=run.name, log_path=run.log_path, config=run.config)
    exp.plan["launch"] = {
        "recipe": o.recipe,
        "overrides": _request(exp, cwd).overrides,
        "local": o.local,
        "smoke": o.smoke,
    }


def _items(exp: Experiment) -> Any:
    o = exp.options
    rl = exp.plan["task_type"] == "rl"
    if rl and o.eval_set == evals.ARITHMETIC:
        return evals.arithmetic_set(o.max_examples or 50)
    if not Path(o.eval_set).exists() and evals.cookbook_benchmark(o.eval_set):
        if not rl:
            raise evals.EvalSetError(
                f"{o.eval_set}: a cookbook benchmark scores RL recipes; give SL a chat JSONL"
            )
        return o.eval_set  # run by name through the cookbook (its data may need the network)
    if not Path(o.eval_set).exists():
        raise evals.EvalSetError(f"--eval-set {o.eval_set}: not a file, 'arithmetic' or a cookbook benchmark")
    if rl:
        return evals.qa_file(Path(o.eval_set), o.max_examples)
    return evals.chat_file(Path(o.eval_set), o.max_examples)


def _evaluate(exp: Experiment, sampler_path: str | None, tag: str) -> list[dict[str, Any]]:
    if exp.options.local:
        from runner.control.localenv import backend_env

        os.environ.update(backend_env())  # this process only: the key is never written anywhere
    config = exp.plan["config"]
    model, renderer_name = str(config["model_name"]), str(config.get("renderer_name") or "")
    client = evals.sampling_client(model, sampler_path)
    renderer = evals.renderer_for(model, renderer_name)
    sampling = evals.Sampling(exp.options.temperature, exp.options.max_tokens)
    items = _items(exp)
    if exp.plan["task_type"] == "rl":
        save = exp.out / "evals" / tag
        return evals.eval_rl(items, client, renderer, sampling, save, exp.options.max_examples)
    return evals.eval_sft(items, client, renderer, sampling)


def stage_base_eval(exp: Experiment, cwd: Path) -> None:
    rows = _evaluate(exp, None, "base")
    results.write_rows(exp.out / results.BASE_FILE, rows)


def stage_train(exp: Experiment, cwd: Path) -> None:
    """Launch once (the run id is saved at once), then wait for the run to end."""
    from runner import api

    if not exp.run_id:
        got = api.launch_request(_request(exp, cwd), dry_run=False)
        if not got.ok or not got.ids:
            raise StageFailed("train", got.error or f"the launch failed (exit {got.exit_code})")
        exp.run_id = got.ids[0]
        exp.save()
    status = wait_run(exp.run_id)
    if status != "finished":
        raise StageFailed(
            "train", f"run {exp.plan['name']} ended {status} (see tinkertop show {exp.plan['log_path']})"
        )


def wait_run(run_id: str, poll: float = POLL_S) -> str:
    """Block until the supervised run is terminal (or lost); its status."""
    from runner.control import records, state_dir
    from runner.status import TERMINAL, Status

    while True:
        status = records.effective_status(state_dir.read_state(run_id) or {})
        if status in TERMINAL or status == Status.LOST:
            return str(status)
        time.sleep(poll)


def final_checkpoint(log_path: Path) -> dict[str, Any]:
    """The last ``final`` record of ``checkpoints.jsonl`` (ValueError when there is none)."""
    final: dict[str, Any] | None = None
    path = log_path / "checkpoints.jsonl"
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("name") == "final":
            final = row
    if final is None or not final.get("sampler_path"):
        raise ValueError(f"{path}: no 'final' checkpoint with a sampler_path")
    return final


def stage_trained_eval(exp: Experiment, cwd: Path) -> None:
    final = final_checkpoint(Path(exp.plan["log_path"]))
    rows = _evaluate(exp, str(final["sampler_path"]), "trained")
    results.write_rows(exp.out / results.TRAINED_FILE, rows)


def stage_summary(exp: Experiment, cwd: Path) -> None:
    from runner.experiment.summary import build_summary, complete_record

    summary = build_summary(exp)
    results.write_summary(exp.out / results.SUMMARY_FILE, summary)
    complete_record(exp, summary)


STAGE_FUNCS = {
    "plan": stage_plan,
    "base_eval": stage_base_eval,
    "train": stage_train,
    "trained_eval": stage_trained_eval,
    "summary": stage_summary,
}
