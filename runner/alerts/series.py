"""Numeric columns of a run's :class:`MetricTable` as numpy arrays, and robust window statistics.

The rules read the table through its public bulk read, ``MetricTable.columns_since(keys, start)``: one
lock hold copies the raw columns (C-level slices, no Python object per value; the table's ``column()``
builds Python lists, which with ~40 keys per run would cost more than the whole rule budget of 200 runs
x 1,000 steps in under 0.5 s). ``points_of`` turns one key of that copy into its present points in step
order; ``nonfinite_keys`` finds the keys with a NaN/Inf among some rows in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from runner.runs.series import Columns, MetricTable

MAD_SCALE = 0.6745  # the robust z-score: z = MAD_SCALE * (x - median) / MAD


@dataclass(frozen=True)
class Points:
    """One metric's points in step order."""

    steps: np.ndarray  # int64
    values: np.ndarray  # float64
    # facts about the first points, shared by every Points of one growing series (see head_median)
    memo: dict[Any, Any] | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.steps)


def head_median(pts: Points, n: int) -> float:
    """The median of the finite values among ``pts``' first ``n`` points (NaN when none); remembered in
    ``pts.memo`` once ``n`` points are in (they never change after: the series only grows)."""
    memo = pts.memo
    if memo is not None and ("head_median", n) in memo:
        return float(memo["head_median", n])
    out = finite_median(pts.values[:n])
    if memo is not None and len(pts) >= n:
        memo["head_median", n] = out
    return out


def finite_median(x: np.ndarray) -> float:
    """The median of the finite values of ``x`` (NaN when none): ``np.median``'s value to the bit, at a
    tenth of its cost on the few points of a baseline. Summed from 0.0 as ``np.mean`` sums (so a median
    of -0.0 comes out 0.0, as there)."""
    srt = np.sort(x[np.isfinite(x)])
    n = len(srt)
    if not n:
        return float("nan")
    mid = n // 2
    return float(0.0 + srt[mid]) if n % 2 else float((0.0 + srt[mid - 1] + srt[mid]) / 2)


EMPTY = Points(np.zeros(0, dtype=np.int64), np.zeros(0))


def points_of(cols: Columns, key: str, end: int | None = None) -> Points:
    """``key``'s present points (numbers only, NaN/Inf kept) in ``cols`` (up to table row ``end`` when
    given), as arrays ordered by step."""
    raw = cols.values.get(key)
    if raw is None:
        return EMPTY
    n = min(len(cols.steps), len(raw), len(cols.present[key]))
    if end is not None:
        n = max(min(n, end - cols.start), 0)
    present = np.frombuffer(cols.present[key], dtype=np.bool_, count=n)
    steps = np.frombuffer(cols.steps, dtype=np.int64, count=n)[present]
    values = np.frombuffer(raw, dtype=np.float64, count=n)[present]
    if not cols.in_step_order:
        order = np.argsort(steps, kind="stable")
        steps, values = steps[order], values[order]
    return Points(steps, values)


def read_column(table: MetricTable, key: str) -> Points:
    """``key``'s present points in ``table`` (one key: its own bulk read)."""
    return points_of(table.columns_since([key]), key)


def nonfinite_keys(cols: Columns, start: int) -> list[str]:
    """Keys of ``cols`` with a NaN/Inf value where present in rows ``start...`` (table row numbers):
    every key in one vectorised pass (the table keeps its columns as long as ``steps``)."""
    skip, n = max(start - cols.start, 0), len(cols.steps)
    keys = list(cols.values)
    if n <= skip or not keys:
        return []
    vals, pres = [cols.values[k] for k in keys], [cols.present[k] for k in keys]
    if {len(v) for v in vals} != {n} or {len(p) for p in pres} != {n}:  # not aligned: key by key
        return [k for k in keys if _nonfinite_one(cols, k, skip)]
    values = np.frombuffer(b"".join([memoryview(v)[skip:] for v in vals] if skip else vals), dtype=np.float64)
    nonfinite = ~np.isfinite(values)
    if not nonfinite.any():  # no NaN/Inf, not even an absent cell (those hold NaN): no key to name
        return []
    present = np.frombuffer(b"".join([memoryview(p)[skip:] for p in pres] if skip else pres), dtype=np.bool_)
    bad = (nonfinite & present).reshape(len(keys), n - skip).any(axis=1)
    return [keys[i] for i in np.flatnonzero(bad).tolist()]


