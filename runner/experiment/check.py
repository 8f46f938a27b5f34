"""``tinkertop check [DIR]``: a results folder against the schema of ``runner.experiment.results`` and the
completion checklist of a post-training task, one line each.

Each :class:`Item` is ``ok`` True (passed), False (failed: ``problems`` name file, line and field) or None
(not checked, saying why: never counted as a pass).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.experiment import results as R
from runner.json_rows import json_values

TOL = 1e-6


@dataclass
class Item:
    name: str
    ok: bool | None
    detail: str = ""
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "skip"}[self.ok]
        return f"{mark} {self.name}: {self.detail}"


@dataclass
class Loaded:
    """What could be read of the folder (parts that could not are None, their problems listed)."""

    folder: Path
    summary: dict[str, Any] | None = None
    rows: dict[str, list[dict[str, Any]] | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def task(self) -> str:
        return str((self.summary or {}).get("task_type", ""))


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def _bad_type(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return True
    if isinstance(value, float) and not math.isfinite(value):
        return True
    return not isinstance(value, types)


def row_problems(name: str, number: int, row: Any, task: str) -> list[str]:
    if not isinstance(row, dict):
        return [f"{name}:{number}: not a JSON object"]
    schema = R.ROW_FIELDS.get(task, {})
    out = []
    for key, types in schema.items():
        if key not in row:
            out.append(f"{name}:{number}: field {key!r} missing")
        elif _bad_type(row[key], types):
            out.append(f"{name}:{number}: field {key!r} is {row[key]!r}, expected {_type_names(types)}")
    return out


def load_rows(folder: Path, name: str, task: str, problems: list[str]) -> list[dict[str, Any]] | None:
    try:
        data = (folder / name).read_bytes()
    except OSError as exc:
        problems.append(f"{name}: missing or unreadable ({exc.strerror or exc})")
        return None
    rows: list[dict[str, Any]] = []
    last = -1
    for number, row in json_values(data, name, problems):
        found = row_problems(name, number, row, task)
        problems.extend(found)
        if not found:
            if row["index"] <= last:
                problems.append(f"{name}:{number}: index {row['index']} out of order (rows sorted by index)")
            last = row["index"]
            rows.append(row)
    if not rows:
        problems.append(f"{name}: no valid rows")
    return rows


def load(folder: Path) -> Loaded:
    got = Loaded(folder)
    try:
        got.summary = R.read_summary(folder / R.SUMMARY_FILE)
    except R.ResultsError as exc:
        got.problems.append(str(exc))
    if got.summary is not None and got.task not in R.ROW_FIELDS:
        got.problems.append(f"{R.SUMMARY_FILE}: field 'task_type' is {got.task!r}, expected 'rl' or 'sft'")
    for name in (R.BASE_FILE, R.TRAINED_FILE):
        got.rows[name] = load_rows(folder, name, got.task, got.problems)
    return got


def check_files(got: Loaded) -> Item:
    if got.problems:
        return Item("files", False, f"{len(got.problems)} problem(s)", list(got.problems))
    return Item(
        "files", True, f"{R.SUMMARY_FILE}, {R.BASE_FILE}, {R.TRAINED_FILE} match the {got.task} schema"
    )


def log_folder(got: Loaded) -> Path | None:
    """The run's log folder: ``log_path`` as written, else ``logs/<name>`` beside the results (a copy)."""
    text = (got.summary or {}).get("log_path")
    if not isinstance(text, str) or not text:
        return None
    path = Path(text)
    for candidate in (path, got.folder / path, got.folder / "logs" / path.name):
        if (candidate / "checkpoints.jsonl").exists():
            return candidate
    return None


def check_final(got: Loaded) -> Item:
    from runner.chat.targets import read_records
    from runner.experiment.summary import run_id_of

    logs = log_folder(got)
    if logs is None:
        log_path = (got.summary or {}).get("log_path")
        return Item("final checkpoint", False, f"no checkpoints.jsonl under log_path {log_path!r}")
    records, _notes = read_records(logs / "checkpoints.jsonl")
    if not any(r.get("name") == "final" for r in records):
        return Item("final checkpoint", False, f"{logs / 'checkpoints.jsonl'}: no 'final' record")
    last_id = run_id_of(str(records[-1].get("state_path", "")))
    said = (got.summary or {}).get("tinker_run_id")
    if said != last_id:
        why = f"{R.SUMMARY_FILE}: field 'tinker_run_id' is {said!r}, "
        why += f"the last checkpoint record says {last_id!r}"
        return Item("final checkpoint", False, why, [why])
    return Item("final checkpoint", True, f"'final' in {logs.name}/checkpoints.jsonl, run id {last_id}")


def check_same_rows(got: Loaded) -> Item:
    base, trained = got.rows.get(R.BASE_FILE), got.rows.get(R.TRAINED_FILE)
    if base is None or trained is None:
        return Item("same rows", False, "a row file is missing")
    key = "question" if got.task == "rl" else "prompt"
    a = {r["index"]: r.get(key) for r in base}
    b = {r["index"]: r.get(key) for r in trained}
    problems = [f"index {i}: only in {R.BASE_FILE}" for i in sorted(a.keys() - b.keys())]
    problems += [f"index {i}: only in {R.TRAINED_FILE}" for i in sorted(b.keys() - a.keys())]
    problems += [
        f"index {i}: {key} differs between the two files" for i in sorted(a.keys() & b.keys()) if a[i] != b[i]
    ]
    if problems:
        return Item("same rows", False, problems[0], problems)
    return Item("same rows", True, f"base and trained scored on the same {len(a)} rows")


