"""Small text formatters shared by the screens (no Textual imports)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.runs.model import RunSummary

BLOCKS = "▁▂▃▄▅▆▇█"


def ago(then: float | None, now: float) -> str:
    """``12s ago``, ``3m ago``, ``5h ago``, ``2d ago``; ``-`` when unknown."""
    if then is None:
        return "-"
    secs = max(0, int(now - then))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit} ago"
    return f"{secs}s ago"


def number(value: object, short: bool = False) -> str:
    """A metric value for a table cell: non-finite as NaN/inf, strings as strings.

    ``short``: at most 9 characters for a number (``-4.03e-05``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.2e}" if short else f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


def spark(values: list[float], width: int = 16) -> str:
    """Unicode block sparkline of the last ``width`` finite-or-not values (gaps for non-finite)."""
    tail = values[-width:]
    finite = [v for v in tail if isinstance(v, int | float) and math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    span = high - low
    out = []
    for v in tail:
        if not (isinstance(v, int | float) and math.isfinite(v)):
            out.append(" ")
        elif span == 0:
            out.append(BLOCKS[3])
        else:
            out.append(BLOCKS[min(7, int((v - low) / span * 7.999))])
    return "".join(out)


def progress(frac: float | None) -> str:
    """``45%`` or ``-``."""
    if frac is None or not math.isfinite(frac):
        return "-"
    return f"{max(0.0, min(1.0, frac)) * 100:.0f}%"


def short_key(key: str | None, parts: int = 2) -> str:
    """The last ``parts`` components of a metric key: ``env/all/reward/total`` -> ``reward/total``."""
    if not key:
        return "-"
    return "/".join(key.split("/")[-parts:])


def status_text(summary: RunSummary) -> str:
    """The status, with the exit code of a failed run (``failed 137``)."""
    if summary.status == "failed" and summary.exit_code is not None:
        return f"failed {summary.exit_code}"
    return summary.status
