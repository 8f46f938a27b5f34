"""Small text formatters shared by the screens (no Textual imports)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.runs.summary import RunSummary

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


FLAT_REL = 1e-3  # a range below this fraction of the values' magnitude is noise: drawn flat
FLAT_ABS = 1e-12  # and below this, whatever the magnitude (all zeros, float dust)
FLAT_MARK = "─"


def is_flat(low: float, high: float) -> bool:
    """True when ``[low, high]`` is too narrow to mean anything next to the values themselves: scaling
    it to the full height would make noise (or a series pinned at 0) look dramatic."""
    return high - low <= max(FLAT_ABS, FLAT_REL * max(abs(low), abs(high)))


def spark(values: list[float], width: int = 16) -> str:
    """Unicode block sparkline of the last ``width`` finite-or-not values (gaps for non-finite).

    A flat series (see :func:`is_flat`) is a straight rule, ``────``, never full-height bars."""
    tail = values[-width:]
    finite = [v for v in tail if isinstance(v, int | float) and math.isfinite(v)]
    if not finite:
        return ""
    low, high = min(finite), max(finite)
    flat = is_flat(low, high)
    span = high - low
    out = []
    for v in tail:
        if not (isinstance(v, int | float) and math.isfinite(v)):
            out.append(" ")
        elif flat:
            out.append(FLAT_MARK)
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


def middle_cut(text: str, width: int) -> str:
    """Fit ``text`` in ``width`` cells by cutting its middle: ``abc…xyz`` (both ends tell runs apart)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    tail = (width - 1) // 2
    return text[: width - 1 - tail] + "…" + (text[-tail:] if tail else "")


def word_cut(text: str, width: int) -> str:
    """Fit ``text`` in ``width`` cells at a word's end when that keeps two thirds of them (``no signal (hard)``
    in 11: ``no signal``), else cut inside the word with ``…`` (``NaN nan_metric``: ``NaN nan_me…``)."""
    if len(text) <= width:
        return text
    end = text.rfind(" ", 0, width + 1)
    if end > 0 and 3 * end >= 2 * width:
        return text[:end].rstrip()
    return text[: max(width - 1, 0)] + "…"[: max(width, 0)]


def display_names(paths: list[str]) -> dict[str, str]:
    """A label per run path: its folder name, with as many parent folders as it takes to tell apart
    runs whose folder names are the same (``a/seed1`` and ``b/seed1``)."""
    parts = {p: [x for x in p.replace("\\", "/").split("/") if x] or [p] for p in paths}
    depth = dict.fromkeys(paths, 1)
    while True:
        labels = {p: "/".join(parts[p][-depth[p] :]) for p in paths}
        seen: dict[str, list[str]] = {}
        for p, label in labels.items():
            seen.setdefault(label, []).append(p)
        clashes = [p for group in seen.values() if len(group) > 1 for p in group if depth[p] < len(parts[p])]
        if not clashes:
            return labels
        for p in clashes:
            depth[p] += 1


# --- the runs list filter ------------------------------------------------------------------------
def flatten_config(config: object, prefix: str = "") -> dict[str, str]:
    """``{"dotted.key": "value text"}`` of every leaf of a config (lists by index: ``evals.0.name``)."""
    if isinstance(config, dict):
        items = [(str(k), v) for k, v in config.items()]
    elif isinstance(config, list):
        items = [(str(i), v) for i, v in enumerate(config)]
    else:
        return {prefix: _leaf(config)} if prefix else {}
    out: dict[str, str] = {}
    for key, value in items:
        out.update(flatten_config(value, f"{prefix}.{key}" if prefix else key))
    return out


def _leaf(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def run_matches(summary: RunSummary, config: dict[str, str] | None, text: str) -> bool:
    """Every word of ``text`` matches the run (case-insensitive). A word is either ``key=value``: a
    config entry whose dotted key or last key part is ``key`` and whose value equals ``value`` as text
    or as a number (``learning_rate=1e-4`` finds 0.0001), or ``kind=``/``status=``/``name=`` the
    run's own; or text found in the run's path, kind, status or a config value."""
    config = config or {}
    words = text.lower().split()
    hay = None
    for word in words:
        key, eq, value = word.partition("=")
        if eq and key:
            column = {"kind": summary.kind, "status": summary.status, "name": summary.name}.get(key)
            if not (column is not None and column.lower() == value or _config_has(config, key, value)):
                return False
            continue
        if hay is None:
            hay = "\n".join([summary.path, summary.kind, summary.status, *config.values()]).lower()
        if word not in hay:
            return False
    return True


def _config_has(config: dict[str, str], key: str, value: str) -> bool:
    for dotted, have in config.items():
        name = dotted.lower()
        if (name == key or name.rsplit(".", 1)[-1] == key) and _same_value(have, value):
            return True
    return False


def _same_value(have: str, want: str) -> bool:
    if have.lower() == want:
        return True
    a, b = _as_number(have), _as_number(want)
    return a is not None and b is not None and (a == b or math.isclose(a, b, rel_tol=1e-9))


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
