"""Research records: ``notes/experiments/<date>-<run_name>.md`` written at launch, metrics at the end."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

from runner.control.creds import redact
from runner.experiment.results import write_atomic

HEADLINE = (
    "env/all/reward/total",
    "test/env/all/reward/total",
    "env/all/correct",
    "test/env/all/correct",
    "train_mean_nll",
    "test/nll",
    "dpo_loss",
    "accuracy",
    "teacher_kl",
    "optim/kl_sample_train_v1",
    "optim/lr",
    "learning_rate",
)
METRICS_MARK = "## Key metrics"


def record_path(cwd: str | Path, name: str, day: date | None = None) -> Path:
    day = day or date.today()
    return Path(cwd) / "notes" / "experiments" / f"{day.isoformat()}-{name}.md"


def write_launch_record(path: Path, spec: dict[str, Any], config: dict[str, Any], code: dict) -> None:
    """The record as known at launch: name, commit, resolved config, log path."""
    lines = [
        f"# {spec['name']}",
        "",
        f"- recipe: `{spec['recipe']}` (`{spec['target']}`)",
        f"- launched: {spec['created_at']}",
        f"- backend: {'local (embedded)' if spec.get('local') else 'hosted Tinker'}",
        f"- log path: `{spec['log_path']}`",
        f"- commit: {code.get('commit') or 'not a git repo'}{' (dirty)' if code.get('dirty') else ''}",
        f"- run id: `{spec['run_id']}`",
        "",
        "## Resolved config",
        "",
        "```json",
        json.dumps(config, indent=1, sort_keys=True, default=str),
        "```",
        "",
        METRICS_MARK,
        "",
        "_filled in when the run ends_",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact("\n".join(lines)))


def last_metrics(metrics_file: Path) -> tuple[int | None, dict[str, Any]]:
    """Last step and the last value of each headline metric (corrupt lines skipped)."""
    last: dict[str, Any] = {}
    step = None
    try:
        text = metrics_file.read_text(errors="replace")
    except OSError:
        return None, {}
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if not isinstance(row, dict):
            continue
        if isinstance(row.get("step"), int):
            step = row["step"]
        for key in HEADLINE:
            if key in row:
                last[key] = row[key]
    return step, last


def _fmt(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return str(value)


def fill_metrics(path: Path, status: str, exit_code: int | None, log_path: Path, ended: str) -> None:
    """Replace the metrics section of the record with the run's outcome and last headline values."""
    try:
        text = path.read_text()
    except OSError:
        return
    step, values = last_metrics(log_path / "metrics.jsonl")
    lines = [METRICS_MARK, "", f"- outcome: {status} (exit code {exit_code}) at {ended}"]
    lines.append(f"- last step: {step if step is not None else 'none logged'}")
    lines += [f"- `{key}`: {_fmt(value)}" for key, value in values.items()]
    head = text.split(METRICS_MARK, 1)[0]
    write_atomic(path, redact(head + "\n".join(lines) + "\n"))


RESULTS_MARK = "## Experiment results"


def fill_results(path: Path, lines: list[str]) -> None:
    """Put (or replace) the experiment's results section, before the metrics section (which
    ``fill_metrics`` rewrites when the run ends, keeping everything before it)."""
    try:
        text = path.read_text()
    except OSError:
        return
    head, mark, tail = text.partition(METRICS_MARK)
    head = head.split(RESULTS_MARK, 1)[0].rstrip("\n") + "\n\n"
    section = "\n".join([RESULTS_MARK, "", *lines, "", ""])
    write_atomic(path, redact(head + section + mark + tail))
