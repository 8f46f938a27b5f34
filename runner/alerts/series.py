"""Numeric columns of a run's :class:`MetricTable` as numpy arrays, and robust window statistics.

``read_column`` copies one key's present points (``steps``, ``values``) out of the table. The table's
public ``column()`` builds Python lists; with ~40 keys per run that alone would cost more than the
whole rule budget (200 runs x 1,000 steps in under 0.5 s), so when the table has its usual columnar
layout (``array('d')`` per key plus a presence bytearray, rows in step order) the arrays are copied
by buffer under the table's lock; any other layout falls back to ``column()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MAD_SCALE = 0.6745  # z = 0.6745 * (x - median) / MAD


@dataclass(frozen=True)
class Points:
    """One metric's points in step order."""

    steps: np.ndarray  # int64
    values: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.steps)


EMPTY = Points(np.zeros(0, dtype=np.int64), np.zeros(0))


def read_column(table: Any, key: str) -> Points:
    """``key``'s present points (numbers only, NaN/Inf kept) as arrays, by step."""
    cols, pres, lock = (
        getattr(table, "_cols", None),
        getattr(table, "_present", None),
        getattr(table, "_lock", None),
    )
    if (
        isinstance(cols, dict)
        and isinstance(pres, dict)
        and lock is not None
        and getattr(table, "_sorted", False)
    ):
        with lock:
            col, mask = cols.get(key), pres.get(key)
            if col is None or mask is None:
                return EMPTY
            n = min(len(col), len(mask), len(table.steps))
            values = np.frombuffer(col, dtype=np.float64, count=n).copy()
            present = np.frombuffer(bytes(mask[:n]), dtype=np.uint8).astype(bool)
            steps = np.frombuffer(table.steps, dtype=np.int64, count=n).copy()
        return Points(steps[present], values[present])
    steps_l, values_l = table.column(key)
    return Points(np.asarray(steps_l, dtype=np.int64), np.asarray(values_l, dtype=np.float64))


def nonfinite_keys(table: Any, start: int) -> list[str] | None:
    """Keys with a NaN/Inf value in rows ``start...`` (one cheap pass over the table's own columns), or
    None when the table does not have the usual layout (then every key must be read)."""
    cols, pres, lock = (
        getattr(table, "_cols", None),
        getattr(table, "_present", None),
        getattr(table, "_lock", None),
    )
    if not (isinstance(cols, dict) and isinstance(pres, dict) and lock is not None):
        return None
    out = []
    with lock:
        for key, col in cols.items():
            mask = pres.get(key)
            if mask is None or min(len(col), len(mask)) <= start:
                continue
            n = min(len(col), len(mask))
            # a view, no copy: released below, while the lock still keeps the table from growing
            view = np.frombuffer(col, dtype=np.float64, count=n)[start:]
            if not np.isfinite(view).all():
                bad = ~np.isfinite(view)
                if np.frombuffer(bytes(mask[start:n]), dtype=np.uint8)[bad].any():
                    out.append(key)
            del view
    return out


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
    """Median of each row ignoring NaN (NaN for a row with no finite value)."""
    if not rows.size:
        return np.full(len(rows), np.nan)
    finite = np.isfinite(rows)
    if finite.all():
        srt = np.sort(rows, axis=1)
        k = srt.shape[1]
        return (srt[:, (k - 1) // 2] + srt[:, k // 2]) / 2
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


def majority(x: np.ndarray, k: int, idx: np.ndarray, test: Any) -> np.ndarray:
    """True where more than half of the last ``k`` points pass ``test``: a cheap necessary condition
    for the rolling median of ``k`` points to pass it (points that can matter, before any median)."""
    return rolling_count(x, k, idx, test) >= (k + 1) // 2


def rolling_max(x: np.ndarray, k: int, idx: np.ndarray) -> np.ndarray:
    """Max of the last ``k`` points (itself included) at each index, NaN ignored (-inf when none)."""
    clean = np.where(np.isnan(x), -np.inf, x)
    out = np.full(len(idx), -np.inf)
    for back in range(k):
        at = idx - back
        ok = at >= 0
        out[ok] = np.maximum(out[ok], clean[at[ok]])
    return out