def check_scores(got: Loaded) -> Item:
    summary = got.summary or {}
    if got.task not in R.SCORE_FIELDS:
        return Item("scores", False, "task_type unknown: no score fields to check")
    first, second = R.SCORE_FIELDS[got.task]
    problems = []
    for key in (first, second, "delta"):
        if _bad_type(summary.get(key), (int, float)):
            problems.append(f"{R.SUMMARY_FILE}: field {key!r} missing or not a finite number")
    if problems:
        return Item("scores", False, problems[0], problems)
    if abs(summary[second] - summary[first] - summary["delta"]) > TOL:
        problems.append(f"{R.SUMMARY_FILE}: field 'delta' is not {second} - {first}")
    score = R.rl_score if got.task == "rl" else R.sft_score
    for key, name in ((first, R.BASE_FILE), (second, R.TRAINED_FILE)):
        rows = got.rows.get(name)
        if rows and abs(score(rows) - summary[key]) > TOL:
            problems.append(
                f"{R.SUMMARY_FILE}: field {key!r} is {summary[key]}, {name} gives {score(rows):.6g}"
            )
    if problems:
        return Item("scores", False, problems[0], problems)
    return Item(
        "scores",
        True,
        f"{first} {summary[first]:.4g} -> {second} {summary[second]:.4g} (delta {summary['delta']:+.4g})",
    )


def check_metadata(got: Loaded) -> Item:
    summary = got.summary or {}
    problems = []
    for key, types in R.SUMMARY_FIELDS.items():
        if key not in summary:
            problems.append(f"{R.SUMMARY_FILE}: field {key!r} missing")
        elif _bad_type(summary[key], types):
            problems.append(
                f"{R.SUMMARY_FILE}: field {key!r} is {summary[key]!r}, expected {_type_names(types)}"
            )
    sampling = summary.get("sampling")
    if isinstance(sampling, dict):
        problems += [
            f"{R.SUMMARY_FILE}: field 'sampling.{k}' missing" for k in R.SAMPLING_FIELDS if k not in sampling
        ]
    if problems:
        return Item("metadata", False, problems[0], problems)
    return Item("metadata", True, f"all {len(R.SUMMARY_FIELDS)} fields (commit {summary.get('git_commit')})")


def check_wandb(got: Loaded) -> Item:
    url = (got.summary or {}).get("wandb_url")
    logs = log_folder(got)
    local = sorted((logs / "wandb").glob("*run-*")) if logs else []
    if url is None and not local:
        return Item("W&B", True, "W&B off for this run (wandb_url null, no wandb/ folder)")
    if local and logs is not None:
        return wandb_local(local[-1], logs)
    return Item("W&B", None, "not checked: offline (no network to the W&B API) and no local W&B files")


def wandb_local(run_dir: Path, logs: Path) -> Item:
    """W&B's own summary file of the run (``files/wandb-summary.json``, ``_step``) against the last step
    of ``metrics.jsonl``. wandb 0.31 has no Python reader for the ``.wandb`` history file: said so."""
    from runner.experiment.summary import steps_logged

    path = run_dir / "files" / "wandb-summary.json"
    try:
        step = json.loads(path.read_text()).get("_step")
    except (OSError, ValueError, AttributeError):
        why = f"not checked: offline, and {run_dir.name} has no readable files/wandb-summary.json"
        return Item("W&B", None, why)
    last = steps_logged(logs) - 1
    if step != last:
        why = f"{path}: W&B's last step is {step}, metrics.jsonl's is {last}"
        return Item("W&B", False, why, [why])
    return Item("W&B", True, f"local W&B run {run_dir.name} summary at step {step} = metrics.jsonl (offline)")


def check_launch(got: Loaded, cwd: Path) -> Item:
    from runner import api
    from runner.control.launch import LaunchRequest

    launch = (got.summary or {}).get("launch")
    if not isinstance(launch, dict) or not isinstance(launch.get("recipe"), str):
        return Item("launch", False, f"{R.SUMMARY_FILE}: field 'launch' missing: nothing to validate")
    overrides = [o for o in launch.get("overrides", []) if not str(o).startswith("log_path=")]
    req = LaunchRequest(
        recipe=launch["recipe"],
        overrides=overrides,
        local=bool(launch.get("local")),
        smoke=bool(launch.get("smoke")),
        cwd=cwd,
    )
    done = api.launch_request(req, dry_run=True)
    if not done.ok:
        return Item("launch", False, f"the recorded launch no longer validates: {done.error}")
    return Item("launch", True, f"`{launch['recipe']}` with {len(overrides)} override(s) validates (dry run)")


def run_checks(folder: Path, cwd: Path, dry_run: bool = True) -> list[Item]:
    got = load(folder)
    steps: list[Callable[[Loaded], Item]] = [
        check_files,
        check_final,
        check_same_rows,
        check_scores,
        check_metadata,
        check_wandb,
    ]
    items = [step(got) for step in steps]
    if dry_run:
        items.append(check_launch(got, cwd))
    else:
        items.append(Item("launch", None, "not checked: --no-dry-run"))
    return items


def passed(items: list[Item]) -> bool:
    return all(item.ok is not False for item in items)
