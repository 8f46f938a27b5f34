"""The compare table: one row per run (kind, status, step, duration, alerts) with last, min, max, best
step and smoothed-last of the metrics that matter for its kind.

Rows come from the run reader's own summary (:meth:`RunFolder.summary`, the one the run list shows)
and alerts from :class:`runner.alerts.board.AlertBoard` (the one alert API); series statistics from
``RunFolder.table.column``. Pass the app's live ``store`` (and ``board``) to reuse what it already
read; without them the runs are read here (full reads, bounded as everywhere).

``best_step``: the step of the highest value for reward/accuracy-like keys, of the lowest for
loss/NLL keys and of the one nearest 0 for KL keys (a k1 estimate can dip below 0), None when the key
has no better direction (entropy, length, timings).
``smoothed_last``: the debiased EMA at the run view's default weight (:data:`DEFAULT_EMA`) at the last
finite point.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.compare.diff import display_names
from runner.runs.folder import RunFolder
from runner.runs.kinds import headline_key
from runner.runs.summary import RunSummary
from runner.status import Status

DEFAULT_EMA = 0.6  # the run view's default EMA weight (tui.widgets.metric_chart.ChartView.ema)
STATS = ("last", "min", "max", "best_step", "smoothed_last")

KL_KEYS = ("optim/kl_sample_train_v1", "kl_policy_base", "teacher_kl", "optim/kl_sample_train_v2", "kl")
ENTROPY_KEYS = ("optim/entropy", "entropy", "actor/entropy", "actor/entropy_loss")
LENGTH_KEYS = ("env/all/ac_tokens_per_turn", "response_length/mean", "response_length", "completion_length")
LOSS_KEYS = {
    "sl": ("train_mean_nll", "test/nll", "train/loss", "loss"),
    "dpo": ("dpo_loss", "test/nll", "loss:sum", "loss"),
}
_LOWER = {"loss", "nll", "kl", "perplexity", "ppl", "error", "errors", "regret"}
_HIGHER = {"reward", "rewards", "accuracy", "acc", "correct", "pass", "pass@1", "score", "success", "win"}


@dataclass(frozen=True)
class MetricStats:
    """One metric of one run (None where the run has no finite value of it)."""

    last: float | None
    min: float | None
    max: float | None
    best_step: int | None
    smoothed_last: float | None


@dataclass(frozen=True)
class TableRow:
    """One run of the compare table."""

    name: str  # display name, unique in the table
    path: str
    kind: str
    status: str
    step: int | None
    duration_s: float | None
    alerts: int  # active, unacknowledged warning/critical alerts
    metrics: dict[str, MetricStats]
    alert_flag: str = ""  # the worst one in a few characters, as the run list shows it
    note: str = ""  # the run's note (unreadable files, bad lines...)


@dataclass(frozen=True)
class CompareTable:
    """The compare table: ``metrics`` (columns, in order) and one row per run."""

    metrics: tuple[str, ...]
    rows: tuple[TableRow, ...]


def direction(key: str) -> int:
    """+1 when higher is better (reward, accuracy...), -1 when lower is (loss, NLL, KL), 0 otherwise."""
    words = {w for part in key.lower().split("/") for w in part.replace(":", "_").split("_")}
    if words & {"time", "count", "num", "total_ac_tokens"} and not words & _HIGHER:
        return 0
    if words & _LOWER:
        return -1
    if words & _HIGHER or key.lower().endswith(("pass_rate", "pass_at_1", "accuracy")):
        return 1
    return 0


def is_kl(key: str) -> bool:
    """A KL metric (``optim/kl_sample_train_v1``, ``teacher_kl``, ``kl_policy_base``...)."""
    return "kl" in {w for part in key.lower().split("/") for w in part.replace(":", "_").split("_")}


def _first_present(cands: Sequence[str], keys: Sequence[str], contains: str = "") -> str | None:
    present = set(keys)
    for cand in cands:
        if cand in present:
            return cand
    if contains:
        return next((k for k in keys if contains in k.lower() and not k.startswith(("time/", "test/"))), None)
    return None


def headline_metrics(kind: str, keys: Iterable[str]) -> list[str]:
    """The metrics worth comparing for a run of ``kind`` among its numeric ``keys``: reward, KL,
    entropy and length for RL (and distillation); NLL or loss for SL and DPO; else the headline."""
    ks = list(keys)
    head = headline_key(kind, ks)
    out: list[str | None]
    if kind in ("sl", "dpo"):
        losses = [k for k in LOSS_KEYS[kind] if k in ks][:2]
        out = [*losses] if losses else [head]
    elif kind in ("rl", "distill", "unknown"):
        out = [
            head,
            _first_present(KL_KEYS, ks, "kl"),
            _first_present(ENTROPY_KEYS, ks, "entropy"),
            _first_present(LENGTH_KEYS, ks),
        ]
    else:
        out = [head]
    return list(dict.fromkeys(k for k in out if k))


EMPTY = MetricStats(None, None, None, None, None)


def metric_stats(steps: Sequence[int], values: Sequence[float], key: str) -> MetricStats:
    """Last, min, max, best step and smoothed-last of one series (``RunFolder.table.column(key)``,
    ascending steps). ``last`` is the last value as logged (NaN stays NaN); the others use the finite
    values only."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if not v.size:
        return EMPTY
    s = np.asarray(steps, dtype=np.int64)
    finite = np.isfinite(v)
    fs, fv = s[finite], v[finite]
    if not fv.size:
        return MetricStats(float(v[-1]), None, None, None, None)
    lo, hi = int(np.argmin(fv)), int(np.argmax(fv))  # the first step holding the extreme
    best = {1: hi, -1: lo}.get(direction(key))
    if best is not None and is_kl(key):
        best = int(np.argmin(np.abs(fv)))  # a KL estimate can dip below 0: the best is nearest 0
    return MetricStats(
        last=float(v[-1]),
        min=float(fv[lo]),
        max=float(fv[hi]),
        best_step=int(fs[best]) if best is not None else None,
        smoothed_last=ema_last(np, fv, DEFAULT_EMA),
    )


