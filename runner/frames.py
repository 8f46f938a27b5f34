"""pandas DataFrames of runs, for notebooks, on tinkertop's fast reader.

``pandas.read_json(path, lines=True)`` is slow and fails on a half-written last line (a run still
writing) or a corrupt one. These read through the run reader instead (bare ``NaN``/``Infinity``, steps
spread over lines or logged again merged, a half-written last line left for later, bad lines counted)::

    from runner.frames import metrics_frame, compare_frame, long_frame, export
    df = metrics_frame("results/logs/my_run")       # one run: a "step" column, one column per key
    table = compare_frame(["runs/a", "runs/b"])      # the compare table (runner.compare)
    long = long_frame(["runs/a", "runs/b"])          # run, step, metric, value
    export(long, "curves.parquet")                   # .csv, .json (JSON lines) or .parquet

pandas is imported only inside these functions: importing this module (or ``runner.compare``) never
loads it, and neither does the app's start-up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from runner.runs.folder import RunFolder

EXPORT_SUFFIXES = (".csv", ".json", ".parquet")


def _read_run(path: str | Path) -> RunFolder:
    """The run at ``path`` read in full; FileNotFoundError naming it when it does not exist."""
    from runner.runs.store import RunStore

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such run folder or metrics file: {path}")
    run = RunStore([path]).get(path)
    if run is None:
        raise FileNotFoundError(f"no such run folder or metrics file: {path}")
    return run


def metrics_frame(path: str | Path) -> pd.DataFrame:
    """One run's metrics, one row per step (ascending): a ``step`` column, then one column per key in
    order of first appearance, typed as ``pandas.read_json(lines=True)`` types a clean file (int64 for
    whole numbers on every step, float64 with NaN where a key is absent, object for strings).
    ``df.attrs``: ``path``, ``bad_lines`` (count), ``note`` (the run's note)."""
    import numpy as np
    import pandas as pd

    run = _read_run(path)
    with run.lock:
        table = run.table
        cols = table.columns_since()
        latest = table.latest()
        steps = np.frombuffer(cols.steps, dtype=np.int64).copy() if len(cols.steps) else np.zeros(0, np.int64)
        order = np.argsort(steps, kind="stable")
        data: dict[str, Any] = {"step": steps[order]}
        for key in table.keys():
            if key == "step":
                continue
            data[key] = _column(np, key, cols, table.non_numeric(key), latest.get(key), steps)[order]
        note, bad = run.summary().note, table.bad_lines
    df = pd.DataFrame(data)
    df.attrs.update(path=str(path), bad_lines=bad, note=note)
    return df


def _column(np: Any, key: str, cols: Any, other: dict[int, Any], last: Any, steps: Any) -> Any:
    """One key's values aligned with ``steps`` (row order): numbers, others, NaN where absent."""
    n = len(steps)
    values = np.frombuffer(cols.values[key], dtype=np.float64) if key in cols.values else np.full(n, np.nan)
    present = np.frombuffer(cols.present[key], dtype=np.uint8).astype(bool) if key in cols.present else None
    others = {s: v for s, v in other.items() if v is not None}
    if not others:
        if present is not None and present.all() and _whole(np, values):
            return values.astype(np.int64)  # as read_json: whole numbers on every row are int64
        return values.copy() if present is not None else np.full(n, np.nan)
    if present is None and all(isinstance(v, bool) for v in others.values()) and len(others) == n:
        return np.array([others[int(s)] for s in steps], dtype=bool)
    out = np.empty(n, dtype=object)
    for i, s in enumerate(steps.tolist()):
        if s in others:
            out[i] = others[s]
        elif present is not None and present[i]:
            v = float(values[i])
            out[i] = int(v) if isinstance(last, int) and v.is_integer() else v
        else:
            out[i] = math.nan
    return out


def _whole(np: Any, values: Any) -> bool:
    """Every value finite, whole, and within int64 (then pandas reads the column as int64)."""
    finite = np.isfinite(values)
    if not finite.all():
        return False
    return bool(np.all(values == np.round(values)) and np.all(np.abs(values) < 2.0**63))


def compare_frame(paths: Sequence[str | Path], metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """The compare table of ``paths`` (:func:`runner.compare.compare_table`): one row per run, columns
    ``name, path, kind, status, step, duration_s, alerts, alert_flag, note`` then
    ``<metric>:last|min|max|best_step|smoothed_last``."""
    import pandas as pd

    from runner.compare import compare_table, table_to_records

    table = compare_table([Path(p) for p in paths], metrics)
    return pd.DataFrame(table_to_records(table))


def long_frame(paths: Sequence[str | Path], metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Several runs in long form: ``run`` (display name, categorical), ``step`` (int64), ``metric``
    (categorical), ``value`` (float64); only points where the metric holds a number. ``metrics``:
    default every numeric key of each run. ``df.attrs["paths"]``: run name -> path."""
    import numpy as np
    import pandas as pd

    from runner.compare import display_names

    runs = [_read_run(p) for p in paths]
    names = display_names([Path(p) for p in paths])
    parts: dict[str, list[Any]] = {"run": [], "step": [], "metric": [], "value": []}
    for name, run in zip(names, runs, strict=True):
        for key in metrics if metrics is not None else run.table.numeric_keys():
            steps, values = run.table.column(key)
            parts["run"].append(np.full(len(steps), name, dtype=object))
            parts["step"].append(np.asarray(steps, dtype=np.int64))
            parts["metric"].append(np.full(len(steps), key, dtype=object))
            parts["value"].append(np.asarray(values, dtype=np.float64))
    empty = {"run": object, "step": np.int64, "metric": object, "value": np.float64}
    data = {k: np.concatenate(v) if v else np.zeros(0, dtype=empty[k]) for k, v in parts.items()}
    df = pd.DataFrame(data)
    df["run"] = pd.Categorical(df["run"], categories=list(dict.fromkeys(names)))
    df["metric"] = df["metric"].astype("category")
    df.attrs["paths"] = {n: str(p) for n, p in zip(names, paths, strict=True)}
    return df


def export(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` by the suffix of ``path``: ``.csv`` (no index), ``.json`` (JSON lines, one record
    per row, NaN as null) or ``.parquet`` (pyarrow). ValueError naming the suffix otherwise."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix == ".json":
        df.to_json(path, orient="records", lines=True)
    elif suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        raise ValueError(
            f"{path.name}: export writes {', '.join(EXPORT_SUFFIXES)}, not {suffix or 'no suffix'!r}"
        )
    return path