def _nonfinite_one(cols: Columns, key: str, skip: int) -> bool:
    n = min(len(cols.values[key]), len(cols.present[key]))
    if n <= skip:
        return False
    values = np.frombuffer(cols.values[key], dtype=np.float64, count=n)[skip:]
    present = np.frombuffer(cols.present[key], dtype=np.bool_, count=n)[skip:]
    return bool((~np.isfinite(values) & present).any())


def align(points: Points, steps: np.ndarray) -> np.ndarray:
    """``points``' values at ``steps`` (NaN where the metric has no value at that step)."""
    out = np.full(len(steps), np.nan)
    if not len(points):
        return out
    pos = np.searchsorted(points.steps, steps)
    pos_c = np.minimum(pos, len(points) - 1)
    hit = points.steps[pos_c] == steps
    out[hit] = points.values[pos_c[hit]]
    return out


def trailing_median_mad(
    x: np.ndarray, idx: np.ndarray, window: int, block: int = 5, with_mad: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD of the (up to) ``window`` finite points before each index, NaN when none.

    Computed per block of ``block`` indices from the window ending at the block start (cheap and
    strictly trailing), all blocks in one vectorised pass."""
    if not len(idx):
        return np.zeros(0), np.zeros(0)
    starts = (idx // block) * block
    blocks, inverse = np.unique(starts, return_inverse=True)
    padded = np.concatenate([np.full(window, np.nan), x])
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)[blocks]  # x[b - window : b]
    med = _nan_median_rows(windows)
    if not with_mad:
        return med[inverse], med[inverse] * np.nan
    mad = _nan_median_rows(np.abs(windows - med[:, None]))
    return med[inverse], mad[inverse]


def _nan_median_rows(rows: np.ndarray) -> np.ndarray:
    """Median of each row ignoring NaN (NaN for a row with no finite value). Rows of finite values only
    (nearly all of them) take the fast path; the others the NaN-aware one."""
    if not rows.size:
        return np.full(len(rows), np.nan)
    finite = np.isfinite(rows)
    whole = finite.all(axis=1)
    if whole.all():
        return _median_rows(rows)
    out = np.empty(len(rows))
    out[whole] = _median_rows(rows[whole])
    out[~whole] = _nan_median_some(rows[~whole], finite[~whole])
    return out


def _median_rows(rows: np.ndarray) -> np.ndarray:
    """Median of each row of finite values."""
    k = rows.shape[1]
    srt = np.sort(rows, axis=1)
    return (srt[:, (k - 1) // 2] + srt[:, k // 2]) / 2


def _nan_median_some(rows: np.ndarray, finite: np.ndarray) -> np.ndarray:
    """Median of each row ignoring its non-finite values (NaN for a row with none)."""
    rows = np.where(finite, rows, np.nan)
    srt = np.sort(rows, axis=1)  # NaN sort last
    cnt = np.sum(~np.isnan(srt), axis=1)
    r = np.arange(len(srt))
    lo, hi = np.maximum((cnt - 1) // 2, 0), np.maximum(cnt // 2, 0)
    hi = np.minimum(hi, srt.shape[1] - 1) if srt.shape[1] else hi
    if not srt.shape[1]:
        return np.full(len(srt), np.nan)
    out = (srt[r, lo] + srt[r, hi]) / 2
    out[cnt == 0] = np.nan
    return out


def rolling_all(x: np.ndarray, k: int, idx: np.ndarray, test: Any) -> np.ndarray:
    """True at each index whose last ``k`` points (itself included) all pass ``test``."""
    ok = np.asarray(test(x), dtype=np.int64)
    csum = np.concatenate([[0], np.cumsum(ok)])
    lo = idx + 1 - k
    valid = lo >= 0
    out = np.zeros(len(idx), dtype=bool)
    out[valid] = (csum[idx[valid] + 1] - csum[lo[valid]]) == k
    return out


def rolling_count(x: np.ndarray, k: int, idx: np.ndarray, test: Any) -> np.ndarray:
    """How many of the last ``k`` points (itself included) pass ``test``, at each index."""
    ok = np.asarray(test(x), dtype=np.int64)
    csum = np.concatenate([[0], np.cumsum(ok)])
    lo = np.maximum(idx + 1 - k, 0)
    return csum[idx + 1] - csum[lo]


def rolling_median(x: np.ndarray, k: int, idx: np.ndarray, cand: np.ndarray | None = None) -> np.ndarray:
    """Median of the last ``k`` points (itself included) at each index, NaN ignored; only where ``cand``
    (a mask over ``idx``) is True when given, NaN elsewhere."""
    if cand is not None:
        out = np.full(len(idx), np.nan)
        if cand.any():
            out[cand] = rolling_median(x, k, idx[cand])
        return out
    if not len(idx) or not len(x):
        return np.full(len(idx), np.nan)
    padded = np.concatenate([np.full(k - 1, np.nan), x])
    return _nan_median_rows(np.lib.stride_tricks.sliding_window_view(padded, k)[idx])


def median_may_exceed(x: np.ndarray, k: int, idx: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """False where the median of the last ``k`` points (as :func:`rolling_median`: non-finite points
    ignored) cannot be above ``thr`` (one threshold per index): fewer than half of the finite points are
    above it. Exact as a filter: the median of ``c`` sorted points is above ``thr`` only if the point at
    ``c // 2`` is, that is ``c - c // 2`` points are."""
    if not len(idx) or not len(x):
        return np.zeros(len(idx), dtype=bool)
    padded = np.concatenate([np.full(k - 1, np.nan), x])
    win = np.lib.stride_tricks.sliding_window_view(padded, k)[idx]
    finite = np.isfinite(win)
    n = finite.sum(axis=1)
    with np.errstate(invalid="ignore"):
        above = (np.where(finite, win, -np.inf) > np.asarray(thr)[:, None]).sum(axis=1)
    return (n > 0) & (above >= n - n // 2)


def majority(x: np.ndarray, k: int, idx: np.ndarray, test: Any) -> np.ndarray:
    """True where more than half of the last ``k`` points pass ``test``: a cheap necessary condition
    for the rolling median of ``k`` points to pass it (points that can matter, before any median)."""
    return rolling_count(x, k, idx, test) >= (k + 1) // 2


def rolling_max(x: np.ndarray, k: int, idx: np.ndarray) -> np.ndarray:
    """Max of the last ``k`` points (itself included) at each index, NaN ignored (-inf when none)."""
    clean = np.where(np.isnan(x), -np.inf, x)
    if len(idx) and idx[0] >= 0 and idx[-1] < len(x) and (np.diff(idx) == 1).all():  # a run of indices
        padded = np.concatenate([np.full(k - 1, -np.inf), clean])
        lo, hi = int(idx[0]) + k - 1, int(idx[-1]) + k
        run = padded[lo:hi].copy()
        for back in range(1, k):
            np.maximum(run, padded[lo - back : hi - back], out=run)
        return run
    out = np.full(len(idx), -np.inf)
    for back in range(k):
        at = idx - back
        ok = at >= 0
        out[ok] = np.maximum(out[ok], clean[at[ok]])
    return out
