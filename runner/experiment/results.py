"""The ``results/`` folder of an experiment: schema, writer and reader.

Layout (one folder, the experiment's ``results/``)::

    base_model.jsonl      rows scored with the base model, sorted by index
    trained_model.jsonl   the same rows scored with the final checkpoint
    summary.json          scores, delta, ids and training metadata (``SUMMARY_FIELDS``)
    logs/<run_name>/      the cookbook's own log folder (``summary["log_path"]``)

RL rows ``{index, question, ground_truth, completion, extracted_answer, correct}``; SFT rows
``{index, prompt, completion, nll}``. ``read_results(dir)`` is what the app and ``tinkertop check`` use.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.json_rows import json_objects

BASE_FILE = "base_model.jsonl"
TRAINED_FILE = "trained_model.jsonl"
SUMMARY_FILE = "summary.json"

RL_ROW_FIELDS: dict[str, tuple[type, ...]] = {
    "index": (int,),
    "question": (str,),
    "ground_truth": (str,),
    "completion": (str,),
    "extracted_answer": (str, type(None)),
    "correct": (bool,),
}
SFT_ROW_FIELDS: dict[str, tuple[type, ...]] = {
    "index": (int,),
    "prompt": (list, str),
    "completion": (str,),
    "nll": (float, int),
}
ROW_FIELDS = {"rl": RL_ROW_FIELDS, "sft": SFT_ROW_FIELDS}
SCORE_FIELDS = {"rl": ("baseline_score", "trained_score"), "sft": ("baseline_nll", "trained_nll")}

NUMBER = (int, float)
OPT_STR = (str, type(None))
# every summary field with the JSON types it may hold (score fields are added per task type)
SUMMARY_FIELDS: dict[str, tuple[type, ...]] = {
    "task_type": (str,),
    "tinker_run_id": (str,),
    "log_path": (str,),
    "wandb_url": OPT_STR,
    "delta": NUMBER,
    "n": (int,),
    "eval_set": (str,),
    "recipe": (str,),
    "run_name": (str,),
    "model_name": (str,),
    "renderer_name": OPT_STR,
    "lora_rank": (int,),
    "learning_rate": NUMBER,
    "steps": (int,),
    "examples": (int,),
    "sampling": (dict,),
    "git_commit": OPT_STR,
    "backend": (str,),
    "launch": (dict,),
}
SAMPLING_FIELDS = ("temperature", "max_tokens")


class ResultsError(ValueError):
    """A results folder that cannot be read: names the file (and line)."""


@dataclass(frozen=True)
class Flip:
    """One row whose verdict changed between base and trained (RL: correct; SFT: NLL moved)."""

    index: int
    base: dict[str, Any]
    trained: dict[str, Any]
    improved: bool


@dataclass
class Results:
    """A results folder read back: the summary, both row sets (sorted by index) and the flipped rows."""

    folder: Path
    summary: dict[str, Any]
    base_rows: list[dict[str, Any]]
    trained_rows: list[dict[str, Any]]
    flips: list[Flip] = field(default_factory=list)

    @property
    def task_type(self) -> str:
        return str(self.summary.get("task_type", ""))

    @property
    def baseline(self) -> float | None:
        return _num(self.summary.get(SCORE_FIELDS.get(self.task_type, ("",))[0]))

    @property
    def trained(self) -> float | None:
        return _num(self.summary.get(SCORE_FIELDS.get(self.task_type, ("", ""))[1]))

    @property
    def improved(self) -> list[Flip]:
        return [f for f in self.flips if f.improved]

    @property
    def regressed(self) -> list[Flip]:
        return [f for f in self.flips if not f.improved]


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, NUMBER):
        return None
    return float(value)


def rl_score(rows: list[dict[str, Any]]) -> float:
    """Accuracy: the fraction of rows marked correct (0 for no rows)."""
    return sum(1 for r in rows if r.get("correct") is True) / len(rows) if rows else 0.0


def sft_score(rows: list[dict[str, Any]]) -> float:
    """Mean per-example NLL (NaN for no rows)."""
    values = [float(r["nll"]) for r in rows if _num(r.get("nll")) is not None]
    return sum(values) / len(values) if values else math.nan


def flipped(task_type: str, base: list[dict[str, Any]], trained: list[dict[str, Any]]) -> list[Flip]:
    """Rows (matched by index) whose verdict changed: RL correct<->incorrect; SFT every NLL that moved,
    largest change first."""
    by_index = {r.get("index"): r for r in base}
    flips: list[Flip] = []
    for row in trained:
        old = by_index.get(row.get("index"))
        if old is None:
            continue
        if task_type == "rl" and bool(old.get("correct")) != bool(row.get("correct")):
            flips.append(Flip(int(row["index"]), old, row, improved=bool(row.get("correct"))))
        elif task_type == "sft":
            a, b = _num(old.get("nll")), _num(row.get("nll"))
            if a is not None and b is not None and a != b:
                flips.append(Flip(int(row["index"]), old, row, improved=b < a))
    if task_type == "sft":
        flips.sort(key=lambda f: -abs(float(f.trained["nll"]) - float(f.base["nll"])))
    return flips


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL results file, sorted by index; a bad line raises naming file and line."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ResultsError(f"{path.name}: cannot read: {exc.strerror or exc}") from exc
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    for number, row in json_objects(data, path.name, problems):
        if not isinstance(row.get("index"), int):
            problems.append(f"{path.name}:{number}: a row must be an object with an integer index")
        rows.append(row)
    if problems:
        raise ResultsError(problems[0])
    return sorted(rows, key=lambda r: int(r["index"]))


def read_summary(path: Path) -> dict[str, Any]:
    try:
        summary = json.loads(path.read_text())
    except OSError as exc:
        raise ResultsError(f"{path.name}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ResultsError(f"{path.name}: not JSON: {exc}") from exc
    if not isinstance(summary, dict):
        raise ResultsError(f"{path.name}: must be a JSON object")
    return summary


def read_results(folder: str | Path) -> Results:
    """Read a results folder (raises ``ResultsError`` naming the file and line of the first problem;
    ``tinkertop check`` lists every problem instead)."""
    folder = Path(folder)
    summary = read_summary(folder / SUMMARY_FILE)
    base = read_rows(folder / BASE_FILE)
    trained = read_rows(folder / TRAINED_FILE)
    task = str(summary.get("task_type", ""))
    return Results(folder, summary, base, trained, flipped(task, base, trained))


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write rows sorted by index, one JSON object a line, atomically."""
    ordered = sorted(rows, key=lambda r: int(r["index"]))
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered))


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(summary, indent=1, ensure_ascii=False) + "\n")


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` in one step (temp file beside it + ``os.replace``): readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
