"""Run status from the files alone, or from the supervisor's record when there is one.

- ``finished``: the last checkpoint record is ``name == "final"``, or the console tail has
  ``Training completed successfully`` / ``DPO training completed successfully`` after the last
  ``Command line invocation`` (a resumed run starts over);
- ``failed``: a traceback or an error line at the end of the console log, and no final;
- ``running``: some file changed within the stale window; ``stale``: nothing changed for longer than
  ``max(5 min, K x median step time)``; ``unknown``: nothing to go on.

Hook: if the module ``runner.control.records`` exists and has ``status_for(run_path) -> dict |
None``, its answer (``{"status": ..., "exit_code": ...}``) wins. It is imported lazily; its absence or
its errors are tolerated.
"""

from __future__ import annotations

import importlib
import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

STALE_MIN_S = 300.0
STALE_STEP_FACTOR = 5.0
ERROR_WINDOW = 15  # last non-blank console lines inspected for an error

_DONE = ("Training completed successfully", "DPO training completed successfully")
_START = "Command line invocation"
_ERROR_RE = re.compile(
    r"Traceback \(most recent call last\)|^[\w.]*(Error|Exception|Interrupt)\b(:|$)|^Killed\b"
)

_hook: Callable[[str], dict | None] | None = None
_hook_loaded = False


def stale_after(step_seconds: float | None) -> float:
    """Seconds without any file change after which a run counts as stale."""
    return max(STALE_MIN_S, STALE_STEP_FACTOR * step_seconds) if step_seconds else STALE_MIN_S


def median_step_seconds(time_totals: Sequence[float], seen_times: Sequence[float]) -> float | None:
    """Median step time: from ``time/total`` when logged, else from when steps were first seen."""
    vals = [v for v in time_totals if v == v and v > 0]
    if vals:
        return float(statistics.median(vals))
    gaps = [b - a for a, b in zip(seen_times, seen_times[1:], strict=False) if b > a]
    return float(statistics.median(gaps)) if gaps else None


def console_verdict(tail: Sequence[str]) -> str | None:
    """``finished`` / ``failed`` / None from the last lines of a console log."""
    start = max((i for i, line in enumerate(tail) if _START in line), default=-1)
    lines = list(tail[start + 1 :])
    if any(marker in line for line in lines for marker in _DONE):
        return "finished"
    recent = [line for line in lines if line.strip()][-ERROR_WINDOW:]
    if any(_ERROR_RE.search(line) for line in recent):
        return "failed"
    return None


def infer_status(
    checkpoints: Sequence[dict[str, Any]],
    console_tail: Sequence[str],
    last_change: float | None,
    step_seconds: float | None = None,
    now: float | None = None,
) -> str:
    """Status from the files (see the module docstring)."""
    if checkpoints and checkpoints[-1].get("name") == "final":
        return "finished"
    verdict = console_verdict(console_tail)
    if verdict:
        return verdict
    if last_change is None:
        return "unknown"
    now = time.time() if now is None else now
    return "running" if now - last_change <= stale_after(step_seconds) else "stale"


def supervisor_status(run_path: str | Path) -> dict | None:
    """The supervisor's record for this run (``runner.control.records.status_for``), if any."""
    global _hook, _hook_loaded
    if not _hook_loaded:
        _hook_loaded = True
        try:
            module = importlib.import_module("runner.control.records")
            fn = getattr(module, "status_for", None)
            _hook = fn if callable(fn) else None
        except Exception:  # absent or broken: the files decide
            _hook = None
    if _hook is None:
        return None
    try:
        record = _hook(str(run_path))
    except Exception:
        return None
    return record if isinstance(record, dict) and record.get("status") else None


def exit_code_of(record: dict | None) -> int | None:
    """The job's exit code in a supervisor record, if it has ended."""
    code = record.get("exit_code") if record else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None
