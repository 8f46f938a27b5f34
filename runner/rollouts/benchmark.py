"""The cookbook's benchmark trajectories: ``<save_dir>/<benchmark>/trajectories.jsonl`` (one
``StoredTrajectory`` per line, in completion order) with ``result.json`` beside it, in the same
viewer as the training rollouts, the incorrect ones first.

One group per example (``idx``; several samples of one example share it). A trajectory is incorrect
when its ``correct`` metric is 0 (else its reward is at most 0) or it carries an ``error``.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from runner.rollouts import build
from runner.rollouts.current import parse_summaries
from runner.rollouts.trajectory import Iteration, IterationRef, Message, RolloutError, Trajectory

TRAJECTORIES = "trajectories.jsonl"
FIND_DEPTH = 4  # benchmark results are looked for this many folders down the run folder
SHAPE: dict[str, type] = {"metrics": dict, "logs": dict, "turns": list}


def _paths(path: Path) -> tuple[Path, Path]:
    folder = path if path.is_dir() else path.parent
    return (folder / TRAJECTORIES if path.is_dir() else path), folder / "result.json"


def find_benchmarks(run: Path, depth: int = FIND_DEPTH) -> list[IterationRef]:
    """The cookbook's benchmark results saved inside the run folder (``trajectories.jsonl`` with
    ``result.json`` beside it, at most ``depth`` folders down), one ref each; unreadable ones skipped."""
    refs = []
    for d in range(1, depth + 1):
        for path in sorted(run.glob("*/" * d + TRAJECTORIES)):
            if (path.parent / "result.json").is_file():
                try:
                    refs.append(load_benchmark(path.parent).ref)
                except (RolloutError, OSError):
                    continue
    return refs


def load_benchmark(path: Path) -> Iteration:
    """A benchmark's trajectories (``path``: the trajectories.jsonl or its folder), incorrect first."""
    traj_path, result_path = _paths(path)
    try:
        data = traj_path.read_bytes()
    except OSError as exc:
        raise RolloutError(f"{traj_path}: {exc.strerror or exc}") from exc
    records, problems = parse_summaries(data, str(traj_path), SHAPE, {})
    if not records and problems:
        raise RolloutError(problems[0])
    result, note = _result(result_path, problems)
    name = str(
        result.get("name") or (records[0].get("benchmark") if records else "") or traj_path.parent.name
    )
    drafts = [_draft(r) for r in records]
    ref = IterationRef(
        0, f"benchmark:{name}", str(traj_path), str(traj_path.parent), "benchmark", has_text=True
    )
    iteration = build.freeze(ref, drafts, note, problems)
    return _incorrect_first(iteration)


def _result(path: Path, problems: list[str]) -> tuple[dict[str, Any], str | None]:
    try:
        result = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError) as exc:
        problems.append(f"{path}: {getattr(exc, 'strerror', None) or exc}")
        return {}, None
    if not isinstance(result, dict):
        problems.append(f"{path}: a result is a JSON object, not {type(result).__name__}")
        return {}, None
    parts = [f"score {result.get('score')}"]
    if "num_correct" in result and "num_examples" in result:
        parts.append(f"{result['num_correct']}/{result['num_examples']} correct")
    parts += [f"{result[k]} {k[len('num_') :]}" for k in ("num_truncated", "num_errors") if result.get(k)]
    return result, f"{result.get('name', 'benchmark')}: " + ", ".join(parts)


def _draft(record: dict[str, Any]) -> build.Draft:
    draft = build.Draft(int(record.get("idx", 0)) if isinstance(record.get("idx"), int) else 0, 0)
    reward = record.get("reward")
    draft.reward = float(reward) if isinstance(reward, int | float) and not isinstance(reward, bool) else None
    turns = [t for t in record.get("turns") or [] if isinstance(t, dict)]
    draft.messages = [Message(str(t.get("role", "?")), str(t.get("content", ""))) for t in turns]
    counts = [
        t["token_count"]
        for t in turns
        if t.get("role") == "assistant" and isinstance(t.get("token_count"), int)
    ]
    draft.tokens = sum(counts) if counts else None
    metrics = record.get("metrics") or {}
    draft.metrics = {str(k): float(v) for k, v in metrics.items() if isinstance(v, int | float)}
    draft.logs = {str(k): str(v) for k, v in (record.get("logs") or {}).items()}
    if record.get("example_id"):
        draft.logs.setdefault("example_id", str(record["example_id"]))
    if record.get("error"):
        draft.logs["error"] = str(record["error"])
        draft.messages.append(Message("env", f"error: {record['error']}"))
    draft.stop_reason = build.stop_reason(draft.metrics)
    return draft


def is_incorrect(traj: Trajectory) -> bool:
    """Wrong, errored or unknown: ``correct`` metric 0, else reward at most 0, or an error logged."""
    if "error" in traj.logs:
        return True
    if "correct" in traj.metrics:
        return bool(traj.metrics["correct"] <= 0.5)
    return traj.reward is None or not math.isfinite(traj.reward) or traj.reward <= 0


def _incorrect_first(iteration: Iteration) -> Iteration:
    numbered = []
    for group in iteration.groups:  # samples of one example: index within the group, in file order
        numbered.append(tuple(replace(t, index=k) for k, t in enumerate(group)))
    groups = tuple(sorted(numbered, key=lambda g: (not any(is_incorrect(t) for t in g), g[0].group)))
    trajs = tuple(t for g in groups for t in g)
    return Iteration(
        iteration.ref,
        trajs,
        groups,
        iteration.note,
        iteration.histogram,
        iteration.hist_edges,
        iteration.problems,
    )
