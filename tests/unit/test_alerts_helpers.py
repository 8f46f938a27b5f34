"""Helpers for the alert tests (no tests here): real runs from ../shared/realdata, and copies with a visible change."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner.alerts import Alert, AlertEngine, Settings
from runner.runs.folder import RunFolder
from tests.shared_data import SHARED

REALDATA = SHARED / "realdata"
ARVIND = REALDATA / "arvindcr4_tinker-rl-lab/experiments/results"
ARITH = ARVIND / "arithmetic_metrics.jsonl"
DISTILL_ON = ARVIND / "distillation_on_metrics.jsonl"
DISTILL_OFF = ARVIND / "distillation_off_metrics.jsonl"
BZZ = REALDATA / "bzz_tinker-cookbook_context_distillation/data/context_distillation/logs"
IFRL = REALDATA / "sushantmehta_tinker-cookbook_IF_RLVR"
JOAN = REALDATA / "joanvelja_tinker-cookbook/reports/data"
CRASH_LOG = REALDATA / "arvindcr4_tinker-experiments/logs/tinker_dpo.log"


def rows_of(path: Path) -> list[dict[str, Any]]:
    src = path / "metrics.jsonl" if path.is_dir() else path
    return [json.loads(line) for line in src.read_text().splitlines() if line.strip()]


def write_rows(path: Path, rows: list[dict[str, Any]], mode: str = "w") -> None:
    """One JSON line per row; NaN/Infinity as the bare tokens the cookbook writes."""
    with path.open(mode) as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)


def copy_run(src: Path, dst: Path, edit: Callable[[list[dict[str, Any]]], None] | None = None) -> Path:
    """A copy of a real run as a run folder under ``dst`` (side files too), ``edit`` applied to its rows."""
    dst.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        for name in ("config.json", "checkpoints.jsonl", "logs.log"):
            if (src / name).exists():
                shutil.copy(src / name, dst / name)
    rows = rows_of(src)
    if edit:
        edit(rows)
    write_rows(dst / "metrics.jsonl", rows)
    return dst


def alerts_for(path: Path, settings: Settings | None = None) -> list[Alert]:
    run = RunFolder(path)
    run.refresh()
    return AlertEngine(settings).evaluate(run)


def by_rule(alerts: list[Alert], rule: str, min_level: int = 2) -> list[Alert]:
    return [a for a in alerts if a.rule == rule and a.level >= min_level]
