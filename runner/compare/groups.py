"""Group runs by a config key (a sweep's learning rate, the seed): one line per group, its mean with a
min-max band across the group's runs.

``group_key_values(paths, key)`` -> ``{"learning_rate=0.0001": [run paths...]}`` (a run without the key
goes to ``"<key>=—"``); ``group_series(series, groups)`` -> one :class:`GroupLine` per group, the runs
aligned on the union of their steps: at each step only the runs holding a finite value there count
(a step no run of the group holds a finite value at is left out). numpy is imported when called.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.compare.diff import MISSING, comparable, flatten_config, format_value, run_config

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class GroupLine:
    """One group's line: the mean across its runs at each step and the min-max band."""

    label: str  # "learning_rate=0.0001"
    runs: tuple[str, ...]  # the runs' keys in ``series`` (their paths)
    steps: np.ndarray  # int64, ascending
    mean: np.ndarray  # float64, aligned with steps
    lo: np.ndarray
    hi: np.ndarray
    count: np.ndarray | None = None  # int64: how many runs count at each step


def find_key(flat: Mapping[str, object], key: str) -> str | None:
    """The flattened config key ``key`` names: itself, else the one key whose last part it is
    (``learning_rate`` or ``batch_size`` -> ``dataset_builder.batch_size``; the shortest if several)."""
    if key in flat:
        return key
    ends = sorted((k for k in flat if k.endswith("." + key)), key=lambda k: (k.count("."), k))
    return ends[0] if ends else None


def _sort_key(value: object) -> tuple[int, Any]:
    if value is MISSING:
        return (3, "")
    if isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value):
        return (0, float(value))
    return (1, format_value(value))


def group_key_values(paths: Sequence[Path], key: str) -> dict[str, list[Path]]:
    """Runs grouped by the value of config ``key`` (full dotted key or its last part), as
    ``{"<key>=<value>": [paths]}`` ordered by value (numbers numerically); runs without the key (or
    without a readable config) go last, under ``"<key>=—"``. Equal values group together (1 == 1.0);
    a string printed like another group's value is quoted (``seed=1`` and ``seed="1"``)."""
    groups: dict[object, tuple[object, list[Path]]] = {}
    for path in paths:
        config = run_config(Path(path), [], str(path)) or {}
        flat = flatten_config(config)
        found = find_key(flat, key)
        value = flat[found] if found is not None else MISSING
        groups.setdefault(comparable(value), (value, []))[1].append(Path(path))  # 1 and 1.0: one group
    ordered = sorted(groups.values(), key=lambda vp: _sort_key(vp[0]))
    labels = group_labels(key, [value for value, _ in ordered])
    return {label: runs for label, (_, runs) in zip(labels, ordered, strict=True)}


def group_labels(key: str, values: Sequence[object]) -> list[str]:
    """``<key>=<value>`` per distinct value, each label unique: a string shown like another value
    (``"1"`` next to ``1``, ``"—"`` next to a missing key) is quoted; any clash left is numbered."""
    shown = [format_value(v) for v in values]
    clashing = {text for text, n in Counter(shown).items() if n > 1}
    labels = [
        f"{key}={json.dumps(v, ensure_ascii=False) if text in clashing and isinstance(v, str) else text}"
        for v, text in zip(values, shown, strict=True)
    ]
    seen: Counter[str] = Counter()
    out = []
    for label in labels:
        seen[label] += 1
        out.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return out


def group_series(
    series: Mapping[str, tuple[Any, Any]], groups: Mapping[str, Sequence[str | Path]]
) -> list[GroupLine]:
    """One line per group (in ``groups`` order): ``series`` maps a run (its path as a string) to
    ``(steps, values)`` of one metric; ``groups`` maps a label to its runs. Runs absent from
    ``series`` are left out of the line; a group with no points gets empty arrays."""
    import numpy as np

    out = []
    for label, members in groups.items():
        names = tuple(str(m) for m in members if str(m) in series)
        out.append(_line(np, label, names, [series[n] for n in names]))
    return out


def _line(np: Any, label: str, names: tuple[str, ...], data: list[tuple[Any, Any]]) -> GroupLine:
    arrays = [(np.asarray(s, dtype=np.int64), np.asarray(v, dtype=np.float64)) for s, v in data]
    arrays = [(s, v) for s, v in arrays if len(s) and len(s) == len(v)]
    if not arrays:
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return GroupLine(label, names, empty_i, empty_f, empty_f, empty_f, empty_i)
    steps = np.unique(np.concatenate([s for s, _ in arrays]))
    grid = np.full((len(arrays), len(steps)), np.nan)
    for i, (s, v) in enumerate(arrays):
        grid[i, np.searchsorted(steps, s)] = v
    grid[~np.isfinite(grid)] = np.nan
    count = np.sum(~np.isnan(grid), axis=0)
    keep = count > 0
    grid, count = grid[:, keep], count[keep]
    return GroupLine(
        label=label,
        runs=names,
        steps=steps[keep],
        mean=np.nansum(grid, axis=0) / count,
        lo=np.nanmin(grid, axis=0),
        hi=np.nanmax(grid, axis=0),
        count=count.astype(np.int64),
    )


def group_summary(line: GroupLine, series: Mapping[str, tuple[Any, Any]]) -> dict[str, Any]:
    """A group's outcome: label, runs, and the mean, min and max across its runs of each run's last
    finite value (``last_mean``, ``last_min``, ``last_max``; None when no run has one), with the
    band's last step."""
    lasts = [_last_finite(series[r][1]) for r in line.runs if r in series]
    finite = [v for v in lasts if v is not None]
    return {
        "label": line.label,
        "runs": list(line.runs),
        "last_step": int(line.steps[-1]) if len(line.steps) else None,
        "last_mean": sum(finite) / len(finite) if finite else None,
        "last_min": min(finite) if finite else None,
        "last_max": max(finite) if finite else None,
    }


def _last_finite(values: Sequence[float]) -> float | None:
    for v in reversed(list(values)):
        if math.isfinite(v):
            return float(v)
    return None
