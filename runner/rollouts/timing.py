"""Where an iteration's time goes: ``timing_spans.jsonl`` (one line per step:
``{"step", "spans": [{"name", "duration", "wall_start", "wall_end"}]}``, seconds relative to the step's
earliest span), read through the cookbook's store for the file's bytes, parsed here (a bad line is a
problem naming file and line; a line of the cookbook's multi-turn runs can exceed 1 MB).

Each span gets a phase from its name: leaf spans only (a container such as ``sampling`` or
``do_train_step_and_get_sampling_client`` holds others and would count them twice). A phase's share
is the union of its spans over the summed step walls; ``waiting`` is the time no counted span covers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from runner.json_rows import json_values
from runner.rollouts.trajectory import Span, StepTiming, Timing

PHASES = ("sampling", "scoring", "training", "checkpoint", "eval", "other", "waiting")
_RULES = (
    ("", r"sampling|train|do_.*|.*_and_get_sampling_client|trajectory_group_worker.*"),
    ("sampling", r"policy_sample|sample|env_initial_observation"),
    ("scoring", r"env_step|compute_group_rewards|.*grade.*|.*judge.*"),
    (
        "training",
        r"train_step|train/.*|.*fwd_bwd.*|.*forward_backward.*|.*optim.*|assemble_training_data"
        r"|prepare_minibatch|compute_kl_sample_train|incorporate_kl_penalty|compute_kl_penalty|step"
        r"|submit_batch|finish_batch|get_ref_logprobs",
    ),
    ("checkpoint", r"save_checkpoint(_async)?"),
    (
        "eval",
        r"run_evals?|run_single_evaluation|run_evaluations_parallel|run_evaluator|evals|infrequent_evals",
    ),
)
_COMPILED = tuple((phase, re.compile(f"(?:{rx})")) for phase, rx in _RULES)


def phase_of(name: str) -> str:
    """The phase of a span name; ``""`` for a container span; ``other`` when unknown."""
    for phase, rx in _COMPILED:
        if rx.fullmatch(name):
            return phase
    return "other"


def union_length(intervals: Iterable[tuple[float, float]]) -> float:
    """Total length covered by the intervals (overlaps counted once)."""
    total, cur_lo, cur_hi = 0.0, None, None
    for lo, hi in sorted(intervals):
        if cur_hi is None or lo > cur_hi:
            if cur_hi is not None and cur_lo is not None:
                total += cur_hi - cur_lo
            cur_lo, cur_hi = lo, hi
        else:
            cur_hi = max(cur_hi, hi)
    if cur_hi is not None and cur_lo is not None:
        total += cur_hi - cur_lo
    return total


def _intersection(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    return union_length(a) + union_length(b) - union_length(a + b)


def parse_line(record: Any, skipped: list[str] | None = None) -> StepTiming | None:
    """One step from a decoded line; None when it is not a step record. A span with a NaN or infinite
    time is left out, its name added to ``skipped``."""
    if not isinstance(record, dict) or not isinstance(record.get("step"), int):
        return None
    spans = []
    for raw in record.get("spans") or []:
        if not isinstance(raw, dict):
            continue
        start, end = raw.get("wall_start"), raw.get("wall_end")
        if isinstance(start, int | float) and isinstance(end, int | float):
            name = str(raw.get("name", "?"))
            if not (math.isfinite(start) and math.isfinite(end)):
                if skipped is not None:
                    skipped.append(name)
                continue
            spans.append(Span(name, float(start), float(end), phase_of(name)))
    spans.sort(key=lambda s: (s.start, s.end))
    return StepTiming(record["step"], tuple(spans), max((s.end for s in spans), default=0.0))


def summarize(steps: list[StepTiming]) -> tuple[dict[str, float], float]:
    """Each phase's share of the summed step walls, and the sampling/training overlap share."""
    total = sum(s.wall for s in steps)
    if total <= 0:
        return {}, 0.0
    covered: dict[str, float] = {}
    overlap = waiting = 0.0
    for step in steps:
        by_phase: dict[str, list[tuple[float, float]]] = {}
        for span in step.spans:
            if span.phase:
                by_phase.setdefault(span.phase, []).append((span.start, span.end))
        for phase, intervals in by_phase.items():
            covered[phase] = covered.get(phase, 0.0) + union_length(intervals)
        overlap += _intersection(by_phase.get("sampling", []), by_phase.get("training", []))
        waiting += step.wall - union_length([iv for ivs in by_phase.values() for iv in ivs])
    shares = {p: covered[p] / total for p in PHASES if p in covered}
    shares["waiting"] = max(0.0, waiting) / total
    return shares, overlap / total


def read_timing(run: Path) -> Timing:
    """The run's timing: steps in file order (a resumed step: the later line wins), shares, problems."""
    source = run / "timing_spans.jsonl"
    try:
        data = _read(run)
    except (OSError, ValueError) as exc:  # a folder, no permission, a link out of the run
        return Timing(str(source), problems=(f"{source}: {getattr(exc, 'strerror', None) or exc}",))
    if data is None:
        return Timing(str(source))
    steps: dict[int, StepTiming] = {}
    problems: list[str] = []
    for lineno, value in json_values(data, str(source), problems):
        skipped: list[str] = []
        step = parse_line(value, skipped)
        problems += [f"{source}:{lineno}: span {name!r} has a non-finite time" for name in skipped]
        if step is None:
            problems.append(f"{source}:{lineno}: not a timing record (no integer step)")
            continue
        steps[step.step] = step
    ordered = [steps[k] for k in sorted(steps)]
    shares, overlap = summarize(ordered)
    return Timing(str(source), tuple(ordered), shares, overlap, tuple(problems))


def _read(run: Path) -> bytes | None:
    from runner.rollouts.current import open_store

    store = open_store(run)
    try:
        return store.storage.read("timing_spans.jsonl")
    except (FileNotFoundError, NotADirectoryError):
        return None


def gantt(step: StepTiming, width: int = 60, limit: int = 40) -> list[str]:
    """A text Gantt of one step: one line per span name (its spans merged on one row), ``limit`` rows
    at most (the longest ones), each ``name  phase  |  ███  |  seconds``."""
    if not step.spans or step.wall <= 0:
        return []
    rows: dict[str, list[Span]] = {}
    for span in step.spans:
        rows.setdefault(span.name, []).append(span)
    ranked = sorted(rows.items(), key=lambda kv: -union_length((s.start, s.end) for s in kv[1]))[:limit]
    ranked.sort(key=lambda kv: min(s.start for s in kv[1]))
    label = max(len(name) for name, _ in ranked)
    lines = []
    for name, spans in ranked:
        cells = [" "] * width
        for s in spans:
            lo = min(width - 1, int(s.start / step.wall * width))
            hi = max(lo + 1, min(width, round(s.end / step.wall * width)))
            cells[lo:hi] = ["█"] * (hi - lo)
        busy = union_length((s.start, s.end) for s in spans)
        phase = spans[0].phase or "·"
        lines.append(f"{name:<{label}}  {phase:<10} |{''.join(cells)}| {busy:8.3f}s")
    return lines
