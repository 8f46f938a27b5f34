"""Curve smoothing for charts: debiased EMA (as TensorBoard and W&B do) and a rolling mean.

Both accept any sequence of numbers (list, ``array('d')``, tuple) and return a list of floats of the
same length. Non-finite points (NaN, inf) do not feed the average; their output is NaN, so a chart
shows a gap where the data has one.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence


def ema(values: Sequence[float], beta: float) -> list[float]:
    """Debiased exponential moving average with weight ``beta`` in [0, 1).

    ``acc = beta * acc + (1 - beta) * x``; the output is ``acc / (1 - beta**t)`` where ``t`` counts
    the finite points seen so far, so the start is not pulled toward 0. ``beta == 0`` is identity.
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    out: list[float] = []
    acc, t = 0.0, 0
    for x in values:
        if not math.isfinite(x):
            out.append(math.nan)
            continue
        t += 1
        acc = beta * acc + (1.0 - beta) * x
        out.append(acc / (1.0 - beta**t))
    return out


def rolling_mean(values: Sequence[float], window: int) -> list[float]:
    """Mean of the finite values among the last ``window`` points (NaN where there are none)."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    out: list[float] = []
    buf: deque[float] = deque()
    total, count = 0.0, 0
    for x in values:
        finite = math.isfinite(x)
        buf.append(x if finite else math.nan)
        if finite:
            total += x
            count += 1
        if len(buf) > window:
            old = buf.popleft()
            if old == old:
                total -= old
                count -= 1
        out.append(total / count if count and finite else math.nan)
    return out