def ema_last(np: Any, finite: Any, beta: float) -> float:
    """The last point of :func:`runner.runs.smoothing.ema` over finite values, in closed form:
    ``(1 - beta) * sum(beta**(n-1-i) * x_i) / (1 - beta**n)``."""
    n = len(finite)
    weights = beta ** np.arange(n - 1, -1, -1, dtype=np.float64)
    return float((1.0 - beta) * np.dot(weights, finite) / (1.0 - beta**n)) if beta else float(finite[-1])


def run_stats(run: RunFolder, metrics: Sequence[str]) -> dict[str, MetricStats]:
    """:func:`metric_stats` of several metrics of one run, from one bulk copy of its columns."""
    import numpy as np

    cols = run.table.columns_since(metrics)
    steps = np.frombuffer(cols.steps, dtype=np.int64) if len(cols.steps) else np.zeros(0, dtype=np.int64)
    order = None if cols.in_step_order else np.argsort(steps, kind="stable")
    out = {}
    for m in metrics:
        if m not in cols.values or not len(steps):
            out[m] = EMPTY
            continue
        values = np.frombuffer(cols.values[m], dtype=np.float64)
        present = np.frombuffer(cols.present[m], dtype=np.uint8).astype(bool)
        s = steps
        if order is not None:
            s, values, present = s[order], values[order], present[order]
        out[m] = metric_stats(s[present], values[present], m)
    return out


def _iso_seconds(text: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(text)).timestamp() if text else None
    except ValueError:
        return None


def duration_of(run: RunFolder, source: Any = None) -> float | None:
    """Seconds the run ran: its supervisor record's start to end (now, while live), else the sum of
    the logged ``time/total`` step times, else None."""
    from runner.runs.status import supervisor_status

    record, _ = supervisor_status(source, run.path)
    start = _iso_seconds(record.get("started")) if record else None
    if record and start is not None:
        end = _iso_seconds(record.get("ended"))
        return (end if end is not None else time.time()) - start
    _, step_times = run.table.column("time/total")
    finite = [t for t in step_times if math.isfinite(t)]
    return float(sum(finite)) if finite else None  # (fsum raises on overflow; this gives inf)


def _open_runs(paths: Sequence[Path], store: Any | None) -> tuple[Any, list[RunFolder | None]]:
    from runner.runs.store import RunStore

    if store is None:
        from runner.api import status_source

        store = RunStore(paths, status_source=status_source())
    return store, [store.get(p) for p in paths]


