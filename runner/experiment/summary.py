"""``summary.json`` from an experiment's state, run folder and runner record; the experiment record's
results section."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from runner.experiment import results

WANDB_LINE = re.compile(r"ml_log:\d+ \[INFO\] Logging to: (https?://\S+)")


def run_id_of(tinker_path: str) -> str:
    """``tinker://<run id>/weights/final`` -> the training run id."""
    return tinker_path.removeprefix("tinker://").split("/", 1)[0]


def last_checkpoint(log_path: Path) -> dict[str, Any]:
    rows = [json.loads(x) for x in (log_path / "checkpoints.jsonl").read_text().splitlines() if x.strip()]
    if not rows:
        raise ValueError(f"{log_path / 'checkpoints.jsonl'}: no checkpoint record")
    return dict(rows[-1])


def wandb_url(log_path: Path) -> str | None:
    """The last ``Logging to: <url>`` of ``logs.log``; None when W&B was off."""
    try:
        found = WANDB_LINE.findall((log_path / "logs.log").read_text(errors="replace"))
    except OSError:
        return None
    return found[-1] if found else None


def steps_logged(log_path: Path) -> int:
    steps = []
    for line in (log_path / "metrics.jsonl").read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int):
            steps.append(row["step"])
    return max(steps) + 1 if steps else 0


def examples_seen(task_type: str, config: dict[str, Any], steps: int) -> int:
    """Training examples: episodes for RL (groups x group size), conversations for SFT, per step."""

    def num(key: str) -> int:
        value = config.get(key)
        return value if isinstance(value, int) else 0

    if task_type == "rl":
        return num("groups_per_batch") * num("group_size") * steps
    return num("batch_size") * steps


def run_record(run_id: str | None) -> dict[str, Any]:
    from runner.control import state_dir

    return (state_dir.read_state(run_id) or {}) if run_id else {}


def build_summary(exp: Any) -> dict[str, Any]:
    """Every field of ``results.SUMMARY_FIELDS`` plus the two scores of the task type."""
    task = exp.plan["task_type"]
    config, log_path = exp.plan["config"], Path(exp.plan["log_path"])
    base = results.read_rows(exp.out / results.BASE_FILE)
    trained = results.read_rows(exp.out / results.TRAINED_FILE)
    score = results.rl_score if task == "rl" else results.sft_score
    before, after = score(base), score(trained)
    steps = steps_logged(log_path)
    record = run_record(exp.run_id)
    first, second = results.SCORE_FIELDS[task]
    return {
        "task_type": task,
        "tinker_run_id": run_id_of(str(last_checkpoint(log_path).get("state_path", ""))),
        "log_path": str(log_path),
        "wandb_url": wandb_url(log_path),
        first: before,
        second: after,
        "delta": after - before,
        "n": len(trained),
        "eval_set": exp.options.eval_set,
        "recipe": exp.options.recipe,
        "run_name": exp.plan["name"],
        "model_name": str(config.get("model_name")),
        "renderer_name": config.get("renderer_name"),
        "lora_rank": int(config.get("lora_rank") or 0),
        "learning_rate": float(config.get("learning_rate") or 0.0),
        "steps": steps,
        "examples": examples_seen(task, config, steps),
        "sampling": {"temperature": exp.options.temperature, "max_tokens": exp.options.max_tokens},
        "git_commit": (record.get("code") or {}).get("commit"),
        "backend": "local" if exp.options.local else "tinker",
        "launch": exp.plan["launch"],
    }


def score_lines(summary: dict[str, Any]) -> list[str]:
    if summary["task_type"] == "rl":
        b, t = summary["baseline_score"], summary["trained_score"]
        head = f"- accuracy: base {b:.1%} -> trained {t:.1%} ({(t - b) * 100:+.1f} pts, n={summary['n']})"
    else:
        b, t = summary["baseline_nll"], summary["trained_nll"]
        head = f"- NLL: base {b:.4g} -> trained {t:.4g} ({t - b:+.4g}, n={summary['n']})"
    return [
        head,
        f"- eval set: `{summary['eval_set']}`, sampling {json.dumps(summary['sampling'])}",
        f"- tinker run id: `{summary['tinker_run_id']}`",
    ]


def complete_record(exp: Any, summary: dict[str, Any]) -> None:
    """The run's ``notes/experiments/`` record, completed with the scores."""
    from runner.control import experiments, state_dir

    if not exp.run_id:
        return
    try:
        spec = json.loads((state_dir.record_dir(exp.run_id) / "spec.json").read_text())
    except (OSError, ValueError):
        return
    path = spec.get("experiment_record")
    if path:
        lines = [*score_lines(summary), f"- results: `{exp.out}`"]
        experiments.fill_results(Path(path), lines)