def _judge(
    store: Any, summaries: list[RunSummary], paths: Sequence[Path], board: Any | None
) -> Mapping[str, list[Any]]:
    """Alerts of the runs (the board's, judged here when no board was given)."""
    if board is None:
        from runner.alerts.board import AlertBoard
        from runner.paths import workspace_for

        board = AlertBoard(workspace_for(list(paths)))
        board.judge(store, summaries)
    else:
        from runner.alerts.board import annotate

        for s in summaries:
            annotate(s, board.alerts.get(s.path, []))
    return board.alerts


def _active(alerts: Iterable[Any]) -> int:
    return sum(1 for a in alerts if a.active and not a.acked and a.severity != "info")


def compare_table(
    paths: Sequence[Path], metrics: Sequence[str] | None = None, *, store: Any = None, board: Any = None
) -> CompareTable:
    """The compare table of the runs at ``paths`` (rows in that order). ``metrics``: the columns
    (default: the union of :func:`headline_metrics` of each run's kind, in order). ``store``: a
    :class:`RunStore` holding the runs already (the app's); ``board``: an :class:`AlertBoard` that
    judged them already. A path that is no run gives a row of kind ``unknown`` with a note."""
    paths = [Path(p) for p in paths]
    store, runs = _open_runs(paths, store)
    summaries = [run.summary() if run else _absent(p) for run, p in zip(runs, paths, strict=True)]
    alerts = _judge(store, [s for s, run in zip(summaries, runs, strict=True) if run], paths, board)
    if metrics is None:
        cols: dict[str, None] = {}
        for run, s in zip(runs, summaries, strict=True):
            if run is not None:
                cols.update(dict.fromkeys(headline_metrics(s.kind, run.table.numeric_keys())))
        metrics = list(cols)
    names = display_names(paths)
    source = getattr(store, "status_source", None)
    rows = [
        _row(name, run, s, metrics, alerts.get(s.path, []), source)
        for name, run, s in zip(names, runs, summaries, strict=True)
    ]
    return CompareTable(metrics=tuple(metrics), rows=tuple(rows))


def _absent(path: Path) -> RunSummary:
    return RunSummary(
        path=str(path), name=path.name, kind="unknown", status=Status.UNKNOWN, step=None, progress=None,
        headline_key=None, headline_value=None, spark=[], last_change=None, n_lines=0, bad_lines=0,
        latest={}, note=f"{path}: no such file or folder",
    )  # fmt: skip


def _row(
    name: str, run: RunFolder | None, s: RunSummary, metrics: Sequence[str], alerts: list[Any], source: Any
) -> TableRow:
    stats = run_stats(run, metrics) if run else {}
    return TableRow(
        name=name,
        path=s.path,
        kind=s.kind,
        status=str(s.status),
        step=s.step,
        duration_s=duration_of(run, source) if run else None,
        alerts=_active(alerts),
        metrics={m: stats.get(m, EMPTY) for m in metrics},
        alert_flag=s.alert_flag,
        note=s.note,
    )


ROW_FIELDS = ("name", "path", "kind", "status", "step", "duration_s", "alerts", "alert_flag", "note")


def table_to_records(table: CompareTable) -> list[dict[str, Any]]:
    """Flat records, one per row: the run's fields then ``<metric>:<stat>`` for every metric and stat
    (``env/all/reward/total:last``; split a column name with ``rsplit(":", 1)``)."""
    out = []
    for row in table.rows:
        rec: dict[str, Any] = {f: getattr(row, f) for f in ROW_FIELDS}
        for m in table.metrics:
            st = asdict(row.metrics[m])
            rec.update({f"{m}:{k}": st[k] for k in STATS})
        out.append(rec)
    return out


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    return value


def table_to_csv(table: CompareTable, groups: Mapping[str, str] | None = None) -> str:
    """The table as CSV text (header line, then one line per run; empty cells where None).
    ``groups``: run path -> its group's label, written as a ``group`` column after the run's fields."""
    buf = io.StringIO()
    fields = list(ROW_FIELDS) + (["group"] if groups is not None else [])
    fields += [f"{m}:{k}" for m in table.metrics for k in STATS]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for rec in table_to_records(table):
        if groups is not None:
            rec["group"] = groups.get(rec["path"], "")
        writer.writerow({k: _csv_cell(v) for k, v in rec.items()})
    return buf.getvalue()


__all__ = [
    "DEFAULT_EMA",
    "CompareTable",
    "MetricStats",
    "TableRow",
    "compare_table",
    "direction",
    "headline_metrics",
    "metric_stats",
    "table_to_csv",
    "table_to_records",
]
